package wheel

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

const debianPython = "/usr/bin/python3"

// treeOf lists every file and directory under root with its mode and content.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	testtool.WalkTree(t, root, func(rel, p string, fi fs.FileInfo) error {
		if fi.IsDir() {
			out[rel+"/"] = fi.Mode().Perm().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fi.Mode().Perm().String() + "\n" + string(b)
		return nil
	})
	return out
}

// TestInstallMatchesPip installs the same wheel with Debian's pip (as an
// oracle) and with the layer, and compares every path, mode and byte.
func TestInstallMatchesPip(t *testing.T) {
	testtool.RequireTool(t, debianPython)
	testtool.RequireRun(t, "python3-pip", debianPython, "-m", "pip", "--version") // the oracle
	dir := t.TempDir()
	w := layoutWheel
	whl := filepath.Join(dir, w.filename())
	data := w.build(t)
	if err := os.WriteFile(whl, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pipRoot := filepath.Join(dir, "pip")
	cmd := exec.Command(debianPython, "-m", "pip", "install", "--no-index", "--no-deps", "--no-compile",
		"--disable-pip-version-check", "--break-system-packages", "--root", pipRoot, whl)
	cmd.Env = append(os.Environ(), "PIP_NO_CACHE_DIR=1", "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	files, err := installWheel(whl, w.filename(), debianTarget(), installOptions{
		requested: true, directURL: (&url.URL{Scheme: "file", Path: whl}).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := toEntries(files)
	if err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(dir, "ours")
	materialize(t, ours, entries)
	got, want := treeOf(t, ours), treeOf(t, pipRoot)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s differs from pip's install:\nours: %q\npip:  %q", k, got[k], want[k])
		}
	}
}

// fastmodC is a tiny CPython extension module.
const fastmodC = `#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "add two ints"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "fastmod", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fastmod(void) { return PyModule_Create(&mod); }
`

// buildExtension compiles fastmod against Debian's Python 3.11 headers.
func buildExtension(t *testing.T) []byte {
	t.Helper()
	testtool.RequireTool(t, "gcc")
	testtool.RequireFile(t, "/usr/include/python3.11/Python.h", "python3-dev")
	dir := t.TempDir()
	src := filepath.Join(dir, "fastmod.c")
	so := filepath.Join(dir, "fastmod.so")
	os.WriteFile(src, []byte(fastmodC), 0o644)
	out, err := exec.Command("gcc", "-shared", "-fPIC", "-O1", "-I/usr/include/python3.11", "-o", so, src).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	b, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runPython(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkRecords makes Python's importlib.metadata verify every RECORD row
// (path exists, sha256 and size match) of the distributions in site.
const checkRecords = `
import base64, hashlib, importlib.metadata as md, os, sys
site = sys.argv[1]
bad = []
names = []
for d in md.distributions(path=[site]):
    names.append(d.metadata["Name"] + "==" + d.version)
    for f in d.files:
        p = f.locate()
        if not os.path.exists(p):
            bad.append("missing %s" % p); continue
        if f.hash is None:
            continue
        data = open(p, "rb").read()
        h = base64.urlsafe_b64encode(hashlib.new(f.hash.mode, data).digest()).rstrip(b"=").decode()
        if h != f.hash.value or f.size != len(data):
            bad.append("mismatch %s" % p)
print(" ".join(sorted(names)))
if bad:
    print("\n".join(bad)); sys.exit(1)
`

// TestInstalledRunsWithDebianPython resolves a graph with a compiled
// extension from the test index, writes the layer into a root and runs the
// machine's Debian python3 over it.
func TestInstalledRunsWithDebianPython(t *testing.T) {
	testtool.RequireTool(t, debianPython)
	so := buildExtension(t)
	ix := graphIndex(t)
	ix.add(t, wheelSpec{Name: "fastmod", Version: "1.0", Tag: "cp311-cp311-manylinux_2_17_x86_64", Platlib: true,
		Files: map[string]string{"fastmod.cpython-311-x86_64-linux-gnu.so": string(so)}})
	ix.add(t, wheelSpec{Name: "fastmod", Version: "1.0", Files: map[string]string{"fastmod.py": "def add(a, b):\n    raise SystemExit('pure fallback chosen')\n"}})
	ix.add(t, wheelSpec{Name: "fastmod", Version: "1.0", Tag: "cp312-cp312-manylinux_2_17_x86_64", Platlib: true,
		Files: map[string]string{"fastmod.cpython-312-x86_64-linux-gnu.so": "not loadable"}})
	cache := newCache(t)
	r := NewResolver(cache, WithIndexURL(ix.URL()))
	tg := debianTarget()
	set := resolveOK(t, r, reqsOf(t, "app[fancy]\nfastmod\nbt-a\nbt-b\n"), tg)
	entries, err := NewLayer(cache, set, tg, WithDownloader(r)).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	materialize(t, root, entries)
	site := filepath.Join(root, "usr/local/lib/python3.11/dist-packages")
	env := []string{"PYTHONPATH=" + site}
	out := runPython(t, env, debianPython, "-S", "-c", "import app, lib, fancydep, bt_a, fastmod; print(fastmod.add(2, 3), fastmod.__file__)")
	if !strings.HasPrefix(out, "5 "+site+"/fastmod.cpython-311-x86_64-linux-gnu.so") {
		t.Errorf("compiled module: %s", out)
	}
	// The console script from app's entry point, with its /usr/bin/python3 shebang.
	if out := runPython(t, env, filepath.Join(root, "usr/local/bin/app")); out != "app 1.5 1.0\n" {
		t.Errorf("app script printed %q", out)
	}
	out = runPython(t, nil, debianPython, "-S", "-c", checkRecords, site)
	want := "app==1.0 bt-a==1.0 bt-b==1.0 bt-c==2.0 fancydep==1.0 fastmod==1.0 lib==1.5\n"
	if out != want {
		t.Errorf("distributions seen by importlib.metadata: %q, want %q", out, want)
	}
}

// TestDebianWheelhouse installs the wheels Debian ships in
// /usr/share/python-wheels from a --find-links wheelhouse and checks them
// with the installed pip itself.
func TestDebianWheelhouse(t *testing.T) {
	testtool.RequireTool(t, debianPython)
	house := "/usr/share/python-wheels"
	for _, pkg := range []string{"pip", "setuptools", "wheel"} {
		m, _ := filepath.Glob(filepath.Join(house, pkg+"-*.whl"))
		if len(m) == 0 {
			testtool.Missing(t, filepath.Join(house, pkg+"-*.whl"), "python3-"+pkg+"-whl")
		}
	}
	cache := newCache(t)
	r := NewResolver(cache)
	tg := debianTarget()
	set := resolveOK(t, r, reqsOf(t, "--no-index\n--find-links "+house+"\npip\nsetuptools\nwheel\n"), tg)
	vs := versions(set)
	if len(vs) != 3 {
		t.Fatalf("resolved %v", vs)
	}
	root := t.TempDir()
	entries, err := NewLayer(cache, set, tg).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	materialize(t, root, entries)
	site := filepath.Join(root, "usr/local/lib/python3.11/dist-packages")
	env := []string{"PYTHONPATH=" + site}
	var listed []struct{ Name, Version string }
	out := runPython(t, env, debianPython, "-S", "-m", "pip", "list", "--path", site, "--format", "json", "--disable-pip-version-check")
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("pip list: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range listed {
		got[NormalizeName(l.Name)] = l.Version
	}
	if fmt.Sprint(got) != fmt.Sprint(vs) {
		t.Errorf("pip list shows %v, resolved %v", got, vs)
	}
	if out := runPython(t, env, debianPython, "-S", "-m", "pip", "check", "--disable-pip-version-check"); !strings.Contains(out, "No broken requirements found") {
		t.Errorf("pip check: %s", out)
	}
	// The generated launchers run the installed pip and wheel.
	out = runPython(t, env, filepath.Join(root, "usr/local/bin/pip3.11"), "--version", "--disable-pip-version-check")
	if !strings.HasPrefix(out, "pip "+vs["pip"]+" from "+site+"/pip") {
		t.Errorf("pip3.11 --version: %s", out)
	}
	if out := runPython(t, env, filepath.Join(root, "usr/local/bin/wheel"), "version"); !strings.Contains(out, vs["wheel"]) {
		t.Errorf("wheel version: %s", out)
	}
	out = runPython(t, nil, debianPython, "-S", "-c", checkRecords, site)
	if !strings.Contains(out, "pip=="+vs["pip"]) {
		t.Errorf("RECORD check: %s", out)
	}
	for _, d := range []string{"pip", "setuptools", "wheel"} {
		inst, err := os.ReadFile(filepath.Join(site, d+"-"+vs[d]+".dist-info", "INSTALLER"))
		if err != nil || string(inst) != "pip\n" {
			t.Errorf("%s INSTALLER: %q %v", d, inst, err)
		}
		if _, err := os.Stat(filepath.Join(site, d+"-"+vs[d]+".dist-info", "REQUESTED")); err != nil {
			t.Errorf("%s was requested: %v", d, err)
		}
	}
}
