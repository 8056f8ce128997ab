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

// Conda packages stay refused, named with their lines; bad files say where.
func TestLoadCondaRefused(t *testing.T) {
	err := loadErr(t, map[string]string{"environment.yml": "dependencies:\n  - python=3.11\n  - numpy>=1.2\n  - conda-forge::r-base\n  - pip:\n    - x\n"}, Input{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Buildpack != Conda {
		t.Fatalf("%T %v", err, err)
	}
	for _, want := range []string{"numpy>=1.2 (line 3)", "conda-forge::r-base (line 4)", "pip: list", "requirements.txt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	for files, want := range map[string]string{
		"- a\n- b\n":                               "environment.yml:1: the file must be a mapping",
		"dependencies: 3\n":                        "environment.yml:1: dependencies must be a list",
		"dependencies:\n  - python>=3.9\n":         "environment.yml:2: python>=3.9: pin a Python version",
		"dependencies:\n  - python=3.12\n":         "environment.yml:2 asks for Python 3.12",
		"dependencies:\n  - pip:\n    - 'x ==='\n": "environment.yml:2: pip",
		"dependencies:\n  - {npm: [x]}\n":          "only a pip: list",
		"dependencies: [\n":                        "fix the YAML syntax",
	} {
		err := loadErr(t, map[string]string{"environment.yml": files}, Input{})
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error lacks %q: %v", files, want, err)
		}
	}
}
