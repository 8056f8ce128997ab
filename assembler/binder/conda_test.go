package binder

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// environment.yml with python, pip and a pip: list is built with the Python
// layer on the Debian release of its Python; requirements.txt is ignored
// beside it, as repo2docker's conda buildpack ignores it.
func TestLoadCondaPipOnly(t *testing.T) {
	env := "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.9\n  - pip\n  - pip:\n    - binderdemo\n    - -r extra.txt\n    - --find-links wheels\n"
	p, res := load(t, map[string]string{"binder/environment.yml": env, "binder/extra.txt": "notebook\n", "binder/requirements.txt": "nope\n"}, Input{})
	im := p.Images[0]
	if res.Buildpack != Conda || im.Base != "deb:bullseye" || p.Debian.Suite != "bullseye" {
		t.Errorf("buildpack %s base %s", res.Buildpack, im.Base)
	}
	py := layerBy(t, im, plan.KindPython, "").Python
	if !reflect.DeepEqual(py.Packages, []string{"binderdemo", "--find-links binder/wheels"}) || !reflect.DeepEqual(py.Requirements, []string{"binder/extra.txt"}) {
		t.Errorf("python layer %+v", py)
	}
	if !reflect.DeepEqual(im.Config.Cmd, []string{"jupyter", "notebook", "--ip", "0.0.0.0"}) {
		t.Errorf("cmd %v", im.Config.Cmd)
	}
	if !strings.Contains(strings.Join(res.Ignored, "\n"), "binder/requirements.txt: ignored by CondaBuildPack") {
		t.Errorf("ignored %v", res.Ignored)
	}
	// An empty file is an empty environment: the default Python.
	p, _ = load(t, map[string]string{"environment.yml": ""}, Input{})
	if p.Images[0].Base != DefaultBase {
		t.Errorf("empty environment.yml: base %s", p.Images[0].Base)
	}
	// A local package in the pip: list is installed after the copy.
	p, _ = load(t, map[string]string{"environment.yml": "dependencies:\n  - pip:\n    - -e .\n", "setup.py": ""}, Input{})
	if l := p.Images[0].Layers[len(p.Images[0].Layers)-1]; l.Kind != plan.KindRun || !strings.Contains(l.Run.Command[2], "-e '.'") {
		t.Errorf("local package %+v", l)
	}
}

// R from conda stays refused, named with its line; bad files say where.
func TestLoadCondaRefused(t *testing.T) {
	err := loadErr(t, map[string]string{"environment.yml": "dependencies:\n  - python=3.11\n  - numpy>=1.2\n  - conda-forge::r-base\n  - pip:\n    - x\n"}, Input{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Buildpack != Conda {
		t.Fatalf("%T %v", err, err)
	}
	for _, want := range []string{"conda-forge::r-base (environment.yml:4)", "IRkernel", "r-cran-", "requirements.txt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "numpy") {
		t.Errorf("error names numpy: %v", err)
	}
	for files, want := range map[string]string{
		"- a\n- b\n":                               "environment.yml:1: the file must be a mapping",
		"dependencies: 3\n":                        "environment.yml:1: dependencies must be a list",
		"dependencies:\n  - python>=3.9\n":         "environment.yml:2: python>=3.9: pin a Python version",
		"dependencies:\n  - python=3.12\n":         "environment.yml:2 asks for Python 3.12",
		"dependencies:\n  - pip:\n    - 'x ==='\n": "environment.yml:2: pip",
		"dependencies:\n  - {npm: [x]}\n":          "only a pip: list",
		"dependencies: [\n":                        "fix the YAML syntax",
		"channels: conda-forge\n":                  "environment.yml:1: channels must be a list",
		"channels: [{a: b}]\n":                     "environment.yml:1: a channel is a name",
	} {
		err := loadErr(t, map[string]string{"environment.yml": files}, Input{})
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error lacks %q: %v", files, want, err)
		}
	}
}

// environment.yml with conda packages is a conda environment: Debian's
// base packages, repo2docker's base environment (with the file's Python),
// apt.txt, the file's packages from its channels, then the pip: list with
// the environment's Python; repo2docker's variables and PATH.
func TestLoadCondaPackages(t *testing.T) {
	env := "name: demo\nchannels:\n  - bioconda\n  - https://mirror.example/chan\ndependencies:\n  - python=3.11\n  - numpy>=1.26\n  - conda-forge::pandas\n  - pip\n  - pip:\n    - binderdemo\n"
	p, res := load(t, map[string]string{"binder/environment.yml": env, "binder/apt.txt": "curl\n", "binder/runtime.txt": "python-3.9\n"}, Input{})
	im := p.Images[0]
	want := []string{"generated:repo2docker: notebook user", "deb:repo2docker: base packages", "conda:repo2docker: base environment", "deb:binder/apt.txt", "conda:binder/environment.yml", "python:binder/environment.yml", "files:repository"}
	if !reflect.DeepEqual(kinds(im), want) {
		t.Errorf("layers %v", kinds(im))
	}
	if res.Buildpack != Conda || im.Base != DefaultBase {
		t.Errorf("buildpack %s base %s", res.Buildpack, im.Base)
	}
	base := layerBy(t, im, plan.KindConda, "repo2docker: base environment").Conda
	if base.Prefix != NBPythonPrefix || base.UID != 1000 || !reflect.DeepEqual(base.Channels, []string{"conda-forge"}) || base.Specs[0].Spec != "python=3.11" || len(base.Specs) != 1+len(DefaultCondaBaseEnv) {
		t.Errorf("base environment %+v", base)
	}
	repo := layerBy(t, im, plan.KindConda, "binder/environment.yml").Conda
	if !reflect.DeepEqual(repo.Channels, []string{"bioconda", "https://mirror.example/chan"}) ||
		!reflect.DeepEqual(repo.Specs, []plan.CondaSpec{{Spec: "python=3.11", Where: "binder/environment.yml:6"}, {Spec: "numpy>=1.26", Where: "binder/environment.yml:7"}, {Spec: "conda-forge::pandas", Where: "binder/environment.yml:8"}, {Spec: "pip", Where: "binder/environment.yml:9"}}) {
		t.Errorf("environment layer %+v", repo)
	}
	py := layerBy(t, im, plan.KindPython, "").Python
	if py.Interpreter != NBPythonPrefix+"/bin/python" || !reflect.DeepEqual(py.Packages, []string{"binderdemo"}) {
		t.Errorf("pip layer %+v", py)
	}
	e := envMap(im.Config.Env)
	if e["CONDA_DIR"] != "/srv/conda" || e["NB_PYTHON_PREFIX"] != NBPythonPrefix || e["KERNEL_PYTHON_PREFIX"] != NBPythonPrefix ||
		!strings.HasPrefix(e["PATH"], "/home/jovyan/.local/bin:/home/jovyan/.local/bin:/srv/conda/envs/notebook/bin:/srv/conda/bin:") || e["VIRTUAL_ENV"] != "" {
		t.Errorf("env %v", e)
	}
	if !reflect.DeepEqual(im.Config.Cmd, []string{"jupyter", "notebook", "--ip", "0.0.0.0"}) {
		t.Errorf("cmd %v", im.Config.Cmd)
	}
	if !strings.Contains(strings.Join(res.Ignored, "\n"), "binder/runtime.txt: ignored by CondaBuildPack") {
		t.Errorf("ignored %v", res.Ignored)
	}
	// No channels: conda-forge; no python: repo2docker's 3.10; the base
	// environment as the settings give it.
	p, _ = load(t, map[string]string{"environment.yml": "dependencies: [numpy]\n"}, Input{Settings: Settings{CondaBaseEnv: []string{"jupyterlab"}}})
	im = p.Images[0]
	base = layerBy(t, im, plan.KindConda, "repo2docker: base environment").Conda
	if !reflect.DeepEqual(base.Specs, []plan.CondaSpec{{Spec: "python=3.10", Where: "repo2docker: base environment"}, {Spec: "jupyterlab", Where: "repo2docker: base environment"}}) {
		t.Errorf("base %+v", base)
	}
	if c := layerBy(t, im, plan.KindConda, "environment.yml").Conda; !reflect.DeepEqual(c.Channels, []string{"conda-forge"}) {
		t.Errorf("channels %v", c.Channels)
	}
	if !reflect.DeepEqual(im.Config.Cmd, []string{"jupyter", "lab", "--ip", "0.0.0.0"}) {
		t.Errorf("cmd %v", im.Config.Cmd)
	}
}

// An explicit lock beside environment.yml is installed as it is: one conda
// layer holding the lock per platform.
func TestLoadCondaLock(t *testing.T) {
	lock := "# platform: linux-64\n@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/a-1-0.conda#" + strings.Repeat("0", 64) + "\n"
	p, res := load(t, map[string]string{"environment.yml": "dependencies: [python=3.12]\n", "conda-linux-64.lock": lock, "conda-linux-aarch64.lock": "@EXPLICIT\n", "poetry.lock": "[[package]]\n"}, Input{})
	im := p.Images[0]
	var condas []plan.Layer
	for _, l := range im.Layers {
		if l.Kind == plan.KindConda {
			condas = append(condas, l)
		}
	}
	if len(condas) != 1 || !reflect.DeepEqual(condas[0].Conda.Locks, map[string]string{"linux-64": "conda-linux-64.lock", "linux-aarch64": "conda-linux-aarch64.lock"}) {
		t.Fatalf("conda layers %+v", condas)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "conda-linux-64.lock (linux-64)") {
		t.Errorf("notes %v", res.Notes)
	}
	err := loadErr(t, map[string]string{"environment.yml": "dependencies: [x]\n", "env.lock": "@EXPLICIT\n"}, Input{})
	if !strings.Contains(err.Error(), "env.lock: an explicit lock without a \"# platform: linux-64\" line") {
		t.Errorf("%v", err)
	}
}
