package binder

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

func load(t testing.TB, files map[string]string, in Input) (*plan.Plan, *Result) {
	t.Helper()
	p, res, err := Load(context.Background(), mkrepo(t, files), in, WithVersion("v1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Images) != 1 {
		t.Fatalf("%d images", len(p.Images))
	}
	return p, res
}

func loadErr(t testing.TB, files map[string]string, in Input) error {
	t.Helper()
	_, _, err := Load(context.Background(), mkrepo(t, files), in)
	if err == nil {
		t.Fatalf("%v: no error", files)
	}
	return err
}

// kinds lists the layers as "kind:source".
func kinds(im plan.Image) []string {
	var out []string
	for _, l := range im.Layers {
		out = append(out, l.Kind+":"+l.Source)
	}
	return out
}

func layerBy(t testing.TB, im plan.Image, kind, source string) plan.Layer {
	t.Helper()
	for _, l := range im.Layers {
		if l.Kind == kind && (source == "" || l.Source == source) {
			return l
		}
	}
	t.Fatalf("no %s layer from %q in %v", kind, source, kinds(im))
	return plan.Layer{}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

func file(t testing.TB, l plan.Layer, p string) plan.GeneratedFile {
	t.Helper()
	for _, f := range l.Generated.Files {
		if f.Path == p {
			return f
		}
	}
	t.Fatalf("generated layer %s has no %s", l.Source, p)
	return plan.GeneratedFile{}
}

// A bare repository gets repo2docker's image shape on deb:bookworm.
func TestLoadBare(t *testing.T) {
	p, res := load(t, map[string]string{"index.ipynb": "{}"}, Input{})
	im := p.Images[0]
	if p.Convention != Name || res.Buildpack != Python || !strings.Contains(p.Reason, "PythonBuildPack") {
		t.Errorf("convention %s (%s), buildpack %s", p.Convention, p.Reason, res.Buildpack)
	}
	if im.Base != DefaultBase || p.Debian == nil || p.Debian.Suite != "bookworm" {
		t.Errorf("base %q, debian %+v", im.Base, p.Debian)
	}
	want := []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "files:repository"}
	if got := kinds(im); !reflect.DeepEqual(got, want) {
		t.Errorf("layers %v, want %v", got, want)
	}
	c := im.Config
	env := envMap(c.Env)
	for k, v := range map[string]string{
		"HOME": "/home/jovyan", "USER": "jovyan", "REPO_DIR": "/home/jovyan", "APP_BASE": "/srv", "SHELL": "/bin/bash",
		"PATH":             "/home/jovyan/.local/bin:/home/jovyan/.local/bin:/srv/conda/envs/notebook/bin:/srv/npm/bin:" + defaultPath,
		"NB_PYTHON_PREFIX": "/srv/conda/envs/notebook", "KERNEL_PYTHON_PREFIX": "/srv/conda/envs/notebook",
		"NPM_DIR": "/srv/npm", "NPM_CONFIG_GLOBALCONFIG": "/srv/npm/npmrc",
		"PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8",
	} {
		if env[k] != v {
			t.Errorf("env %s=%q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["R2D_ENTRYPOINT"]; ok {
		t.Error("R2D_ENTRYPOINT set without a start script")
	}
	if c.User != "jovyan" || c.WorkingDir != "/home/jovyan" || !reflect.DeepEqual(c.Entrypoint, []string{EntrypointPath}) ||
		!reflect.DeepEqual(c.Cmd, []string{"/bin/bash"}) || !reflect.DeepEqual(c.ExposedPorts, []string{"8888/tcp"}) {
		t.Errorf("config %+v", c)
	}
	if !reflect.DeepEqual(c.Labels, map[string]string{"repo2docker.repo": "local", "repo2docker.ref": "None", "assemble.version": "v1.2.3"}) {
		t.Errorf("labels %v", c.Labels)
	}
	f := layerBy(t, im, plan.KindFiles, "").Files
	if f.Dir != "." || f.Dest != "/home/jovyan" || f.UID != 1000 || f.GID != 1000 || !f.NoIgnoreFile {
		t.Errorf("repository layer %+v", f)
	}
	deb := layerBy(t, im, plan.KindDeb, "").Deb
	var names []string
	for _, pk := range deb.Packages {
		names = append(names, pk.Name)
	}
	if !slices.Contains(names, "python3") || !slices.Contains(names, "python3-venv") || !slices.Contains(names, "gettext-base") {
		t.Errorf("environment packages %v", names)
	}

	users := layerBy(t, im, plan.KindGenerated, "repo2docker: notebook user")
	pw := string(file(t, users, "/etc/passwd").Content)
	if !strings.HasPrefix(pw, "root:x:0:0:root:/root:/bin/bash\n") || !strings.HasSuffix(pw, "\njovyan:x:1000:1000::/home/jovyan:/bin/bash\n") {
		t.Errorf("passwd:\n%s", pw)
	}
	if gr := string(file(t, users, "/etc/group").Content); !strings.HasSuffix(gr, "\nnogroup:x:65534:\njovyan:x:1000:\n") {
		t.Errorf("group:\n%s", gr)
	}
	sh := file(t, users, "/etc/shadow")
	if sh.Mode != 0o640 || sh.GID != gidShadow || !strings.HasSuffix(string(sh.Content), "\njovyan:!::0:99999:7:::\n") || !strings.HasPrefix(string(sh.Content), "root:*::0:99999:7:::\n") {
		t.Errorf("shadow %o %d:\n%s", sh.Mode, sh.GID, sh.Content)
	}
	if gs := string(file(t, users, "/etc/gshadow").Content); !strings.HasSuffix(gs, "\njovyan:!::\n") {
		t.Errorf("gshadow:\n%s", gs)
	}
	for _, f := range users.Generated.Files {
		if f.Path == "/home/jovyan" {
			t.Error("the home directory is made by the repository layer when REPO_DIR is HOME")
		}
	}
	ep := file(t, users, EntrypointPath)
	if ep.Mode != 0o755 || !strings.Contains(string(ep.Content), `exec "$R2D_ENTRYPOINT" "$@"`) {
		t.Errorf("entrypoint %o:\n%s", ep.Mode, ep.Content)
	}
	if im.Name == "" || !reflect.DeepEqual(im.Tags, []string{"latest"}) {
		t.Errorf("name %q tags %v", im.Name, im.Tags)
	}
	if len(res.Notes) == 0 {
		t.Error("no notes (shell command, locale)")
	}
}

// Planning is pure: the same repository gives the same plan.
func TestLoadDeterministic(t *testing.T) {
	files := map[string]string{"apt.txt": "jq\n", "requirements.txt": "notebook\n", "postBuild": "echo hi\n", "start": "exec \"$@\"\n"}
	dir := mkrepo(t, files)
	var prev []byte
	for i := 0; i < 3; i++ {
		p, _, err := Load(context.Background(), dir, Input{}, WithVersion("v"))
		if err != nil {
			t.Fatal(err)
		}
		var gen []string
		for _, l := range p.Images[0].Layers {
			if l.Generated != nil {
				for _, f := range l.Generated.Files {
					gen = append(gen, f.Path, string(f.Content))
				}
			}
		}
		b, _ := json.Marshal([]any{p, gen})
		if prev != nil && string(b) != string(prev) {
			t.Fatalf("plan differs between loads:\n%s\n%s", prev, b)
		}
		prev = b
	}
}

// apt.txt: comments, blank lines, several packages a line; bad lines name
// the file and line.
func TestLoadAptTxt(t *testing.T) {
	p, res := load(t, map[string]string{"apt.txt": "# compilers\ngfortran   # Fortran\n\nunp byacc\n  \n#only comment\n"}, Input{})
	l := layerBy(t, p.Images[0], plan.KindDeb, "apt.txt")
	want := []plan.Package{{Name: "gfortran", Where: "apt.txt:2"}, {Name: "unp", Where: "apt.txt:4"}, {Name: "byacc", Where: "apt.txt:4"}}
	if !reflect.DeepEqual(l.Deb.Packages, want) {
		t.Errorf("packages %+v", l.Deb.Packages)
	}
	if !slices.Contains(res.Files, "apt.txt") {
		t.Errorf("files read %v", res.Files)
	}
	// apt.txt sits above the environment packages and below the repository.
	if got := kinds(p.Images[0]); !reflect.DeepEqual(got[1:6], []string{"deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "deb:apt.txt", "files:repository"}) {
		t.Errorf("order %v", got)
	}
	err := loadErr(t, map[string]string{"apt.txt": "jq\nPython3\n"}, Input{})
	if !strings.Contains(err.Error(), "apt.txt:2") || !strings.Contains(err.Error(), "Python3") {
		t.Errorf("bad package: %v", err)
	}
	// An apt.txt of comments only adds no layer.
	p, _ = load(t, map[string]string{"apt.txt": "# nothing\n"}, Input{})
	for _, l := range p.Images[0].Layers {
		if l.Source == "apt.txt" {
			t.Error("empty apt.txt made a layer")
		}
	}
}

// requirements.txt is a python layer below the repository; Jupyter in it
// makes `jupyter notebook` the command.
func TestLoadRequirements(t *testing.T) {
	p, res := load(t, map[string]string{"requirements.txt": "--find-links wheels\nnotebook==7.0 \\\n  ; python_version >= '3'\n-r more.txt\n", "more.txt": "numpy\n"}, Input{})
	im := p.Images[0]
	l := layerBy(t, im, plan.KindPython, "requirements.txt")
	if !reflect.DeepEqual(l.Python.Requirements, []string{"requirements.txt"}) || len(l.Python.Packages) != 0 {
		t.Errorf("python layer %+v", l.Python)
	}
	if !reflect.DeepEqual(im.Config.Cmd, []string{"jupyter", "notebook", "--ip", "0.0.0.0"}) {
		t.Errorf("cmd %v", im.Config.Cmd)
	}
	if !slices.Contains(res.Files, "more.txt") {
		t.Errorf("included file not listed: %v", res.Files)
	}
	if got := kinds(im); got[len(got)-1] != "files:repository" || got[len(got)-2] != "python:requirements.txt" {
		t.Errorf("order %v", got)
	}
	p, _ = load(t, map[string]string{"requirements.txt": "jupyterlab\n"}, Input{})
	if !reflect.DeepEqual(p.Images[0].Config.Cmd, []string{"jupyter", "lab", "--ip", "0.0.0.0"}) {
		t.Errorf("jupyterlab cmd %v", p.Images[0].Config.Cmd)
	}
	p, _ = load(t, map[string]string{"requirements.txt": "Jupyter\n"}, Input{})
	if p.Images[0].Config.Cmd[0] != "jupyter" {
		t.Errorf("Jupyter (any case) cmd %v", p.Images[0].Config.Cmd)
	}
	// An include that leaves the repository is refused.
	err := loadErr(t, map[string]string{"requirements.txt": "-r ../../etc/x.txt\n"}, Input{})
	if !strings.Contains(err.Error(), "requirements.txt:1") {
		t.Errorf("escaping include: %v", err)
	}
}

// binder/ wins over decoy root files (venv/binder-dir), and they are listed
// as ignored.
func TestLoadBinderDir(t *testing.T) {
	p, res := load(t, map[string]string{
		"binder/apt.txt": "gfortran\n", "binder/requirements.txt": "ipyleaflet\n", "binder/postBuild": "echo ok > postbuild.txt\n",
		"binder/.dockerignore": "data/\n",
		"apt.txt":              "thisdoesnotexist\n", "environment.yml": "dependencies: [scipy]\n", "postBuild": "exit 1\n",
		"requirements.txt": "scipy\n", ".dockerignore": "*.ipynb\n", "index.ipynb": "{}",
	}, Input{})
	im := p.Images[0]
	if res.ConfigDir != "binder" {
		t.Errorf("config dir %q", res.ConfigDir)
	}
	layerBy(t, im, plan.KindDeb, "binder/apt.txt")
	if l := layerBy(t, im, plan.KindPython, "binder/requirements.txt"); !reflect.DeepEqual(l.Python.Requirements, []string{"binder/requirements.txt"}) {
		t.Errorf("python %+v", l.Python)
	}
	pb := layerBy(t, im, plan.KindRun, "binder/postBuild").Run
	if pb.User != "jovyan" || pb.WorkDir != "/home/jovyan" || !pb.Network || pb.Command[2] != "chmod +x ./binder/postBuild && ./binder/postBuild" {
		t.Errorf("postBuild %+v", pb)
	}
	if envMap(pb.Env)["HOME"] != "/home/jovyan" || envMap(pb.Env)["PATH"] == "" {
		t.Errorf("postBuild env %v", pb.Env)
	}
	for _, l := range im.Layers {
		if l.Source == "apt.txt" || l.Source == "postBuild" || l.Source == "requirements.txt" {
			t.Errorf("root decoy used: %s", l.Source)
		}
	}
	if f := layerBy(t, im, plan.KindFiles, "").Files; !reflect.DeepEqual(f.Exclude, []string{"data"}) {
		t.Errorf("ignore patterns from binder/.dockerignore: %v", f.Exclude)
	}
	ignored := strings.Join(res.Ignored, "\n")
	for _, want := range []string{"apt.txt: ignored because binder/", "environment.yml: ignored", "postBuild: ignored", ".dockerignore: ignored because binder/"} {
		if !strings.Contains(ignored, want) {
			t.Errorf("ignored lacks %q:\n%s", want, ignored)
		}
	}
	for _, f := range res.Files {
		if !strings.HasPrefix(f, "binder/") {
			t.Errorf("read a root file: %s", f)
		}
	}
}

// Both ignore files are read (repo2docker combines them), from the root
// when there is no binder directory.
func TestLoadIgnoreFiles(t *testing.T) {
	p, _ := load(t, map[string]string{".dockerignore": "# c\n/secret\n*.tmp\n", ".containerignore": "!keep.tmp\n", "index.ipynb": "{}"}, Input{})
	if f := layerBy(t, p.Images[0], plan.KindFiles, "").Files; !reflect.DeepEqual(f.Exclude, []string{"secret", "*.tmp", "!keep.tmp"}) {
		t.Errorf("exclude %v", f.Exclude)
	}
}

// runtime.txt: the default base's Python (3.11) passes; another version
// names a base that carries it.
func TestLoadRuntime(t *testing.T) {
	for _, ok := range []string{"python-3.11", "python-3.11.4", "python-3", "python-3.11-2025-01-01"} {
		load(t, map[string]string{"runtime.txt": ok + "\n"}, Input{})
	}
	err := loadErr(t, map[string]string{"runtime.txt": "python-3.12\n"}, Input{})
	for _, want := range []string{"runtime.txt asks for Python 3.12", "3.11", "--base docker://docker.io/library/python:3.12-slim-bookworm", "deb:bookworm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	err = loadErr(t, map[string]string{"binder/runtime.txt": "python-2.7\n"}, Input{})
	if !strings.Contains(err.Error(), "binder/runtime.txt") || !strings.Contains(err.Error(), "python:2.7-slim-buster") {
		t.Errorf("py2: %v", err)
	}
	// deb:trixie carries 3.13.
	p, _ := load(t, map[string]string{"runtime.txt": "python-3.13\n", "apt.txt": "jq\n"}, Input{Request: plan.Request{Base: "deb:trixie"}})
	if p.Images[0].Base != "deb:trixie" || p.Debian == nil || p.Debian.Suite != "trixie" {
		t.Errorf("trixie: base %s debian %+v", p.Images[0].Base, p.Debian)
	}
	// Another base, not read while planning: trusted, with a note, and no
	// Debian python3 layer under it.
	p, res := load(t, map[string]string{"runtime.txt": "python-3.12\n", "requirements.txt": "x\n"}, Input{Request: plan.Request{Base: "docker://docker.io/library/python:3.12-slim-bookworm"}})
	if strings.Contains(strings.Join(kinds(p.Images[0]), " "), "deb:repo2docker") {
		t.Errorf("Debian python3 added on a python base: %v", kinds(p.Images[0]))
	}
	if notes := strings.Join(res.Notes, "\n"); !strings.Contains(notes, "not known while planning") {
		t.Errorf("notes: %s", notes)
	}
	// requirements3.txt is only for a Python older than 3.7.
	_, res = load(t, map[string]string{"requirements3.txt": "x\n", "requirements.txt": "y\n"}, Input{})
	if !strings.Contains(strings.Join(res.Ignored, "\n"), "requirements3.txt: used by repo2docker only") {
		t.Errorf("requirements3.txt: %v", res.Ignored)
	}
	p, _ = load(t, map[string]string{"runtime.txt": "python-3.6\n", "requirements3.txt": "x\n", "requirements.txt": "y\n"}, Input{Request: plan.Request{Base: "oci:py36:latest"}})
	if l := layerBy(t, p.Images[0], plan.KindPython, ""); !reflect.DeepEqual(l.Python.Requirements, []string{"requirements.txt", "requirements3.txt"}) {
		t.Errorf("py3.6 requirements %v", l.Python.Requirements)
	}
}

// Pipfile.lock: default and develop, pinned and hashed; the lock wins over
// the Pipfile and requirements.txt is ignored (pipfile/pipfile-lock,
// pipfile/requirements-txt).
func TestLoadPipfileLock(t *testing.T) {
	lock := `{
  "_meta": {"requires": {"python_version": "3.11"}, "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]},
  "default": {
    "there": {"hashes": ["sha256:aaaa", "sha256:bbbb"], "index": "pypi", "version": "==0.0.9"},
    "pkg-b": {"hashes": ["sha256:cccc"], "version": "==1.0", "markers": "python_version >= '3.6'", "extras": ["fast"]}
  },
  "develop": {
    "pytest": {"hashes": ["sha256:dddd"], "version": "==7.0"},
    "there": {"hashes": ["sha256:eeee"], "version": "==0.0.1"}
  }
}`
	p, res := load(t, map[string]string{"Pipfile": "[packages]\nthere = \"*\"\nnumpy = \"*\"\n", "Pipfile.lock": lock, "requirements.txt": "numpy\n"}, Input{})
	if res.Buildpack != Pipfile {
		t.Fatalf("buildpack %s", res.Buildpack)
	}
	l := layerBy(t, p.Images[0], plan.KindPython, "Pipfile.lock")
	// Each with the line of its entry in the lock (lock_test.go).
	want := []string{
		"there==0.0.9 --hash=sha256:aaaa --hash=sha256:bbbb",
		"pkg-b[fast]==1.0 ; python_version >= '3.6' --hash=sha256:cccc",
		"pytest==7.0 --hash=sha256:dddd",
	}
	if !reflect.DeepEqual(l.Python.Packages, want) || !reflect.DeepEqual(l.Python.PackageLines, []int{4, 5, 8}) || len(l.Python.Requirements) != 0 || l.Python.IndexURL != "" {
		t.Errorf("python layer %+v", l.Python)
	}
	ignored := strings.Join(res.Ignored, "\n")
	if !strings.Contains(ignored, "requirements.txt: ignored by PipfileBuildPack") || !strings.Contains(ignored, "Pipfile: the lock is installed") {
		t.Errorf("ignored %s", ignored)
	}
	// A lock that asks for another Python names it.
	err := loadErr(t, map[string]string{"Pipfile.lock": strings.Replace(lock, `"3.11"`, `"3.6"`, 1)}, Input{})
	if !strings.Contains(err.Error(), "Pipfile.lock: _meta.requires.python_version asks for Python 3.6") {
		t.Errorf("python version: %v", err)
	}
	// Pipfile's version wins over runtime.txt (pipfile/py36).
	err = loadErr(t, map[string]string{"Pipfile": "[requires]\npython_version = \"3.6\"\n", "runtime.txt": "python-3.11\n"}, Input{})
	if !strings.Contains(err.Error(), "Pipfile: [requires] python_version asks for Python 3.6") {
		t.Errorf("Pipfile over runtime.txt: %v", err)
	}
	// A private index becomes the layer's index.
	p, _ = load(t, map[string]string{"Pipfile.lock": `{"_meta": {"sources": [{"name": "corp", "url": "https://pypi.corp.example/simple"}, {"name": "pypi", "url": "https://pypi.org/simple"}]}, "default": {"x": {"version": "==1", "hashes": ["sha256:ff"]}}}`}, Input{})
	if l := layerBy(t, p.Images[0], plan.KindPython, ""); l.Python.IndexURL != "https://pypi.corp.example/simple" || len(l.Python.ExtraIndex) != 0 {
		t.Errorf("index %+v", l.Python)
	}
	for name, bad := range map[string]string{
		"syntax": `{"default": `,
		"git":    `{"default": {"x": {"git": "https://github.com/a/b.git", "ref": "abc"}}}`,
		"path":   `{"default": {"x": {"path": "./nothere", "editable": true}}}`,
	} {
		err := loadErr(t, map[string]string{"Pipfile.lock": bad}, Input{})
		if !strings.Contains(err.Error(), "Pipfile.lock") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A Pipfile without a lock is resolved when built (inline requirements).
func TestLoadPipfile(t *testing.T) {
	p, _ := load(t, map[string]string{"binder/Pipfile": `[[source]]
url = "https://pypi.org/simple"
name = "pypi"

[packages]
notebook = "*"
requests = ">=2.0"
pinned = "1.2"
fancy = {version = "~=1.0", extras = ["a", "b"], markers = "os_name == 'posix'", sys_platform = "linux"}

[dev-packages]
pytest = "*"
notebook = "==6"

[requires]
python_version = "3.11"
`, "Pipfile": "[packages]\nnumpy = \"*\"\n"}, Input{})
	im := p.Images[0]
	l := layerBy(t, im, plan.KindPython, "binder/Pipfile")
	want := []string{
		"fancy[a,b]~=1.0 ; (os_name == 'posix') and sys_platform == 'linux'",
		"notebook",
		"pinned==1.2",
		"requests>=2.0",
		"pytest",
	}
	if !reflect.DeepEqual(l.Python.Packages, want) {
		t.Errorf("packages %q", l.Python.Packages)
	}
	if im.Config.Cmd[0] != "jupyter" {
		t.Errorf("cmd %v", im.Config.Cmd)
	}
	// {path = ".."} from binder/ is the repository's package, installed from
	// the binder directory after the copy (pipfile/setup-py-explicit-in-binder-dir).
	p, _ = load(t, map[string]string{"binder/Pipfile": "[packages]\nmine = {path = \"..\", editable = true}\n", "setup.py": "from setuptools import setup\nsetup(name='mine')\n"}, Input{})
	run := layerBy(t, p.Images[0], plan.KindRun, "binder/Pipfile: [packages] mine").Run
	if !strings.Contains(run.Command[2], "cd '/home/jovyan/binder'") || !strings.Contains(run.Command[2], "--no-index --no-build-isolation --no-cache-dir --no-compile -e '..'") {
		t.Errorf("local package install:\n%s", run.Command[2])
	}
	// setup.py is not installed implicitly (pipfile/setup-py-implicit).
	p, res := load(t, map[string]string{"Pipfile": "[packages]\nx = \"*\"\n", "setup.py": ""}, Input{})
	for _, l := range p.Images[0].Layers {
		if l.Kind == plan.KindRun && l.Source != "repo2docker: Python environment" {
			t.Errorf("setup.py installed under Pipfile: %+v", l.Run)
		}
	}
	if !strings.Contains(strings.Join(res.Ignored, "\n"), "setup.py: not installed by PipfileBuildPack") {
		t.Errorf("ignored %v", res.Ignored)
	}
	err := loadErr(t, map[string]string{"Pipfile": "[packages]\nx = {git = \"https://example.com/x.git\"}\n"}, Input{})
	if !strings.Contains(err.Error(), "Pipfile: [packages] x") || !strings.Contains(err.Error(), "git") {
		t.Errorf("git: %v", err)
	}
}

// A Python package at the root is installed after the copy, by pip in a run
// layer; its build backend and dependencies go to the python layer.
func TestLoadRootPackage(t *testing.T) {
	pyproject := "[project]\nname = \"mwt\"\nversion = \"0.1\"\nrequires-python = \">=3.9\"\ndependencies = [\"there>=0.0.9\"]\n[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n"
	p, res := load(t, map[string]string{"pyproject.toml": pyproject, "mwt/__init__.py": "", "requirements.txt": "notebook\n"}, Input{})
	im := p.Images[0]
	got := kinds(im)
	if got[len(got)-2] != "files:repository" || got[len(got)-1] != "run:pyproject.toml" {
		t.Fatalf("layers %v", got)
	}
	py := layerBy(t, im, plan.KindPython, "").Python
	if !reflect.DeepEqual(py.Requirements, []string{"requirements.txt"}) || !reflect.DeepEqual(py.Packages, []string{"setuptools>=61", "there>=0.0.9"}) {
		t.Errorf("python layer %+v", py)
	}
	run := im.Layers[len(im.Layers)-1].Run
	script := run.Command[2]
	for _, want := range []string{"cd '/home/jovyan'", "python3 -m pip install --no-index --no-build-isolation --no-cache-dir --no-compile '.'", "chown -h 1000:1000"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if run.User != "jovyan" || run.Network || envMap(run.Env)["PIP_BREAK_SYSTEM_PACKAGES"] != "1" {
		t.Errorf("run %+v", run)
	}
	if n := strings.Count(strings.Join(run.Env, " "), "PIP_BREAK_SYSTEM_PACKAGES="); n != 1 {
		t.Errorf("PIP_BREAK_SYSTEM_PACKAGES %d times", n)
	}
	if !slices.Contains(res.Files, "pyproject.toml") {
		t.Errorf("files %v", res.Files)
	}
	// requires-python that excludes the default base's Python picks the
	// newest Debian release it allows; one no release carries is an error.
	p, _ = load(t, map[string]string{"pyproject.toml": strings.Replace(pyproject, ">=3.9", ">=3.12", 1)}, Input{})
	if p.Images[0].Base != "deb:trixie" || p.Debian.Suite != "trixie" {
		t.Errorf("requires-python >=3.12: base %s", p.Images[0].Base)
	}
	err := loadErr(t, map[string]string{"pyproject.toml": strings.Replace(pyproject, ">=3.9", ">=3.14", 1)}, Input{})
	if !strings.Contains(err.Error(), "requires-python") || !strings.Contains(err.Error(), "python:3.14-slim-bookworm") {
		t.Errorf("requires-python: %v", err)
	}
	// setup.py: no static dependencies; the package alone.
	p, _ = load(t, map[string]string{"setup.py": "from setuptools import setup\nsetup(name='x')\n"}, Input{})
	if l := p.Images[0].Layers[len(p.Images[0].Layers)-1]; l.Kind != plan.KindRun || l.Source != "setup.py" {
		t.Errorf("setup.py layer %+v", l)
	}
	// "-e ." in requirements.txt is that same install, not a second one; the
	// rest of the file goes inline with its paths made root-relative.
	p, _ = load(t, map[string]string{"setup.py": "", "requirements.txt": "-e .\n--find-links wheels\nthere\n"}, Input{})
	im = p.Images[0]
	py = layerBy(t, im, plan.KindPython, "").Python
	if len(py.Requirements) != 0 || !reflect.DeepEqual(py.Packages, []string{"--find-links wheels", "there"}) {
		t.Errorf("inline %+v", py)
	}
	n := 0
	for _, l := range im.Layers {
		if l.Kind == plan.KindRun && l.Source != "repo2docker: Python environment" {
			n++
			if !strings.Contains(l.Run.Command[2], "-e '.'") || l.Source != "requirements.txt:1" {
				t.Errorf("editable install %s:\n%s", l.Source, l.Run.Command[2])
			}
		}
	}
	if n != 1 {
		t.Errorf("%d run layers", n)
	}
	// In binder/requirements.txt the rest's relative paths are rewritten.
	p, _ = load(t, map[string]string{"binder/requirements.txt": "-e ./pkg\n-f wheels\n-r extra.txt\n", "binder/extra.txt": "x\n", "pkg/setup.py": ""}, Input{})
	if py := layerBy(t, p.Images[0], plan.KindPython, "").Python; !reflect.DeepEqual(py.Packages, []string{"--find-links binder/wheels", "-r binder/extra.txt"}) {
		t.Errorf("rewritten %q", py.Packages)
	}
	for name, req := range map[string]string{"not a package": "-e ./nothing\n", "outside": "-e ../x\n"} {
		err := loadErr(t, map[string]string{"requirements.txt": req}, Input{})
		if !strings.Contains(err.Error(), "requirements.txt:1") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// postBuild runs as the notebook user in the repository; start becomes
// R2D_ENTRYPOINT.
func TestLoadPostBuildStart(t *testing.T) {
	p, res := load(t, map[string]string{"postBuild": "#!/bin/bash\necho built > ~/built\n", "start": "#!/bin/bash\nexport FOO=bar\nexec \"$@\"\n"}, Input{})
	im := p.Images[0]
	got := kinds(im)
	if got[len(got)-1] != "run:postBuild" || got[len(got)-2] != "files:repository" {
		t.Errorf("order %v", got)
	}
	env := envMap(im.Config.Env)
	if env["R2D_ENTRYPOINT"] != "/home/jovyan/start" {
		t.Errorf("R2D_ENTRYPOINT %q", env["R2D_ENTRYPOINT"])
	}
	if _, ok := envMap(im.Layers[len(im.Layers)-1].Run.Env)["R2D_ENTRYPOINT"]; ok {
		t.Error("postBuild sees R2D_ENTRYPOINT (repo2docker sets it after postBuild)")
	}
	if !slices.Contains(res.Files, "postBuild") || !slices.Contains(res.Files, "start") {
		t.Errorf("files %v", res.Files)
	}
	p, _ = load(t, map[string]string{".binder/start": "exec \"$@\"\n", "start": "exit 1\n"}, Input{Settings: Settings{TargetRepoDir: "/srv/repo"}})
	if env := envMap(p.Images[0].Config.Env); env["R2D_ENTRYPOINT"] != "/srv/repo/.binder/start" {
		t.Errorf("binder start %q", env["R2D_ENTRYPOINT"])
	}
}

// --user-name, --user-id, --target-repo-dir.
func TestLoadUserAndRepoDir(t *testing.T) {
	p, _ := load(t, map[string]string{"index.ipynb": "{}"}, Input{Settings: Settings{UserName: "alice", UserID: 1234, TargetRepoDir: "/srv/repo/"}})
	im := p.Images[0]
	env := envMap(im.Config.Env)
	if env["HOME"] != "/home/alice" || env["REPO_DIR"] != "/srv/repo" || env["USER"] != "alice" ||
		!strings.HasPrefix(env["PATH"], "/home/alice/.local/bin:/srv/repo/.local/bin:/srv/conda/envs/notebook/bin:/srv/npm/bin:/usr/local/sbin") {
		t.Errorf("env %v", env)
	}
	if im.Config.User != "alice" || im.Config.WorkingDir != "/srv/repo" {
		t.Errorf("config %+v", im.Config)
	}
	f := layerBy(t, im, plan.KindFiles, "").Files
	if f.Dest != "/srv/repo" || f.UID != 1234 || f.GID != 1234 {
		t.Errorf("files %+v", f)
	}
	users := layerBy(t, im, plan.KindGenerated, "repo2docker: notebook user")
	home := file(t, users, "/home/alice")
	if home.Mode != uint32(fs.ModeDir|0o755) || home.UID != 1234 || home.GID != 1234 {
		t.Errorf("home %+v", home)
	}
	if pw := string(file(t, users, "/etc/passwd").Content); !strings.Contains(pw, "\nalice:x:1234:1234::/home/alice:/bin/bash\n") {
		t.Errorf("passwd:\n%s", pw)
	}
	for _, bad := range []Settings{{UserName: "Alice"}, {UserName: "a b"}, {UserName: "root;rm"}, {UserID: -5}, {TargetRepoDir: "srv/repo"}, {TargetRepoDir: "/"}, {TargetRepoDir: "/srv/../etc"}} {
		loadErr(t, map[string]string{"index.ipynb": "{}"}, Input{Settings: bad})
	}
	if err := ValidateUser("jovyan", 0); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("uid 0: %v", err)
	}
	if err := ValidateUser("jovyan", 1000); err != nil {
		t.Error(err)
	}
	// The registry prefixes the name.
	p, _ = load(t, map[string]string{"index.ipynb": "{}"}, Input{Request: plan.Request{Registry: "ghcr.io/me/", SourceURL: "https://github.com/me/nb"}})
	if im := p.Images[0]; !strings.HasPrefix(im.Name, "ghcr.io/me/") || im.Config.Labels["repo2docker.repo"] != "https://github.com/me/nb" {
		t.Errorf("name %s labels %v", im.Name, im.Config.Labels)
	}
}

// A Dockerfile is used as it is (DockerBuildPack).
func TestLoadDockerfile(t *testing.T) {
	p, res := load(t, map[string]string{"Dockerfile": "FROM ubuntu\nRUN exit 1\n", "binder/Dockerfile": "FROM x\n", "binder/apt.txt": "jq\n"}, Input{Settings: Settings{TargetRepoDir: "/srv/repo", UserID: 1001}})
	im := p.Images[0]
	if res.Buildpack != Docker || im.Dockerfile == nil || im.Dockerfile.Path != "binder/Dockerfile" || im.Dockerfile.Context != "." {
		t.Fatalf("dockerfile %+v", im.Dockerfile)
	}
	if !reflect.DeepEqual(im.Dockerfile.BuildArgs, map[string]string{"NB_USER": "jovyan", "NB_UID": "1001", "REPO_DIR": "/srv/repo"}) {
		t.Errorf("build args %v", im.Dockerfile.BuildArgs)
	}
	if len(im.Layers) != 0 || im.Config.Labels["repo2docker.ref"] != "None" || im.Config.Entrypoint != nil {
		t.Errorf("image %+v", im)
	}
	if !strings.Contains(strings.Join(res.Ignored, "\n"), "binder/apt.txt: ignored by DockerBuildPack") {
		t.Errorf("ignored %v", res.Ignored)
	}
	p, _ = load(t, map[string]string{"Dockerfile": "FROM x\n"}, Input{})
	if _, ok := p.Images[0].Dockerfile.BuildArgs["REPO_DIR"]; ok {
		t.Error("REPO_DIR passed without --target-repo-dir")
	}
}

// Every buildpack assemble cannot honour gives one error naming the file,
// the buildpack and what to use instead.
func TestLoadUnsupported(t *testing.T) {
	cases := []struct {
		files     map[string]string
		file, bp  string
		insteadOf string
	}{
		{map[string]string{"environment.yml": "dependencies: [r-base]\n", "requirements.txt": "x\n"}, "environment.yml", Conda, "requirements.txt"},
		{map[string]string{"binder/environment.yaml": "dependencies: [r-base]\n"}, "binder/environment.yaml", Conda, "rocker/binder"},
		{map[string]string{"runtime.txt": "r-2025-07-01\n", "install.R": "install.packages('x')\n"}, "install.R", R, "r-cran-"},
		{map[string]string{"DESCRIPTION": "Package: x\n"}, "DESCRIPTION", R, "rocker/binder"},
		{map[string]string{"Project.toml": "[deps]\n"}, "Project.toml", JuliaProjectToml, "julia"},
		{map[string]string{"REQUIRE": "julia 0.6\n"}, "REQUIRE", JuliaRequire, "Project.toml"},
		{map[string]string{"default.nix": "{}\n"}, "default.nix", Nix, "nixos/nix"},
	}
	for _, c := range cases {
		err := loadErr(t, c.files, Input{})
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %T %v", c.files, err, err)
			continue
		}
		msg := err.Error()
		if ue.Buildpack != c.bp || !strings.Contains(ue.File, c.file) || !strings.Contains(msg, c.bp) || !strings.Contains(ue.Instead, c.insteadOf) {
			t.Errorf("%v: %s", c.files, msg)
		}
		if strings.Count(msg, "\n") != 0 {
			t.Errorf("not one line: %q", msg)
		}
	}
	// install.R alone is ignored, as repo2docker ignores it.
	_, res := load(t, map[string]string{"install.R": "x\n", "requirements.txt": "y\n"}, Input{})
	if res.Buildpack != Python || !strings.Contains(strings.Join(res.Ignored, "\n"), "install.R: run by repo2docker's R buildpack only") {
		t.Errorf("install.R: %s %v", res.Buildpack, res.Ignored)
	}
}

// Every sample repository of testdata/binder plans as its README says,
// without a builder (as `assemble plan` does).
func TestLoadTestdata(t *testing.T) {
	cases := map[string]struct {
		buildpack string
		layers    []string
		err       []string
	}{
		"bare":                      {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "files:repository"}, nil},
		"apt-packages":              {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "deb:apt.txt", "files:repository"}, nil},
		"requirements":              {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "python:requirements.txt", "files:repository"}, nil},
		"binder-dir":                {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "deb:binder/apt.txt", "python:binder/requirements.txt", "files:repository", "run:binder/postBuild"}, nil},
		"runtime":                   {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "files:repository"}, nil},
		"pipfile-lock":              {Pipfile, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "python:Pipfile.lock", "files:repository"}, nil},
		"postbuild":                 {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "python:requirements.txt", "files:repository", "run:postBuild"}, nil},
		"start":                     {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "files:repository"}, nil},
		"python-package":            {Python, []string{"generated:repo2docker: notebook user", "deb:repo2docker: Python and base packages", "deb:repo2docker: Node", "run:repo2docker: Python environment", "python:pyproject.toml", "files:repository", "run:pyproject.toml"}, nil},
		"dockerfile":                {Docker, nil, nil},
		"unsupported-conda":         {"", nil, []string{"environment.yml", Conda}},
		"unsupported-r":             {"", nil, []string{"runtime.txt", "install.R", R}},
		"unsupported-r-description": {"", nil, []string{"DESCRIPTION", R}},
		"unsupported-julia":         {"", nil, []string{"Project.toml", JuliaProjectToml}},
		"unsupported-julia-require": {"", nil, []string{"REQUIRE", JuliaRequire}},
		"unsupported-nix":           {"", nil, []string{"default.nix", Nix}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := "../../testdata/binder/" + name
			if ok, why := Detect(dir); !ok {
				t.Errorf("not detected")
			} else if why == "" {
				t.Error("no reason")
			}
			p, res, err := Load(context.Background(), dir, Input{})
			if c.err != nil {
				if err == nil {
					t.Fatal("planned")
				}
				for _, w := range c.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q: %v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Buildpack != c.buildpack {
				t.Errorf("buildpack %s", res.Buildpack)
			}
			if got := kinds(p.Images[0]); !reflect.DeepEqual(got, c.layers) {
				t.Errorf("layers %v\nwant   %v", got, c.layers)
			}
		})
	}
}

// The requirements scan follows includes in every spelling pip accepts,
// finds the repository's packages and keeps everything else for pip.
func TestScanRequirements(t *testing.T) {
	dir := mkrepo(t, map[string]string{
		"binder/requirements.txt": "# top\n--requirement=a.txt\n-rb.txt\n--requirement c.txt\n-c constraints.txt\n" +
			"Notebook[all]==7.0 ; python_version >= '3.8' \\\n    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n" +
			".[test]\n--index-url https://example.org/simple\n-e git+https://example.org/x.git#egg=x\n",
		"binder/a.txt": "jupyterlab>=4 # lab\n", "binder/b.txt": "numpy\n", "binder/c.txt": "-r a.txt\n", "binder/constraints.txt": "numpy<2\n",
		"setup.py": "",
	})
	r, err := openRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := r.scanRequirements("binder/requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"jupyterlab", "notebook", "numpy"}; !reflect.DeepEqual(rf.names, want) {
		t.Errorf("names %v", rf.names)
	}
	if len(rf.local) != 1 || rf.local[0].arg != ".[test]" || rf.local[0].editable || rf.local[0].where != "binder/requirements.txt:8" {
		t.Errorf("local %+v", rf.local)
	}
	want := []string{"-r binder/a.txt", "-r binder/b.txt", "-r binder/c.txt", "--constraint binder/constraints.txt",
		"Notebook[all]==7.0 ; python_version >= '3.8'     --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"--index-url https://example.org/simple", "-e git+https://example.org/x.git#egg=x"}
	if !reflect.DeepEqual(rf.lines, want) {
		t.Errorf("lines:\n%q\nwant\n%q", rf.lines, want)
	}
	for _, f := range []string{"binder/requirements.txt", "binder/a.txt", "binder/b.txt", "binder/c.txt"} {
		if !slices.Contains(r.read, f) {
			t.Errorf("%s not recorded as read: %v", f, r.read)
		}
	}
	// A package of the repository named in an included file cannot be split off.
	dir = mkrepo(t, map[string]string{"requirements.txt": "-r more.txt\n", "more.txt": "-e .\n", "setup.py": ""})
	r, _ = openRepo(dir)
	if _, err := r.scanRequirements("requirements.txt"); err == nil || !strings.Contains(err.Error(), "more.txt:1") {
		t.Errorf("local ref in an include: %v", err)
	}
	for opt, want := range map[string][2]string{
		"--requirement=x.txt": {"--requirement", "x.txt"}, "--requirement x.txt": {"--requirement", "x.txt"}, "-rx.txt": {"--requirement", "x.txt"},
		"-r x.txt": {"--requirement", "x.txt"}, "-f=wheels": {"--find-links", "wheels"}, "--no-index": {"--no-index", ""},
		"--pre": {"--pre", ""}, "--extra-index-url=https://a/b": {"--extra-index-url", "https://a/b"}, "-Z x": {"-Z", "x"},
	} {
		if n, v := splitOption(opt); n != want[0] || v != want[1] {
			t.Errorf("%q: %q %q", opt, n, v)
		}
	}
}

// Advice names a base with the Python asked for.
func TestBaseAdvice(t *testing.T) {
	for in, want := range map[string]string{
		"3.12": "python:3.12-slim-bookworm", "2.7": "python:2.7-slim-buster", "2": "python:2.7-slim-buster", "3.6": "python:3.6-slim-buster",
		"3.7": "python:3.7-slim-bullseye", ">=3.12": "python:3.12-slim-bookworm", "~=3.10.1": "python:3.10-slim-bookworm",
		"<3.9": "a matching Python", "!=3.11": "a matching Python", ">=3.12,<4": "python:3.12-slim-bookworm",
	} {
		if got := baseAdvice(in); !strings.Contains(got, want) {
			t.Errorf("%q: %s", in, got)
		}
	}
	if !versionLess("3.6", "3.10") || versionLess("3.10", "3.6") || versionLess("3.7", "3.7") {
		t.Error("versionLess")
	}
}
