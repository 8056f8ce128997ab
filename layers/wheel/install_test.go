package wheel

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// layoutWheel has every scheme PEP 427/491 defines.
var layoutWheel = wheelSpec{
	Name: "demo-pkg", Version: "2.0",
	Files: map[string]string{
		"demo_pkg/__init__.py":                          "X = 1\n",
		"demo_pkg/tool.sh":                              "#!/bin/sh\necho hi\n",
		"demo_pkg-2.0.data/scripts/demo-raw":            "#!python -u\nprint('raw')\n",
		"demo_pkg-2.0.data/scripts/demo-sh":             "#!/bin/sh\necho sh\n",
		"demo_pkg-2.0.data/data/share/demo/readme.txt":  "data\n",
		"demo_pkg-2.0.data/headers/demo.h":              "#define DEMO 1\n",
		"demo_pkg-2.0.data/platlib/demo_native/mod.txt": "platlib\n",
	},
	Exec:        map[string]bool{"demo_pkg/tool.sh": true, "demo_pkg-2.0.data/scripts/demo-sh": true},
	EntryPoints: "[console_scripts]\ndemo = demo_pkg.cli:main\ndemo-sub = demo_pkg.cli:App.run [extra1]\n\n[gui_scripts]\ndemo-gui = demo_pkg.gui:start\n\n[other.group]\nx = y:z\n",
}

func installEntries(t *testing.T, w wheelSpec, tg *Target, opt installOptions) (map[string]layers.Entry, map[string]string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), w.filename())
	if err := os.WriteFile(p, w.build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := installWheel(p, w.filename(), tg, opt)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := toEntries(files)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]layers.Entry{}
	content := map[string]string{}
	for _, e := range entries {
		if _, dup := byPath[e.Path]; dup {
			t.Errorf("duplicate entry %s", e.Path)
		}
		byPath[e.Path] = e
		if e.Type == layers.TypeFile {
			rc, err := e.Open()
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			content[e.Path] = b.String()
		}
	}
	return byPath, content
}

func TestInstallLayout(t *testing.T) {
	tg := debianTarget()
	entries, content := installEntries(t, layoutWheel, tg, installOptions{requested: true})
	site := "usr/local/lib/python3.11/dist-packages/"
	want := map[string]struct {
		mode    os.FileMode
		content string
	}{
		site + "demo_pkg/__init__.py":                    {0o644, "X = 1\n"},
		site + "demo_pkg/tool.sh":                        {0o755, "#!/bin/sh\necho hi\n"},
		site + "demo_native/mod.txt":                     {0o644, "platlib\n"},
		"usr/local/bin/demo-raw":                         {0o644, "#!/usr/bin/python3\nprint('raw')\n"},
		"usr/local/bin/demo-sh":                          {0o755, "#!/bin/sh\necho sh\n"},
		"usr/local/share/demo/readme.txt":                {0o644, "data\n"},
		"usr/include/python3.11/demo-pkg/demo.h":         {0o644, "#define DEMO 1\n"},
		site + "demo_pkg-2.0.dist-info/INSTALLER":        {0o644, "pip\n"},
		site + "demo_pkg-2.0.dist-info/REQUESTED":        {0o644, ""},
		site + "demo_pkg-2.0.dist-info/entry_points.txt": {0o644, layoutWheel.EntryPoints},
		site + "demo_pkg-2.0.dist-info/METADATA":         {0o644, layoutWheel.metadata()},
		"usr/local/bin/demo":                             {0o755, "#!/usr/bin/python3\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom demo_pkg.cli import main\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n"},
		"usr/local/bin/demo-sub":                         {0o755, "#!/usr/bin/python3\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom demo_pkg.cli import App\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(App.run())\n"},
		"usr/local/bin/demo-gui":                         {0o755, "#!/usr/bin/python3\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom demo_pkg.gui import start\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(start())\n"},
	}
	for p, w := range want {
		e, ok := entries[p]
		if !ok {
			t.Errorf("missing %s", p)
			continue
		}
		if e.Mode != w.mode || e.UID != 0 || e.GID != 0 || content[p] != w.content {
			t.Errorf("%s: mode %o uid %d content %q, want mode %o content %q", p, e.Mode, e.UID, content[p], w.mode, w.content)
		}
	}
	for _, d := range []string{"usr", "usr/local", "usr/local/bin", site + "demo_pkg", "usr/include/python3.11/demo-pkg"} {
		if e, ok := entries[strings.TrimSuffix(d, "/")]; !ok || e.Type != layers.TypeDir || e.Mode != 0o755 {
			t.Errorf("directory %s: %+v", d, e)
		}
	}
	for p := range entries {
		if strings.Contains(p, ".data/") || strings.HasSuffix(p, "/bin/x") || strings.HasSuffix(p, ".pyc") {
			t.Errorf("unexpected entry %s", p)
		}
	}
	// RECORD: installed paths relative to the site dir, sorted, CRLF as
	// Python's csv writer, original hashes kept, rewritten files rehashed.
	rec := content[site+"demo_pkg-2.0.dist-info/RECORD"]
	if !strings.HasSuffix(rec, "demo_pkg-2.0.dist-info/RECORD,,\r\n") && !strings.Contains(rec, "demo_pkg-2.0.dist-info/RECORD,,\r\n") {
		t.Errorf("RECORD lacks its own empty row:\n%s", rec)
	}
	rows, err := parseRecord([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range rows {
		paths = append(paths, r.path)
		abs := filepath.Clean(filepath.Join("/"+site, r.path))
		ep := strings.TrimPrefix(abs, "/")
		c, ok := content[ep]
		if !ok {
			t.Errorf("RECORD lists %s (%s), which is not installed", r.path, ep)
			continue
		}
		if r.path == "demo_pkg-2.0.dist-info/RECORD" {
			if r.hash != "" || r.size != "" {
				t.Errorf("RECORD's own row has a hash: %+v", r)
			}
			continue
		}
		if r.hash != recHash([]byte(c)) || r.size != itoa(len(c)) {
			t.Errorf("RECORD row %+v does not match the installed file (%s, %d)", r, recHash([]byte(c)), len(c))
		}
	}
	if !sort.StringsAreSorted(paths) {
		t.Errorf("RECORD not sorted: %v", paths)
	}
	if paths[0] != "../../../../include/python3.11/demo-pkg/demo.h" || !strings.Contains(rec, "../../../../include/python3.11/demo-pkg/demo.h,") || !strings.Contains(rec, "../../../share/demo/readme.txt,") {
		t.Errorf("RECORD paths: %v", paths)
	}
	if n := len(rows); n != len(content) {
		t.Errorf("RECORD has %d rows for %d installed files", n, len(content))
	}
	// Not requested: no REQUESTED.
	entries, _ = installEntries(t, layoutWheel, tg, installOptions{})
	if _, ok := entries[site+"demo_pkg-2.0.dist-info/REQUESTED"]; ok {
		t.Error("REQUESTED written for a dependency")
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestInstallPipScriptsAndLongShebang(t *testing.T) {
	tg := debianTarget()
	w := wheelSpec{Name: "pip", Version: "23.0", EntryPoints: "[console_scripts]\npip = pip._internal.cli.main:main\npip3 = pip._internal.cli.main:main\npip3.9 = pip._internal.cli.main:main\n"}
	entries, _ := installEntries(t, w, tg, installOptions{})
	var bins []string
	for p := range entries {
		if strings.HasPrefix(p, "usr/local/bin/") {
			bins = append(bins, strings.TrimPrefix(p, "usr/local/bin/"))
		}
	}
	sort.Strings(bins)
	if strings.Join(bins, " ") != "pip pip3 pip3.11" {
		t.Errorf("pip's launchers: %v (pip writes pip, pip3 and pip3.<target minor>)", bins)
	}
	tg.Interpreter = "/opt/" + strings.Repeat("very-long-", 13) + "/bin/python3"
	_, content := installEntries(t, w, tg, installOptions{})
	if s := content["usr/local/bin/pip"]; !strings.HasPrefix(s, "#!/bin/sh\n'''exec' "+tg.Interpreter+" \"$0\" \"$@\"\n' '''\n# -*- coding") {
		t.Errorf("long interpreter paths get distlib's sh trampoline:\n%s", s)
	}
}

func rawWheel(t *testing.T, name string, members map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var keys []string
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, _ := zw.Create(k)
		f.Write([]byte(members[k]))
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), name)
	os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}

func TestInstallRefusesBadWheels(t *testing.T) {
	tg := debianTarget()
	good := func(extra map[string]string, recordExtra string) map[string]string {
		m := map[string]string{
			"bad-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: bad\nVersion: 1.0\n",
			"bad-1.0.dist-info/WHEEL":    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		}
		for k, v := range extra {
			m[k] = v
		}
		var rec strings.Builder
		for k, v := range m {
			rec.WriteString(k + "," + recHash([]byte(v)) + "," + itoa(len(v)) + "\n")
		}
		rec.WriteString(recordExtra)
		m["bad-1.0.dist-info/RECORD"] = rec.String()
		return m
	}
	cases := []struct {
		name    string
		members map[string]string
		want    string
	}{
		{"dotdot", good(map[string]string{"../../../../etc/evil.py": "x"}, ""), `member "../../../../etc/evil.py" leaves the install directory`},
		{"nested dotdot", good(map[string]string{"bad/../../evil.py": "x"}, ""), "leaves the install directory"},
		{"absolute", good(map[string]string{"/etc/passwd": "x"}, ""), "absolute or unsafe path"},
		{"data dotdot", good(map[string]string{"bad-1.0.data/scripts/../../../x": "x"}, ""), "leaves the install directory"},
		{"unknown scheme", good(map[string]string{"bad-1.0.data/lib/x": "x"}, ""), `unknown scheme "lib"`},
		{"not in RECORD", func() map[string]string {
			m := good(nil, "")
			m["bad/sneaky.py"] = "x"
			return m
		}(), "bad/sneaky.py is not listed in RECORD"},
		{"hash mismatch", func() map[string]string {
			m := good(map[string]string{"bad/__init__.py": "good"}, "")
			m["bad/__init__.py"] = "evil"
			return m
		}(), "bad/__init__.py does not match its RECORD hash"},
		{"malformed METADATA", func() map[string]string {
			return good(map[string]string{"bad-1.0.dist-info/METADATA": "this is not metadata\n"}, "")
		}(), "malformed metadata"},
		{"wheel version 2", good(map[string]string{"bad-1.0.dist-info/WHEEL": "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"}, ""), "Wheel-Version [2.0] is not supported"},
		{"bad entry point", good(map[string]string{"bad-1.0.dist-info/entry_points.txt": "[console_scripts]\nbad = bad\n"}, ""), "a callable suffix (module:function) is required"},
		{"entry point path", good(map[string]string{"bad-1.0.dist-info/entry_points.txt": "[console_scripts]\n../x = bad:main\n"}, ""), "is not a file name"},
		{"two dist-infos", good(map[string]string{"other-1.0.dist-info/METADATA": "x"}, ""), "2 .dist-info directories"},
	}
	for _, c := range cases {
		p := rawWheel(t, "bad-1.0-py3-none-any.whl", c.members)
		_, err := installWheel(p, "bad-1.0-py3-none-any.whl", tg, installOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	tampered := wheelSpec{Name: "tamper", Version: "1.0", Tamper: "tamper/__init__.py"}
	p := filepath.Join(t.TempDir(), tampered.filename())
	os.WriteFile(p, tampered.build(t), 0o644)
	if _, err := installWheel(p, tampered.filename(), tg, installOptions{}); err == nil || !strings.Contains(err.Error(), "does not match its RECORD hash") {
		t.Errorf("tampered wheel: %v", err)
	}
}

func TestLayerKeyAndDeterminism(t *testing.T) {
	ix := graphIndex(t)
	cache := newCache(t)
	r := NewResolver(cache, WithIndexURL(ix.URL()))
	tg := debianTarget()
	set := resolveOK(t, r, reqsOf(t, "app[fancy]\n"), tg)
	ctx := context.Background()
	l1 := NewLayer(cache, set, tg, WithDownloader(r))
	k1, err := l1.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Same set resolved again (in another order) and another copy of the target: same key.
	rev := append([]Resolved{}, set...)
	sort.Slice(rev, func(i, j int) bool { return rev[i].Name > rev[j].Name })
	if k2, _ := NewLayer(cache, rev, debianTarget()).Key(ctx); k2 != k1 {
		t.Errorf("same set, different key: %s vs %s", k1, k2)
	}
	other := debianTarget()
	other.Interpreter = "/usr/local/bin/python3"
	if k3, _ := NewLayer(cache, set, other).Key(ctx); k3 == k1 {
		t.Error("the interpreter is written into scripts, so it must change the key")
	}
	other = debianTarget()
	other.Purelib, other.Platlib = "/usr/local/lib/python3.11/site-packages", "/usr/local/lib/python3.11/site-packages"
	if k4, _ := NewLayer(cache, set, other).Key(ctx); k4 == k1 {
		t.Error("the install directory must change the key")
	}
	changed := append([]Resolved{}, set...)
	changed[0].SHA256 = strings.Repeat("0", 64)
	if k5, _ := NewLayer(cache, changed, tg).Key(ctx); k5 == k1 {
		t.Error("a different wheel digest must change the key")
	}
	dump := func() string {
		es, err := l1.Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
		var b strings.Builder
		for _, e := range es {
			b.WriteString(e.Path + " " + e.Type.String() + " " + e.Mode.String() + " " + itoa(int(e.Size)) + "\n")
			if e.Open != nil {
				rc, _ := e.Open()
				var c bytes.Buffer
				c.ReadFrom(rc)
				rc.Close()
				b.WriteString(hexSHA(c.Bytes()) + "\n")
			}
		}
		return b.String()
	}
	if a, b := dump(), dump(); a != b || a == "" {
		t.Error("entries differ between two builds")
	}
	if !strings.Contains(l1.Describe(), "app==1.0") {
		t.Errorf("Describe: %s", l1.Describe())
	}
}

// direct_url.json is what pip's json.dumps(..., sort_keys=True) writes:
// "&", "<" and ">" as they are, non-ASCII as \uXXXX.
func TestInstallDirectURLAsPip(t *testing.T) {
	site := "usr/local/lib/python3.11/dist-packages/"
	for _, c := range []struct{ url, want string }{
		{"https://h/w/demo.whl?a=1&b=<2>#sha256=ab12", `{"archive_info": {"hash": "sha256=ab12", "hashes": {"sha256": "ab12"}}, "url": "https://h/w/demo.whl?a=1&b=<2>"}`},
		{"file:///wheels/dé mo.whl", `{"archive_info": {}, "url": "file:///wheels/d\u00e9 mo.whl"}`},
	} {
		_, content := installEntries(t, layoutWheel, debianTarget(), installOptions{directURL: c.url})
		if got := content[site+"demo_pkg-2.0.dist-info/direct_url.json"]; got != c.want {
			t.Errorf("%s: direct_url.json\ngot  %s\nwant %s", c.url, got, c.want)
		}
	}
}
