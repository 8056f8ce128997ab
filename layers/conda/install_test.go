package conda_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/pyscript"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/conda/condatest"
)

var ph = condatest.Placeholder

// binaryData holds the placeholder in two C strings, one of them twice.
var binaryData = "\x7fELF\x02\x01\x00" + ph + "/lib:" + ph + "/lib64\x00tail\x00" + ph + "\x00end"

// testChannel is a channel with the cases of the issue: text and binary
// placeholders, a noarch: python package with an entry point, both
// formats, an old package without info/paths.json, links, directories.
func testChannel(t testing.TB, dir string) (*condatest.Channel, []conda.Record) {
	t.Helper()
	ch := condatest.NewChannel(t, dir)
	recs := ch.AddAll(t,
		condatest.Package{Name: "python", Version: "3.11.2", Build: "h_0", License: "PSF-2.0", Timestamp: 1700000000000,
			Files: map[string]condatest.File{
				"bin/python3.11": {Data: "#!/bin/sh\necho not a real python\n", Mode: 0o755},
				"bin/python":     {Link: "python3.11"},
			}},
		condatest.Package{Name: "textpkg", Version: "1.0", Build: "h1_0", Depends: []string{"python >=3.11"},
			Files: map[string]condatest.File{
				"bin/textpkg":               {Data: "#!/bin/sh\necho installed in " + ph + "\n", Mode: 0o775, PrefixMode: "text"},
				"etc/textpkg.conf":          {Data: "home=" + ph + "\nlib=" + ph + "/lib:" + ph + "/lib64\n", PrefixMode: "text"},
				"share/textpkg/plain.txt":   {Data: "not listed with a placeholder: " + ph + "\n"},
				"share/textpkg/latest":      {Link: "plain.txt"},
				"share/textpkg/empty":       {Dir: true},
				"share/textpkg/nolink.txt":  {Data: "copied\n", NoLink: true},
				"share/textpkg/readonly.tx": {Data: "r\n", Mode: 0o444},
			}},
		condatest.Package{Name: "binpkg", Version: "2.0", Build: "h2_1", BuildNumber: 1, TarBz2: true,
			Files: map[string]condatest.File{"lib/libbin.so": {Data: binaryData, Mode: 0o755, PrefixMode: "binary"}}},
		condatest.Package{Name: "hello", Version: "1.0", Build: "pyh_0", Noarch: "python", Depends: []string{"python >=3.8"},
			EntryPoints: []string{"hello = hello.cli:main"},
			Files: map[string]condatest.File{
				"site-packages/hello/__init__.py":                 {Data: ""},
				"site-packages/hello/cli.py":                      {Data: "def main():\n    print('hello from conda')\n"},
				"site-packages/hello-1.0.dist-info/METADATA":      {Data: "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n"},
				"site-packages/hello-1.0.dist-info/INSTALLER":     {Data: "conda\n"},
				"python-scripts/hello-raw":                        {Data: "#!" + ph + "/bin/python3.11\nprint('raw')\n", Mode: 0o755, PrefixMode: "text"},
				"site-packages/hello-1.0.dist-info/top_level.txt": {Data: "hello\n"},
			}},
		condatest.Package{Name: "legacy", Version: "0.1", Build: "0", TarBz2: true, Legacy: true, Placeholder: condatest.ShortPlaceholder,
			Files: map[string]condatest.File{
				"etc/legacy.conf": {Data: "root=" + condatest.ShortPlaceholder + "\n", PrefixMode: "text"},
				"bin/legacy":      {Data: "#!/bin/sh\n", Mode: 0o755},
			}},
	)
	ch.Write(t)
	return ch, recs
}

// shared is testChannel built once for the tests that only read it (cph is
// slow to start); TestMain removes it.
var shared struct {
	once sync.Once
	dir  string
	recs []conda.Record
}

func sharedChannel(t testing.TB) []conda.Record {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "conda-channel-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = dir
		_, shared.recs = testChannel(t, dir)
	})
	if shared.recs == nil {
		t.Fatal("building the shared test channel failed (see the first test)")
	}
	return append([]conda.Record(nil), shared.recs...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func TestInstallLocalChannel(t *testing.T) {
	recs := sharedChannel(t)
	cache := newCache(t)
	sol := condatest.Solution([]string{"python=3.11", "hello", "textpkg", "binpkg >=2", "legacy"}, recs...)
	when := time.Unix(1700000000, 0)
	b := buildLayer(t, cache, conda.NewLayer(cache, sol, prefix, conda.WithOwner(1000, 100), conda.WithTime(when)))

	t.Run("text placeholders", func(t *testing.T) {
		if got := b.file(t, "bin/textpkg"); got != "#!/bin/sh\necho installed in "+prefix+"\n" {
			t.Errorf("bin/textpkg: %q", got)
		}
		if got := b.file(t, "etc/textpkg.conf"); got != "home="+prefix+"\nlib="+prefix+"/lib:"+prefix+"/lib64\n" {
			t.Errorf("etc/textpkg.conf: %q", got)
		}
		if got := b.file(t, "share/textpkg/plain.txt"); !strings.Contains(got, ph) {
			t.Errorf("a file not listed with a placeholder was changed: %q", got)
		}
		if got := b.file(t, "etc/legacy.conf"); got != "root="+prefix+"\n" {
			t.Errorf("info/has_prefix (no paths.json): etc/legacy.conf is %q", got)
		}
	})
	t.Run("binary placeholder", func(t *testing.T) {
		got := b.file(t, "lib/libbin.so")
		pad := len(ph) - len(prefix)
		want := "\x7fELF\x02\x01\x00" + prefix + "/lib:" + prefix + "/lib64" + strings.Repeat("\x00", 2*pad) + "\x00tail\x00" +
			prefix + strings.Repeat("\x00", pad) + "\x00end"
		if got != want {
			t.Errorf("lib/libbin.so:\n got %q\nwant %q", got, want)
		}
		if len(got) != len(binaryData) {
			t.Errorf("lib/libbin.so changed length: %d -> %d", len(binaryData), len(got))
		}
	})
	t.Run("noarch python", func(t *testing.T) {
		site := "lib/python3.11/site-packages/"
		if got := b.file(t, site+"hello/cli.py"); !strings.Contains(got, "hello from conda") {
			t.Errorf("cli.py: %q", got)
		}
		want, _ := pyscript.Launcher(prefix+"/bin/python3.11", "hello", "hello.cli:main")
		if got := b.file(t, "bin/hello"); got != string(want) {
			t.Errorf("entry point bin/hello:\n%s\nwant:\n%s", got, want)
		}
		if !strings.HasPrefix(string(want), "#!"+prefix+"/bin/python3.11\n") {
			t.Errorf("launcher shebang: %q", want)
		}
		if got := b.file(t, "bin/hello-raw"); got != "#!"+prefix+"/bin/python3.11\nprint('raw')\n" {
			t.Errorf("python-scripts/hello-raw -> bin/hello-raw: %q", got)
		}
		for p := range b.headers {
			if strings.HasSuffix(p, ".pyc") || strings.Contains(p, "site-packages/site-packages") || strings.Contains(p, "python-scripts") {
				t.Errorf("unexpected path %s", p)
			}
		}
	})
	t.Run("links, directories, modes, owner", func(t *testing.T) {
		checkTree(t, b)
	})
	t.Run("conda-meta", func(t *testing.T) {
		checkMeta(t, b, recs)
		h := b.file(t, "conda-meta/history")
		if !strings.HasPrefix(h, "==> 2023-11-14 22:13:20 <==\n# cmd: assemble\n") ||
			!strings.Contains(h, "+"+recs[0].Channel+"/noarch::hello-1.0-pyh_0\n") ||
			!strings.HasSuffix(h, `# update specs: ["python=3.11", "hello", "textpkg", "binpkg >=2", "legacy"]`+"\n") {
			t.Errorf("conda-meta/history:\n%s", h)
		}
	})
	if left := stagingLeft(t, cache); len(left) > 0 {
		t.Errorf("staging left in the cache: %v", left)
	}
}

func checkTree(t *testing.T, b built) {
	t.Helper()
	if target, err := os.Readlink(condatest.PrefixPath(b.root, prefix, "share/textpkg/latest")); err != nil || target != "plain.txt" {
		t.Errorf("share/textpkg/latest: %q %v", target, err)
	}
	if target, err := os.Readlink(condatest.PrefixPath(b.root, prefix, "bin/python")); err != nil || target != "python3.11" {
		t.Errorf("bin/python: %q %v", target, err)
	}
	if m := b.mode(t, "share/textpkg/empty"); !m.IsDir() {
		t.Errorf("share/textpkg/empty is %v, want a directory", m)
	}
	for p, want := range map[string]os.FileMode{
		"bin/textpkg": 0o775, "bin/hello": 0o755, "bin/hello-raw": 0o755, "lib/libbin.so": 0o755,
		"share/textpkg/readonly.tx": 0o444, "etc/textpkg.conf": 0o644, "share/textpkg/nolink.txt": 0o644,
	} {
		if got := b.mode(t, p).Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	for name, h := range b.headers {
		inPrefix := name == strings.TrimPrefix(prefix, "/") || strings.HasPrefix(name, strings.TrimPrefix(prefix, "/")+"/")
		if inPrefix && (h.Uid != 1000 || h.Gid != 100) || !inPrefix && (h.Uid != 0 || h.Gid != 0) {
			t.Errorf("%s: owner %d:%d", name, h.Uid, h.Gid)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v", name, h.ModTime)
		}
	}
	if _, ok := b.headers["srv/conda/envs"]; !ok {
		t.Error("no entry for the prefix's parent directory")
	}
}

// metaJSON is what the test reads of a conda-meta record.
type metaJSON struct {
	Name, Version, Build string
	Channel, Subdir      string
	Fn, URL              string
	MD5, SHA256, License string
	BuildNumber          int      `json:"build_number"`
	Size                 int64    `json:"size"`
	Depends              []string `json:"depends"`
	Constrains           []string `json:"constrains"`
	Timestamp            int64    `json:"timestamp"`
	Files                []string `json:"files"`
	RequestedSpec        string   `json:"requested_spec"`
	Link                 struct {
		Source string `json:"source"`
		Type   int    `json:"type"`
	} `json:"link"`
	PathsData struct {
		Paths []struct {
			Path           string `json:"_path"`
			PathType       string `json:"path_type"`
			SHA256         string `json:"sha256"`
			SHA256InPrefix string `json:"sha256_in_prefix"`
			Placeholder    string `json:"prefix_placeholder"`
			FileMode       string `json:"file_mode"`
			NoLink         bool   `json:"no_link"`
		} `json:"paths"`
		Version int `json:"paths_version"`
	} `json:"paths_data"`
}

func checkMeta(t *testing.T, b built, recs []conda.Record) {
	t.Helper()
	ents, err := os.ReadDir(condatest.PrefixPath(b.root, prefix, "conda-meta"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(recs)+1 {
		t.Errorf("conda-meta has %d entries, want %d records and history", len(ents), len(recs))
	}
	for _, r := range recs {
		raw := b.file(t, "conda-meta/"+r.Name+"-"+r.Version+"-"+r.Build+".json")
		var m metaJSON
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if m.Name != r.Name || m.Version != r.Version || m.Build != r.Build || m.Fn != r.Filename || m.URL != r.URL ||
			m.SHA256 != r.SHA256 || m.MD5 != r.MD5 || m.Size != r.Size || m.Channel != r.Channel || m.Subdir != r.Subdir ||
			m.BuildNumber != r.BuildNumber || m.Timestamp != r.Timestamp || m.License != r.License || m.Link.Type != 3 {
			t.Errorf("%s: conda-meta record %+v does not match the repodata record %+v", r.Name, m, r)
		}
		if m.Depends == nil || m.Constrains == nil || m.PathsData.Version != 1 || len(m.Files) != len(m.PathsData.Paths) {
			t.Errorf("%s: depends %v constrains %v paths_version %d files %d paths %d", r.Name, m.Depends, m.Constrains,
				m.PathsData.Version, len(m.Files), len(m.PathsData.Paths))
		}
		if !strings.HasPrefix(raw, "{\n  \"build\": ") {
			t.Errorf("%s: not written as conda does (indent 2, keys sorted): %.40q", r.Name, raw)
		}
		for i, f := range m.Files {
			if i > 0 && m.Files[i-1] >= f {
				t.Errorf("%s: files not sorted: %q before %q", r.Name, m.Files[i-1], f)
			}
			if _, err := os.Lstat(condatest.PrefixPath(b.root, prefix, f)); err != nil {
				t.Errorf("%s: listed file %s: %v", r.Name, f, err)
			}
		}
	}
	var hello metaJSON
	json.Unmarshal([]byte(b.file(t, "conda-meta/hello-1.0-pyh_0.json")), &hello)
	if hello.RequestedSpec != "hello" || !contains(hello.Files, "bin/hello") || !contains(hello.Files, "lib/python3.11/site-packages/hello/cli.py") {
		t.Errorf("hello's record: requested %q, files %v", hello.RequestedSpec, hello.Files)
	}
	var bin metaJSON
	json.Unmarshal([]byte(b.file(t, "conda-meta/binpkg-2.0-h2_1.json")), &bin)
	p := bin.PathsData.Paths[0]
	if p.Path != "lib/libbin.so" || p.FileMode != "binary" || p.Placeholder != ph || p.SHA256 == "" || p.SHA256InPrefix == "" || p.SHA256 == p.SHA256InPrefix {
		t.Errorf("binpkg's paths_data: %+v", p)
	}
	if bin.RequestedSpec != "binpkg >=2" {
		t.Errorf("binpkg's requested_spec %q", bin.RequestedSpec)
	}
	var text metaJSON
	json.Unmarshal([]byte(b.file(t, "conda-meta/textpkg-1.0-h1_0.json")), &text)
	types := map[string]string{}
	for _, p := range text.PathsData.Paths {
		types[p.Path] = p.PathType
		if p.Path == "share/textpkg/nolink.txt" && !p.NoLink {
			t.Error("nolink.txt is not recorded no_link")
		}
	}
	if types["share/textpkg/latest"] != "softlink" || types["share/textpkg/empty"] != "directory" || types["bin/textpkg"] != "hardlink" {
		t.Errorf("textpkg's path types: %v", types)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLayerDeterministic: the same packages give the same layer digest in
// another cache, and a second build is a cache hit.
func TestLayerDeterministic(t *testing.T) {
	recs := sharedChannel(t)
	sol := condatest.Solution([]string{"hello"}, recs...)
	c1, c2 := newCache(t), newCache(t)
	a := buildLayer(t, c1, conda.NewLayer(c1, sol, prefix))
	b := buildLayer(t, c2, conda.NewLayer(c2, sol, prefix))
	if a.res.Digest != b.res.Digest {
		t.Errorf("two caches built %s and %s", a.res.Digest, b.res.Digest)
	}
	again := buildLayer(t, c1, conda.NewLayer(c1, sol, prefix))
	if !again.res.Hit || again.res.Digest != a.res.Digest {
		t.Errorf("second build: hit=%v digest %s", again.res.Hit, again.res.Digest)
	}
	other := buildLayer(t, c1, conda.NewLayer(c1, sol, "/opt/conda"))
	if other.res.Hit || other.res.Digest == a.res.Digest {
		t.Error("another prefix reused the layer")
	}
	if _, err := os.Stat(filepath.Join(other.root, "opt/conda/bin/hello")); err != nil {
		t.Error(err)
	}
}

// TestBelow: the repository's environment over the base environment in
// the same prefix: noarch: python uses the python of the layer below, the
// layer holds only its own packages' records, and the history lists both.
func TestBelow(t *testing.T) {
	recs := sharedChannel(t)
	python, hello := recs[0], recs[3]
	base := condatest.Solution([]string{"python=3.11"}, python)
	cache := newCache(t)
	spec := conda.NewLayer(cache, condatest.Solution([]string{"hello"}, hello), prefix, conda.WithBelow(base))
	b := buildLayer(t, cache, spec)
	if got := b.file(t, "bin/hello"); !strings.HasPrefix(got, "#!"+prefix+"/bin/python3.11\n") {
		t.Errorf("bin/hello: %q", got)
	}
	if _, err := os.Lstat(condatest.PrefixPath(b.root, prefix, "bin/python3.11")); !os.IsNotExist(err) {
		t.Errorf("the layer holds the base's python (%v)", err)
	}
	if _, err := os.Stat(condatest.PrefixPath(b.root, prefix, "conda-meta/python-3.11.2-h_0.json")); !os.IsNotExist(err) {
		t.Errorf("the layer holds the base's conda-meta record (%v)", err)
	}
	h := b.file(t, "conda-meta/history")
	ip, ih := strings.Index(h, "::python-3.11.2-h_0\n"), strings.Index(h, "::hello-1.0-pyh_0\n")
	if strings.Count(h, "==> 1970-01-01 00:00:00 <==") != 2 || ip < 0 || ih < ip ||
		!strings.Contains(h, `# update specs: ["python=3.11"]`) || !strings.HasSuffix(h, `# update specs: ["hello"]`+"\n") {
		t.Errorf("history:\n%s", h)
	}
	if desc := spec.Describe(); desc != "conda install -p "+prefix+" hello=1.0" {
		t.Errorf("Describe: %q", desc)
	}
}

// TestBaseHistory: with the history of the environment below, the layer
// appends its block to it, as conda appends to the file.
func TestBaseHistory(t *testing.T) {
	recs := sharedChannel(t)
	below := "==> 2024-01-01 00:00:00 <==\n# cmd: micromamba create -p /srv/conda/envs/notebook python\n+x/linux-64::python-3.11.2-h_0\n# update specs: [\"python\"]" // no final newline
	cache := newCache(t)
	b := buildLayer(t, cache, conda.NewLayer(cache, condatest.Solution([]string{"hello"}, recs[3]), prefix,
		conda.WithBelow(condatest.Solution(nil, recs[0])), conda.WithBaseHistory([]byte(below))))
	h := b.file(t, "conda-meta/history")
	if !strings.HasPrefix(h, below+"\n==> 1970-01-01 00:00:00 <==\n") || strings.Count(h, "==>") != 2 ||
		!strings.HasSuffix(h, "::hello-1.0-pyh_0\n# update specs: [\"hello\"]\n") {
		t.Errorf("history:\n%s", h)
	}
}

// TestClobber: two packages writing one path: the later in the solution's
// order wins (micromamba's clobbering); a path below another package's
// file is refused.
func TestClobber(t *testing.T) {
	ch := condatest.NewChannel(t, t.TempDir())
	recs := ch.AddAll(t,
		condatest.Package{Name: "first", Version: "1", Files: map[string]condatest.File{"share/x": {Data: "first\n"}, "share/y": {Data: "file\n"}}},
		condatest.Package{Name: "second", Version: "1", Files: map[string]condatest.File{"share/x": {Data: "second\n"}}},
		condatest.Package{Name: "third", Version: "1", Files: map[string]condatest.File{"share/y/z": {Data: "below a file\n"}}},
	)
	cache := newCache(t)
	b := buildLayer(t, cache, conda.NewLayer(cache, condatest.Solution(nil, recs[0], recs[1]), prefix))
	if got := b.file(t, "share/x"); got != "second\n" {
		t.Errorf("share/x: %q", got)
	}
	refused(t, newCache(t), condatest.Solution(nil, recs[0], recs[2]), prefix, "share/y/z", "third-1-0.conda", "first-1-0.conda", "not a directory")
}

// TestTarHardlink: a hard link inside a package installs as a copy of its
// target; one to a member not before it is refused.
func TestTarHardlink(t *testing.T) {
	ch := condatest.NewChannel(t, t.TempDir())
	ok := ch.Raw(t, condatest.Package{Name: "linked", Version: "1"}, []condatest.Member{
		{Name: "lib/libx.so.1", Data: "ELF", Mode: 0o755}, {Name: "lib/libx.so", Hardlink: "lib/libx.so.1"}})
	bad := ch.Raw(t, condatest.Package{Name: "dangling", Version: "1"}, []condatest.Member{{Name: "lib/a", Hardlink: "lib/b"}})
	cache := newCache(t)
	b := buildLayer(t, cache, conda.NewLayer(cache, condatest.Solution(nil, ok), prefix))
	if got := b.file(t, "lib/libx.so"); got != "ELF" {
		t.Errorf("lib/libx.so: %q", got)
	}
	refused(t, newCache(t), condatest.Solution(nil, bad), prefix, "dangling-1-0.conda", "lib/a", `"lib/b"`, "hard link")
}
