// Package condatest builds local conda channels for tests: packages made
// with Debian's conda-package-handling (cph) from directories the test
// describes, and the repodata.json of each subdir. Only tests import it.
package condatest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/klauspost/compress/zstd"
)

// Placeholder is a prefix placeholder as conda-build writes it today: 255
// bytes, so any real prefix fits in a binary file.
var Placeholder = "/opt/conda-build/placehold" + strings.Repeat("_placehold", 22) + strings.Repeat("x", 9)

// ShortPlaceholder is the placeholder of packages older than conda-build 3
// (and of a has_prefix line with only a path).
const ShortPlaceholder = "/opt/anaconda1anaconda2anaconda3"

// File is one path of a package.
type File struct {
	Data string
	Mode fs.FileMode // default 0644
	// Link makes the path a symlink to Link.
	Link string
	// PrefixMode says Data holds the package's placeholder: "text" or "binary".
	PrefixMode string
	// NoLink marks the file no_link in info/paths.json.
	NoLink bool
	// Dir makes the path an empty directory (path_type directory).
	Dir bool
}

// Package is a conda package to build.
type Package struct {
	Name, Version, Build string
	BuildNumber          int
	// Subdir is "linux-64" by default, "noarch" when Noarch is set.
	Subdir        string
	Depends       []string
	Constrains    []string
	TrackFeatures string
	Noarch        string // "python" or "generic"
	License       string
	Timestamp     int64
	Files         map[string]File
	// Placeholder is the prefix placeholder in Data (default Placeholder).
	Placeholder string
	// EntryPoints are info/link.json's "name = module:function" (noarch: python).
	EntryPoints []string
	// TarBz2 builds the old .tar.bz2 format instead of .conda.
	TarBz2 bool
	// Legacy writes info/files and info/has_prefix instead of info/paths.json.
	Legacy bool
}

// Filename is the package's file name.
func (p Package) Filename() string {
	ext := ".conda"
	if p.TarBz2 {
		ext = ".tar.bz2"
	}
	return p.Name + "-" + p.Version + "-" + p.build() + ext
}

func (p Package) build() string {
	if p.Build == "" {
		return "0"
	}
	return p.Build
}

func (p Package) subdir() string {
	switch {
	case p.Subdir != "":
		return p.Subdir
	case p.Noarch != "":
		return "noarch"
	}
	return "linux-64"
}

func (p Package) placeholder() string {
	if p.Placeholder == "" {
		return Placeholder
	}
	return p.Placeholder
}

// Channel is a local channel directory, served as a file:// URL.
type Channel struct {
	Dir string
	URL string

	mu      sync.Mutex
	records map[string][]conda.Record // subdir -> records
}

// NewChannel makes an empty channel in dir (linux-64 and noarch exist,
// as conda expects of every channel).
func NewChannel(t testing.TB, dir string) *Channel {
	t.Helper()
	for _, s := range []string{"linux-64", "noarch"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &Channel{Dir: dir, URL: (&url.URL{Scheme: "file", Path: dir}).String(), records: map[string][]conda.Record{}}
}

// Add builds p with cph, puts it in the channel and returns its record.
// Call Write to (re)write repodata.json.
func (c *Channel) Add(t testing.TB, p Package) conda.Record {
	t.Helper()
	return c.AddAll(t, p)[0]
}

// AddAll builds several packages at once (cph is slow to start).
func (c *Channel) AddAll(t testing.TB, pkgs ...Package) []conda.Record {
	t.Helper()
	cph := testtool.RequireTool(t, "cph")
	recs := make([]conda.Record, len(pkgs))
	errs := make([]error, len(pkgs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, p := range pkgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			recs[i], errs[i] = c.build(cph, p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// build writes p's tree in a temporary directory and packs it with cph.
func (c *Channel) build(cph string, p Package) (conda.Record, error) {
	src, err := os.MkdirTemp("", "condatest-src-")
	if err != nil {
		return conda.Record{}, err
	}
	defer os.RemoveAll(src)
	if err := writeTree(src, p); err != nil {
		return conda.Record{}, fmt.Errorf("package %s: %w", p.Filename(), err)
	}
	cmd := exec.Command(cph, "create", filepath.Join(src, "pkg"), p.Filename(), "--out-folder", filepath.Join(c.Dir, p.subdir()))
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		return conda.Record{}, fmt.Errorf("cph create %s: %v\n%s", p.Filename(), err, b)
	}
	return c.register(p)
}

// register records the package file's digests and size.
func (c *Channel) register(p Package) (conda.Record, error) {
	fn := p.Filename()
	b, err := os.ReadFile(filepath.Join(c.Dir, p.subdir(), fn))
	if err != nil {
		return conda.Record{}, err
	}
	s, m := sha256.Sum256(b), md5.Sum(b)
	r := conda.Record{
		Name: p.Name, Version: p.Version, Build: p.build(), BuildNumber: p.BuildNumber,
		Depends: append([]string{}, p.Depends...), Constrains: p.Constrains, TrackFeatures: p.TrackFeatures,
		License: p.License, Noarch: p.Noarch, SHA256: hex.EncodeToString(s[:]), MD5: hex.EncodeToString(m[:]),
		Size: int64(len(b)), Timestamp: p.Timestamp,
		Channel: c.URL, Subdir: p.subdir(), Filename: fn, URL: c.URL + "/" + p.subdir() + "/" + fn,
	}
	c.mu.Lock()
	c.records[r.Subdir] = append(c.records[r.Subdir], r)
	c.mu.Unlock()
	return r, nil
}

// repodataEntry is a record as repodata.json lists it (the file name is
// its key; channel and URL are the reader's business).
type repodataEntry struct {
	Name          string   `json:"name"`
	Version       string   `json:"version"`
	Build         string   `json:"build"`
	BuildNumber   int      `json:"build_number"`
	Depends       []string `json:"depends"`
	Constrains    []string `json:"constrains,omitempty"`
	TrackFeatures string   `json:"track_features,omitempty"`
	License       string   `json:"license,omitempty"`
	Noarch        string   `json:"noarch,omitempty"`
	SHA256        string   `json:"sha256"`
	MD5           string   `json:"md5"`
	Size          int64    `json:"size"`
	Subdir        string   `json:"subdir"`
	Timestamp     int64    `json:"timestamp,omitempty"`
}

// Write writes <subdir>/repodata.json for every subdir of the channel.
func (c *Channel) Write(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range []string{"linux-64", "noarch"} {
		if _, ok := c.records[s]; !ok {
			c.records[s] = nil
		}
	}
	for subdir, recs := range c.records {
		rd := struct {
			Info struct {
				Subdir string `json:"subdir"`
			} `json:"info"`
			Packages      map[string]repodataEntry `json:"packages"`
			PackagesConda map[string]repodataEntry `json:"packages.conda"`
			Removed       []string                 `json:"removed"`
			Version       int                      `json:"repodata_version"`
		}{Packages: map[string]repodataEntry{}, PackagesConda: map[string]repodataEntry{}, Removed: []string{}, Version: 1}
		rd.Info.Subdir = subdir
		for _, r := range recs {
			e := repodataEntry{r.Name, r.Version, r.Build, r.BuildNumber, r.Depends, r.Constrains, r.TrackFeatures,
				r.License, r.Noarch, r.SHA256, r.MD5, r.Size, r.Subdir, r.Timestamp}
			if strings.HasSuffix(r.Filename, ".conda") {
				rd.PackagesConda[r.Filename] = e
			} else {
				rd.Packages[r.Filename] = e
			}
		}
		b, err := json.MarshalIndent(rd, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Dir, subdir, "repodata.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTree writes the package's files and info/ into dir/pkg.
func writeTree(dir string, p Package) error {
	dir = filepath.Join(dir, "pkg")
	names := make([]string, 0, len(p.Files))
	for n := range p.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeFile(dir, n, p.Files[n]); err != nil {
			return err
		}
	}
	info := map[string][]byte{"index.json": indexJSON(p)}
	if p.Legacy {
		info["files"], info["has_prefix"] = legacyInfo(p, names)
	} else {
		info["paths.json"] = pathsJSON(p, names)
	}
	if len(p.EntryPoints) > 0 {
		lj := map[string]any{"noarch": map[string]any{"type": "python", "entry_points": p.EntryPoints}, "package_metadata_version": 1}
		info["link.json"] = mustJSON(lj)
	}
	if err := os.MkdirAll(filepath.Join(dir, "info"), 0o755); err != nil {
		return err
	}
	for n, b := range info {
		if err := os.WriteFile(filepath.Join(dir, "info", n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(dir, name string, f File) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	switch {
	case f.Dir:
		return os.MkdirAll(p, 0o755)
	case f.Link != "":
		return os.Symlink(f.Link, p)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	if err := os.WriteFile(p, []byte(f.Data), mode); err != nil {
		return err
	}
	return os.Chmod(p, mode) // past the umask
}

func indexJSON(p Package) []byte {
	ix := map[string]any{
		"name": p.Name, "version": p.Version, "build": p.build(), "build_number": p.BuildNumber,
		"depends": append([]string{}, p.Depends...), "subdir": p.subdir(),
	}
	if p.Noarch != "" {
		ix["noarch"] = p.Noarch
	}
	if p.License != "" {
		ix["license"] = p.License
	}
	if len(p.Constrains) > 0 {
		ix["constrains"] = p.Constrains
	}
	return mustJSON(ix)
}

func pathsJSON(p Package, names []string) []byte {
	var paths []map[string]any
	for _, n := range names {
		f := p.Files[n]
		e := map[string]any{"_path": n}
		switch {
		case f.Dir:
			e["path_type"] = "directory"
		case f.Link != "":
			e["path_type"] = "softlink"
		default:
			s := sha256.Sum256([]byte(f.Data))
			e["path_type"], e["sha256"], e["size_in_bytes"] = "hardlink", hex.EncodeToString(s[:]), len(f.Data)
		}
		if f.PrefixMode != "" {
			e["file_mode"], e["prefix_placeholder"] = f.PrefixMode, p.placeholder()
		}
		if f.NoLink {
			e["no_link"] = true
		}
		paths = append(paths, e)
	}
	return mustJSON(map[string]any{"paths": paths, "paths_version": 1})
}

// legacyInfo is info/files and info/has_prefix of a package older than
// info/paths.json.
func legacyInfo(p Package, names []string) (files, hasPrefix []byte) {
	var fb, hb strings.Builder
	for _, n := range names {
		f := p.Files[n]
		if f.Dir {
			continue
		}
		fb.WriteString(n + "\n")
		switch {
		case f.PrefixMode == "":
		case f.PrefixMode == "text" && p.placeholder() == ShortPlaceholder:
			hb.WriteString(n + "\n")
		default:
			fmt.Fprintf(&hb, "%s %s %s\n", p.placeholder(), f.PrefixMode, n)
		}
	}
	return []byte(fb.String()), []byte(hb.String())
}

// mustJSON marshals what the package's own code built (never fails).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Member is one entry of a package written by Raw, as it is: tests of
// refusals need names and links cph would never write.
type Member struct {
	Name string
	Data string
	Link string // a symlink's target
	// Hardlink makes the member a hard link to an earlier member.
	Hardlink string
	Mode     int64
}

// Raw puts a .conda package with exactly these content members (and an
// info/paths.json listing them, as hardlinks or softlinks) in the
// channel, without cph, and returns its record.
func (c *Channel) Raw(t testing.TB, p Package, members []Member) conda.Record {
	t.Helper()
	p.TarBz2 = false
	var paths []map[string]any
	for _, m := range members {
		e := map[string]any{"_path": m.Name, "path_type": "hardlink"}
		if m.Link != "" {
			e["path_type"] = "softlink"
		}
		paths = append(paths, e)
	}
	info := []Member{
		{Name: "info/index.json", Data: string(indexJSON(p))},
		{Name: "info/paths.json", Data: string(mustJSON(map[string]any{"paths": paths, "paths_version": 1}))},
	}
	stem := strings.TrimSuffix(p.Filename(), ".conda")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	addStored(t, zw, "metadata.json", []byte(`{"conda_pkg_format_version": 2}`))
	addStored(t, zw, "info-"+stem+".tar.zst", zstdTar(t, info))
	addStored(t, zw, "pkg-"+stem+".tar.zst", zstdTar(t, members))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, p.subdir(), p.Filename()), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := c.register(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func addStored(t testing.TB, zw *zip.Writer, name string, b []byte) {
	t.Helper()
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}

func zstdTar(t testing.TB, members []Member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for _, m := range members {
		h := &tar.Header{Name: m.Name, Mode: m.Mode, Size: int64(len(m.Data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		switch {
		case m.Link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.Link, 0
		case m.Hardlink != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, m.Hardlink, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(m.Data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Solution lists records in the order given, with the requested specs.
func Solution(requested []string, recs ...conda.Record) conda.Solution {
	return conda.Solution{Records: recs, Requested: requested}
}

// PrefixPath is p below root (a materialised image), for assertions.
func PrefixPath(root, prefix, p string) string {
	return filepath.Join(root, filepath.FromSlash(path.Join(prefix, p)))
}
