package binder

import (
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// runtime.txt's python-3.X picks the Debian release that carries it, for the
// whole image; python-3 and no runtime.txt keep the default; a version no
// release carries names those that exist and --base.
func TestLoadRuntimePicksDebianRelease(t *testing.T) {
	for files, suite := range map[string]string{
		"python-3.9":  "bullseye",
		"python-3.13": "trixie",
		"python-3.11": "bookworm",
		"python-3":    "bookworm",
		"":            "bookworm",
	} {
		repo := map[string]string{"apt.txt": "jq\n"}
		if files != "" {
			repo["runtime.txt"] = files + "\n"
		}
		p, _ := load(t, repo, Input{})
		if p.Images[0].Base != "deb:"+suite || p.Debian == nil || p.Debian.Suite != suite {
			t.Errorf("%q: base %s, debian %+v", files, p.Images[0].Base, p.Debian)
		}
	}
	// Pipfile's python_version wins over runtime.txt, as in repo2docker.
	p, _ := load(t, map[string]string{"Pipfile": "[packages]\nx = \"*\"\n[requires]\npython_version = \"3.9\"\n", "runtime.txt": "python-3.13\n"}, Input{})
	if p.Images[0].Base != "deb:bullseye" {
		t.Errorf("Pipfile 3.9: base %s", p.Images[0].Base)
	}
	err := loadErr(t, map[string]string{"runtime.txt": "python-3.10\n"}, Input{})
	for _, want := range []string{"runtime.txt asks for Python 3.10", "3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie)", "--base"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// A base the user chose is kept, and checked.
	err = loadErr(t, map[string]string{"runtime.txt": "python-3.9\n"}, Input{Request: plan.Request{Base: "deb:bookworm"}})
	if !strings.Contains(err.Error(), "3.11") {
		t.Errorf("--base deb:bookworm with python-3.9: %v", err)
	}
}

// On a deb: base the image gets the notebook user's environment: a venv at
// NB_PYTHON_PREFIX made in a shared run layer (no repository file in its
// inputs), Node in a shared layer, requirements installed into the venv.
func TestLoadPythonEnvironment(t *testing.T) {
	p, _ := load(t, map[string]string{"requirements.txt": "binderdemo\n", "apt.txt": "jq\n"}, Input{})
	im := p.Images[0]
	run := layerBy(t, im, plan.KindRun, "repo2docker: Python environment").Run
	for _, want := range []string{"python3 -m venv /srv/conda/envs/notebook", "chown -R 1000:1000 /srv/conda /srv/npm", "prefix=/srv/npm"} {
		if !strings.Contains(run.Command[2], want) {
			t.Errorf("venv script lacks %q:\n%s", want, run.Command[2])
		}
	}
	if run.User != "" || run.Network {
		t.Errorf("venv run %+v", run)
	}
	node := layerBy(t, im, plan.KindDeb, "repo2docker: Node").Deb
	if len(node.Packages) != 2 || node.Packages[0].Name != "nodejs" || node.Packages[1].Name != "npm" {
		t.Errorf("node %+v", node)
	}
	if py := layerBy(t, im, plan.KindPython, "").Python; py.Interpreter != "/srv/conda/envs/notebook/bin/python" {
		t.Errorf("python layer interpreter %q", py.Interpreter)
	}
	// Another base's Python is used as it is.
	p, res := load(t, map[string]string{"requirements.txt": "binderdemo\n"}, Input{Request: plan.Request{Base: "docker://docker.io/library/python:3.12-slim"}})
	for _, l := range p.Images[0].Layers {
		if l.Source == "repo2docker: Python environment" || (l.Python != nil && l.Python.Interpreter != "") {
			t.Errorf("venv on a non-Debian base: %+v (notes %v)", l, res.Notes)
		}
	}
}
