package binder

import (
	"reflect"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// A backend other than setuptools and wheel is installed in its own layer
// for pip to build the package offline, and removed again by the install
// step; setuptools and wheel requirements join the environment.
func TestLoadBuildBackend(t *testing.T) {
	pyproject := "[project]\nname = \"mwt\"\nversion = \"0.1\"\ndependencies = [\"there\"]\n[build-system]\nrequires = [\"hatchling>=1.20\", \"wheel\"]\nbuild-backend = \"hatchling.build\"\n"
	p, _ := load(t, map[string]string{"pyproject.toml": pyproject, "mwt/__init__.py": ""}, Input{})
	im := p.Images[0]
	got := kinds(im)
	want := []string{"python:pyproject.toml", "python:pyproject.toml", "files:repository", "run:pyproject.toml"}
	if !reflect.DeepEqual(got[len(got)-4:], want) {
		t.Fatalf("layers %v", got)
	}
	deps, backend := im.Layers[len(im.Layers)-4].Python, im.Layers[len(im.Layers)-3].Python
	if !reflect.DeepEqual(deps.Packages, []string{"wheel", "there"}) || !reflect.DeepEqual(backend.Packages, []string{"hatchling>=1.20"}) ||
		backend.Interpreter != NBPythonPrefix+"/bin/python" {
		t.Errorf("deps %+v backend %+v", deps, backend)
	}
	script := im.Layers[len(im.Layers)-1].Run.Command[2]
	if !strings.Contains(script, "REQUESTED") || !strings.Contains(script, " hatchling)\n") || !strings.Contains(script, "pip uninstall --yes --quiet $drop") {
		t.Errorf("install script:\n%s", script)
	}
	// A Pipfile's {path = "."} package: its backend too.
	p, _ = load(t, map[string]string{"Pipfile": "[packages]\nmwt = {path = \".\"}\n", "pyproject.toml": pyproject}, Input{})
	if l := layerBy(t, p.Images[0], plan.KindPython, "pyproject.toml").Python; !reflect.DeepEqual(l.Packages, []string{"hatchling>=1.20"}) {
		t.Errorf("Pipfile package backend %+v", l)
	}
}

// Requires-Dist of METADATA: plain ones, and those of the extras asked for.
func TestRequiresDist(t *testing.T) {
	meta := "Metadata-Version: 2.1\nName: x\nRequires-Dist: a>=1\nRequires-Dist: b; python_version >= \"3\"\nRequires-Dist: c; extra == \"test\"\nRequires-Dist: d ; extra == 'docs'\n\nRequires-Dist: not-a-header\n"
	if got := requiresDist(meta, nil); !reflect.DeepEqual(got, []string{"a>=1", `b; python_version >= "3"`}) {
		t.Errorf("no extras: %q", got)
	}
	if got := requiresDist(meta, []string{"docs"}); !reflect.DeepEqual(got, []string{"a>=1", `b; python_version >= "3"`, "d"}) {
		t.Errorf("docs: %q", got)
	}
	if arg, ex := splitExtras(".[Docs, test]"); arg != "." || !reflect.DeepEqual(ex, []string{"docs", "test"}) {
		t.Errorf("splitExtras %q %q", arg, ex)
	}
}
