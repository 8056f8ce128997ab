package deb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/iocount"
	"pault.ag/go/debian/version"
)

// Package is one binary package version of the index.
type Package struct {
	Name         string
	Version      string
	Architecture string // the target arch or "all"
	MultiArch    string // "", "same", "foreign", "allowed"
	Priority     string
	Section      string
	Essential    bool
	Source       string

	// Relation fields as in the index, lines folded.
	Depends, PreDepends, Provides, Conflicts, Breaks string

	// Filename is the .deb's path below the mirror (pool/...), or its
	// path in a local directory.
	Filename      string
	SHA256        string // hex
	Size          int64
	InstalledSize int64 // KiB

	// Requested is where the package was asked for by name ("apt.txt:3");
	// empty for a package pulled in as a dependency. Set by Resolve.
	Requested string
	// Reason is the chain that brought the package in
	// ("apt.txt:3: python3 -> python3.11 -> libssl3"). Set by Resolve.
	Reason string

	ver    version.Version
	origin *origin
	target string // the index's architecture
	where  string // the request that brought the package in (set by Resolve)
	chain  string // the dependency path from that request (set by Resolve)
}

// origin is where a package's .deb comes from.
type origin struct {
	mirror, suite, component string
	localDir                 string
	// notAuto marks a NotAutomatic suite (backports): apt gives its
	// packages priority 100, so they are chosen only when nothing else fits.
	notAuto bool
}

func (p *Package) notAutomatic() bool { return p.origin != nil && p.origin.notAuto }

// ID is "name_version_arch", as in a .deb's file name.
func (p *Package) ID() string { return p.Name + "_" + p.Version + "_" + p.Architecture }

// String is "name (version, arch)".
func (p *Package) String() string {
	return fmt.Sprintf("%s (%s, %s)", p.Name, p.Version, p.Architecture)
}

// url is where the .deb is fetched from ("" for a local package).
func (p *Package) url() string {
	if p.origin == nil || p.origin.localDir != "" {
		return ""
	}
	return p.origin.mirror + "/" + p.Filename
}

// localPath is the .deb of a package from a local directory.
func (p *Package) localPath() string {
	if p.origin == nil || p.origin.localDir == "" {
		return ""
	}
	return filepath.Join(p.origin.localDir, filepath.FromSlash(p.Filename))
}

// dpkgName is the name dpkg uses for the package's info files: with ":arch"
// for Multi-Arch: same packages.
func (p *Package) dpkgName() string {
	if p.MultiArch == "same" {
		return p.Name + ":" + p.Architecture
	}
	return p.Name
}

// provider is a package providing a virtual name, maybe at a version.
type provider struct {
	pkg     *Package
	version string // "" for an unversioned Provides
}

// Index is the package universe of one architecture. Client.Index only
// verifies the sources and records what they hold; the Packages indexes are
// parsed on first need, which a resolution found in the cache never has.
type Index struct {
	Arch    string
	sources []string

	c     *Client
	key   string      // digest of every input of the universe; "" when not cacheable
	parts []indexPart // what the universe is built from, in source order

	once     sync.Once
	loadErr  error
	pkgs     map[string][]*Package // by name, in apt's candidate order
	provides map[string][]provider

	sumMu   sync.Mutex
	summary *indexSummary
}

// indexPart is one Packages index to parse, or the packages of a local
// directory (scanned by Client.Index, since their digests are the key).
type indexPart struct {
	file  *packagesFile
	local []*Package
}

// Describe names the index's sources, for messages.
func (ix *Index) Describe() string { return strings.Join(ix.sources, " + ") }

// Len is the number of package versions in the index.
func (ix *Index) Len() int {
	ix.load()
	n := 0
	for _, v := range ix.pkgs {
		n += len(v)
	}
	return n
}

// Versions returns the versions of a package in the index, the candidate
// apt would choose first (highest version; NotAutomatic suites last).
func (ix *Index) Versions(name string) []*Package {
	ix.load()
	return ix.pkgs[name]
}

// load parses the index's sources once; later calls return the first
// call's error.
func (ix *Index) load() error {
	ix.once.Do(func() {
		ix.loadErr = ix.parse()
		if ix.loadErr != nil {
			ix.pkgs, ix.provides = map[string][]*Package{}, map[string][]provider{}
		}
	})
	return ix.loadErr
}

func (ix *Index) parse() error {
	// Sized ahead (a Debian paragraph is about 800 bytes): growing maps
	// of 60,000 names costs.
	hint := 0
	for _, part := range ix.parts {
		if part.file != nil {
			plain, _, _, _ := part.file.indexFiles()
			hint += int(min(plain.size/800, 1<<20))
		} else {
			hint += len(part.local)
		}
	}
	ix.pkgs = make(map[string][]*Package, hint)
	// The first source wins for a name/version/arch, as with apt. The
	// versions already added of a name are few: looking through them costs
	// less than a second map of every package.
	add := func(p *Package) {
		vs := ix.pkgs[p.Name]
		for _, q := range vs {
			if q.Version == p.Version && q.Architecture == p.Architecture {
				return
			}
		}
		ix.pkgs[p.Name] = append(vs, p)
	}
	var errs []error
	for _, part := range ix.parts {
		if part.file == nil {
			for _, p := range part.local {
				add(p)
			}
			continue
		}
		if err := ix.c.parsePackages(part.file, ix.Arch, add); err != nil {
			errs = append(errs, err)
		}
	}
	if err := joinMissing(errs); err != nil {
		return err
	}
	ix.storeSummary(ix.finish())
	return nil
}

// finish sorts versions, builds the Provides table and returns the
// index's summary. The names are visited in the map's order (sorting
// 60,000 of them cost more than the rest): a name's packages are visited
// together, in candidate order, so sorting each Provides list by package
// name, keeping that order within a name, gives the lists a visit in name
// order would.
func (ix *Index) finish() *indexSummary {
	s := &indexSummary{Format: resolveFormat, Key: ix.key}
	ix.provides = make(map[string][]provider, len(ix.pkgs)/8)
	for n, vs := range ix.pkgs {
		// Candidates in apt's order: NotAutomatic suites last, then
		// highest version first.
		if len(vs) > 1 {
			sort.SliceStable(vs, func(i, j int) bool {
				if ni, nj := vs[i].notAutomatic(), vs[j].notAutomatic(); ni != nj {
					return nj
				}
				return version.Compare(vs[i].ver, vs[j].ver) > 0
			})
		}
		if vs[0].Priority == "required" {
			s.Required = append(s.Required, n)
		}
		if vs[0].Essential {
			s.Essential = append(s.Essential, n)
		}
		for _, p := range vs {
			addProvides(ix.provides, p)
		}
	}
	for _, ps := range ix.provides {
		if len(ps) > 1 {
			sort.SliceStable(ps, func(i, j int) bool { return ps[i].pkg.Name < ps[j].pkg.Name })
		}
	}
	sort.Strings(s.Required)
	sort.Strings(s.Essential)
	for _, n := range baseExtras {
		if vs := ix.pkgs[n]; len(vs) > 0 && vs[0].Priority != "required" {
			s.Extras = append(s.Extras, n)
		}
	}
	return s
}

// addProvides adds p to the providers of each name its Provides lists,
// with the version an "=" gives; a Provides that does not parse provides
// nothing.
func addProvides(provides map[string][]provider, p *Package) {
	if p.Provides == "" {
		return
	}
	rel, err := parseRelations(p.Provides)
	if err != nil {
		return
	}
	for _, alts := range rel {
		for _, a := range alts {
			pv := provider{pkg: p}
			if a.op == "=" {
				pv.version = a.version
			}
			provides[a.name] = append(provides[a.name], pv)
		}
	}
}

// checkPoolPath refuses a Filename that would leave the mirror.
func checkPoolPath(f string) error {
	if f == "" {
		return fmt.Errorf("missing Filename")
	}
	if strings.HasPrefix(f, "/") || strings.Contains(f, "\\") || path.Clean(f) != f || strings.HasPrefix(f, "../") || f == ".." {
		return fmt.Errorf("unsafe Filename %q", f)
	}
	return nil
}

// packageFromParagraph builds a Package from an index or control paragraph,
// or returns nil when it is for another architecture.
func packageFromParagraph(p *paragraph, arch string) (*Package, error) {
	name := p.get("Package")
	if name == "" {
		return nil, fmt.Errorf("paragraph without Package field")
	}
	if !validName(name) {
		return nil, fmt.Errorf("bad package name %q", name)
	}
	a := p.get("Architecture")
	if a != arch && a != "all" {
		return nil, nil
	}
	vs := p.get("Version")
	v, err := version.Parse(vs)
	if err != nil {
		return nil, fmt.Errorf("package %s: bad version %q: %v", name, vs, err)
	}
	pkg := &Package{
		Name:         name,
		Version:      vs,
		Architecture: a,
		MultiArch:    p.get("Multi-Arch"),
		Priority:     p.get("Priority"),
		Section:      p.get("Section"),
		Essential:    strings.EqualFold(p.get("Essential"), "yes"),
		Source:       p.get("Source"),
		Depends:      p.folded("Depends"),
		PreDepends:   p.folded("Pre-Depends"),
		Provides:     p.folded("Provides"),
		Conflicts:    p.folded("Conflicts"),
		Breaks:       p.folded("Breaks"),
		Filename:     p.get("Filename"),
		SHA256:       strings.ToLower(p.get("SHA256")),
		ver:          v,
		target:       arch,
	}
	if s := p.get("Size"); s != "" {
		pkg.Size, _ = strconv.ParseInt(s, 10, 64)
	}
	if s := p.get("Installed-Size"); s != "" {
		pkg.InstalledSize, _ = strconv.ParseInt(s, 10, 64)
	}
	return pkg, nil
}

// validName is Debian policy's package name syntax.
func validName(n string) bool {
	if len(n) < 2 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '+' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// scanLocal reads a directory of .deb files (recursively, in name order):
// its absolute path and the packages of the architecture. Offline, a
// directory that is not there is read from the listing a bundle carried
// (see localDebs).
func (c *Client) scanLocal(ctx context.Context, src Source, arch string) (string, []*Package, error) {
	dir, err := filepath.Abs(src.LocalDir)
	if err != nil {
		return "", nil, fmt.Errorf("local package directory %s: %w", src.LocalDir, err)
	}
	o := &origin{localDir: dir}
	debs, err := c.localDebs(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	var pkgs []*Package
	for _, d := range debs {
		pkg, err := packageFromParagraph(&paragraph{Fields: d.Control}, arch)
		if err != nil {
			return "", nil, fmt.Errorf("%s: control file: %w", filepath.Join(dir, filepath.FromSlash(d.File)), err)
		}
		if pkg == nil {
			continue
		}
		pkg.Filename = d.File
		pkg.SHA256 = d.SHA256
		pkg.Size = d.Size
		pkg.origin = o
		pkgs = append(pkgs, pkg)
	}
	return dir, pkgs, nil
}

// readDebControl reads a .deb's control paragraph and hashes the whole file.
func readDebControl(path string) (*paragraph, string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	cr := &iocount.Writer{W: h}
	tee := io.TeeReader(f, cr)
	dc, err := readControlOnly(tee, path)
	if err != nil {
		return nil, "", 0, err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return dc, hex.EncodeToString(h.Sum(nil)), cr.N, nil
}

// IndexFile is one verified file an Index was read from, by digest: a
// suite's Release (the signed text of InRelease, or Release checked against
// Release.gpg) and each Packages index it lists.
type IndexFile struct {
	URI    string
	SHA256 string // hex
}

// Files lists the verified files the index was read from, in source
// order, for a build's provenance. A local directory has none: its .deb
// files are named by their own digests.
func (ix *Index) Files() []IndexFile {
	var out []IndexFile
	seen := map[string]bool{}
	for _, part := range ix.parts {
		pf := part.file
		if pf == nil {
			continue
		}
		if rel := pf.rel.url + "Release"; !seen[rel] {
			seen[rel] = true
			out = append(out, IndexFile{URI: rel, SHA256: pf.rel.digest})
		}
		plain, ok, comprName, compr := pf.indexFiles()
		switch {
		case ok:
			out = append(out, IndexFile{URI: pf.name(), SHA256: plain.hex})
		case comprName != "":
			out = append(out, IndexFile{URI: pf.rel.url + comprName, SHA256: compr.hex})
		}
	}
	return out
}
