package conda

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// An explicit lock is conda's `conda list --explicit` format, which
// conda-lock also writes (conda-linux-64.lock): an "@EXPLICIT" line, then
// one package URL per line in install order, each with its hash after '#'
// (an md5, or a sha256 written bare or as "sha256:<hex>").

// FormatExplicit writes sol as an explicit lock for subdir ("linux-64").
func FormatExplicit(sol Solution, subdir string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# This file may be used to create an environment using:\n# $ conda create --name <env> --file <this file>\n# platform: %s\n", subdir)
	for _, s := range sol.Requested {
		fmt.Fprintf(&b, "# requested: %s\n", s)
	}
	b.WriteString("@EXPLICIT\n")
	for _, r := range sol.Records {
		h := r.SHA256
		if h == "" {
			h = r.MD5
		}
		if h != "" {
			fmt.Fprintf(&b, "%s#%s\n", r.URL, h)
		} else {
			fmt.Fprintf(&b, "%s\n", r.URL)
		}
	}
	return b.Bytes()
}

var (
	md5RE    = lazyregexp.New(`^[0-9a-f]{32}$`)
	sha256RE = lazyregexp.New(`^[0-9a-f]{64}$`)
)

// IsExplicit reports whether b is an explicit lock (has an "@EXPLICIT" line).
func IsExplicit(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "@EXPLICIT" {
			return true
		}
	}
	return false
}

// ParseExplicit reads an explicit lock into a Solution, in its order. name
// is the file, for messages. Each record's name, version and build come
// from the file name, its channel and subdir from the URL; what repodata
// would add (depends) is left empty, as conda leaves it installing such a
// file. A line without a hash is refused: the installer must verify
// every package.
func ParseExplicit(name string, b []byte) (Solution, []string, error) {
	var sol Solution
	var platform []string
	explicit := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "# platform:"):
			platform = append(platform, strings.TrimSpace(strings.TrimPrefix(line, "# platform:")))
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case line == "@EXPLICIT":
			explicit = true
			continue
		case !explicit:
			return Solution{}, nil, fmt.Errorf("%s:%d: %q before the @EXPLICIT line: not an explicit lock (conda-lock's explicit format or `conda list --explicit --sha256`)", name, n, line)
		}
		r, err := explicitRecord(line)
		if err != nil {
			return Solution{}, nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		sol.Records = append(sol.Records, r)
	}
	if err := sc.Err(); err != nil {
		return Solution{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	if !explicit {
		return Solution{}, nil, fmt.Errorf("%s: no @EXPLICIT line: not an explicit lock", name)
	}
	return sol, platform, nil
}

func explicitRecord(line string) (Record, error) {
	raw, hash, _ := strings.Cut(line, "#")
	raw, hash = strings.TrimSpace(raw), strings.ToLower(strings.TrimSpace(hash))
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Record{}, fmt.Errorf("%q is not a package URL", raw)
	}
	fn := path.Base(u.Path)
	name, ok := nameOfFile(fn)
	if !ok {
		return Record{}, fmt.Errorf("%q: not a .conda or .tar.bz2 package", fn)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(fn, ".conda"), ".tar.bz2")
	vb := strings.TrimPrefix(base[len(name):], "-")
	version, build, _ := strings.Cut(vb, "-")
	r := Record{Name: name, Version: version, Build: build, Filename: fn, URL: raw}
	if i := strings.LastIndex(build, "_"); i >= 0 {
		r.BuildNumber, _ = strconv.Atoi(build[i+1:]) // conda's convention: the build ends in _<build number>
	}
	dir := path.Dir(u.Path)
	r.Subdir = path.Base(dir)
	cu := *u
	cu.Path = path.Dir(dir)
	r.Channel = cu.String()
	hash = strings.TrimPrefix(hash, "sha256:")
	switch {
	case sha256RE.MatchString(hash):
		r.SHA256 = hash
	case md5RE.MatchString(hash):
		r.MD5 = hash
	case hash == "":
		return Record{}, fmt.Errorf("%s has no hash (#<sha256> or #<md5>): every package is verified", fn)
	default:
		return Record{}, fmt.Errorf("%s: %q is neither an md5 nor a sha256", fn, hash)
	}
	return r, nil
}

// Complete fills in what an explicit lock does not say (sha256, depends,
// constrains, size, ...) from the channels' repodata: conda-lock writes
// md5 hashes, and every package is checked by its sha256. A record the
// index lacks, or whose md5 differs from the index's, is refused.
func (ix *Index) Complete(sol Solution) (Solution, error) {
	out := Solution{Requested: sol.Requested}
	for _, r := range sol.Records {
		full, err := ix.lookup(r)
		if err != nil {
			return Solution{}, err
		}
		out.Records = append(out.Records, full)
	}
	return out, nil
}

func (ix *Index) lookup(r Record) (Record, error) {
	for _, rd := range ix.subdirs {
		if rd.Channel.URL != r.Channel || rd.Subdir != r.Subdir {
			continue
		}
		recs, err := rd.Records(r.Name)
		if err != nil {
			return Record{}, err
		}
		for _, c := range recs {
			if c.Filename != r.Filename {
				continue
			}
			if r.MD5 != "" && c.MD5 != "" && !strings.EqualFold(r.MD5, c.MD5) {
				return Record{}, fmt.Errorf("%s: the lock's md5 %s is not the channel's %s (the lock is stale, or the channel changed the package)", r.Filename, r.MD5, c.MD5)
			}
			if r.SHA256 != "" && !strings.EqualFold(r.SHA256, c.SHA256) {
				return Record{}, fmt.Errorf("%s: the lock's sha256 %s is not the channel's %s", r.Filename, r.SHA256, c.SHA256)
			}
			c.URL = r.URL
			return c, nil
		}
	}
	return Record{}, fmt.Errorf("%s: not in %s/%s/repodata.json, so its sha256 is not known (give the lock sha256 hashes, as `conda list --explicit --sha256` writes them)", r.Filename, r.Channel, r.Subdir)
}

// LockChannels are the channels and subdirs an explicit lock's packages
// come from, to read their repodata for Complete.
func LockChannels(sol Solution) (chans []Channel, subdirs []string) {
	seen := map[string]bool{}
	sds := map[string]bool{}
	for _, r := range sol.Records {
		if !seen[r.Channel] {
			seen[r.Channel] = true
			chans = append(chans, Channel{Name: r.Channel, URL: r.Channel})
		}
		if r.Subdir != "noarch" && !sds[r.Subdir] {
			sds[r.Subdir] = true
			subdirs = append(subdirs, r.Subdir)
		}
	}
	return chans, subdirs
}
