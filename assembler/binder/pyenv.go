package binder

import (
	"fmt"
	"slices"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers/wheel"
)

// The Python environment of a deb: base. repo2docker gives the notebook
// user a conda environment at NB_PYTHON_PREFIX that it owns: `python` and
// `pip` are on PATH, and postBuild and notebooks `pip install` into it.
// Debian's python3 has no `python`, and its pip refuses to install into the
// system (PEP 668). So the image gets a virtual environment over Debian's
// python3 at repo2docker's prefix, made by `python3 -m venv` (pip comes in
// by ensurepip from Debian's python3-pip-whl, no index needed), owned by the
// notebook user, first on PATH after the user's own directories.
const (
	// NBPythonPrefix is repo2docker's NB_PYTHON_PREFIX (and
	// KERNEL_PYTHON_PREFIX): scripts written for repo2docker's images name it.
	NBPythonPrefix = AppBase + "/conda/envs/notebook"
	// NPMDir is repo2docker's NPM_DIR: `npm install -g` goes there, as the
	// notebook user.
	NPMDir = AppBase + "/npm"
)

// debianPythons are the Debian releases on Debian's mirror and their
// python3, oldest first: runtime.txt's python-3.X picks one.
var debianPythons = []struct{ suite, python string }{
	{"bullseye", "3.9"}, {"bookworm", "3.11"}, {"trixie", "3.13"},
}

// suitePython is the python3 of each Debian suite, for deb: bases.
var suitePython = map[string]string{"buster": "3.7", "bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}

// envPackages are what repo2docker's base image and Python buildpack give
// every image, as Debian packages: Python with venv (and so pip, from
// python3-pip-whl), and repo2docker's base packages less, unzip and
// gettext-base (envsubst).
var envPackages = []string{"python3", "python3-venv", "less", "unzip", "gettext-base"}

// buildWheels are the Debian packages holding the setuptools and wheel
// wheels of each release (bullseye's python-pip-whl holds them itself):
// repo2docker's environment has setuptools and wheel, and pip needs them
// to install a setup.py package without downloading a build backend.
var buildWheels = map[string][]string{
	"bookworm": {"python3-setuptools-whl", "python3-wheel-whl"},
	"trixie":   {"python3-setuptools-whl", "python3-wheel-whl"},
}

// debianWheels is where Debian keeps the wheels ensurepip installs.
const debianWheels = "/usr/share/python-wheels"

// nodePackages are Node and npm, which repo2docker's base environment has
// (jupyter labextension and postBuild scripts call npm).
var nodePackages = []string{"nodejs", "npm"}

// availablePythons lists the Pythons the Debian releases carry.
func availablePythons() string {
	var out []string
	for _, d := range debianPythons {
		out = append(out, fmt.Sprintf("%s (%s)", d.python, d.suite))
	}
	return strings.Join(out, ", ")
}

// venv reports whether the image gets the virtual environment: on a deb:
// base, whose python3 is Debian's. Another base's Python is used as it is.
func (b *builder) venv() bool { return b.debSuite != "" && b.conda == nil }

// useSuite makes the image a deb: image of suite, every Debian layer
// resolved against it.
func (b *builder) useSuite(suite, why string) {
	b.base, b.debSuite = "deb:"+suite, suite
	b.python, b.pyFrom = suitePython[suite], "Debian "+suite+"'s python3"
	b.res.Notes = append(b.res.Notes, fmt.Sprintf("%s: the image is built on Debian %s (Python %s), apt.txt too", why, suite, b.python))
}

// pickSuite chooses the Debian release carrying Python want ("3.9") for
// an image on the default base; false when none does.
func (b *builder) pickSuite(want, from string) bool {
	for _, d := range debianPythons {
		if d.python == want {
			b.useSuite(d.suite, fmt.Sprintf("%s asks for Python %s", from, want))
			return true
		}
	}
	return false
}

// pickSuiteFor chooses the newest Debian release whose Python spec allows,
// for pyproject's requires-python on the default base.
func (b *builder) pickSuiteFor(spec wheel.Specifiers, from string) bool {
	for i := len(debianPythons) - 1; i >= 0; i-- {
		v, err := wheel.ParseVersion(debianPythons[i].python)
		if err == nil && spec.Contains(v, true) {
			b.useSuite(debianPythons[i].suite, from+" excludes Python "+b.python)
			return true
		}
	}
	return false
}

// envLayers are the shared layers of a deb: image, below anything the
// repository names: Python and the base packages, Node, and the
// environment the notebook user owns.
func (b *builder) envLayers() []plan.Layer {
	pkgs := func(names []string, where string) []plan.Package {
		var out []plan.Package
		for _, n := range names {
			out = append(out, plan.Package{Name: n, Where: where})
		}
		return out
	}
	return []plan.Layer{
		{Kind: plan.KindDeb, Deb: &plan.DebLayer{Packages: pkgs(append(slices.Clone(envPackages), buildWheels[b.debSuite]...), "repo2docker: Python and base packages")},
			Source: "repo2docker: Python and base packages", Comment: "python3, venv and repo2docker's base packages"},
		{Kind: plan.KindDeb, Deb: &plan.DebLayer{Packages: pkgs(nodePackages, "repo2docker: Node")},
			Source: "repo2docker: Node", Comment: "nodejs and npm"},
		{Kind: plan.KindRun, Source: "repo2docker: Python environment", Comment: "the notebook user's Python environment at " + NBPythonPrefix,
			Run: &plan.RunLayer{Command: []string{"/bin/sh", "-c", venvScript(b.u)}, Env: []string{"PATH=" + defaultPath}}},
	}
}

// venvScript makes the virtual environment with pip (ensurepip installs
// Debian's own pip wheel, offline), setuptools and wheel (from Debian's
// wheels too), and npm's global prefix, both the notebook user's, as
// repo2docker chowns its conda and npm directories.
func venvScript(u notebookUser) string {
	own := fmt.Sprintf("%d:%d", u.uid, u.uid)
	return strings.Join([]string{
		"set -e",
		"python3 -m venv " + NBPythonPrefix,
		NBPythonPrefix + "/bin/python -m pip install --quiet --no-index --no-cache-dir --disable-pip-version-check --find-links " + debianWheels + " setuptools wheel",
		// Compiled now, valid whatever the files' times in later layers, so
		// that running pip later writes no bytecode into those layers.
		NBPythonPrefix + "/bin/python -m compileall -q --invalidation-mode unchecked-hash " + NBPythonPrefix + "/lib",
		"mkdir -p " + NPMDir + "/bin",
		"echo prefix=" + NPMDir + " > " + NPMDir + "/npmrc",
		"chown -R " + own + " " + AppBase + "/conda " + NPMDir,
		"rm -rf /root/.cache",
	}, "\n") + "\n"
}

// venvEnv is the environment's part of the image's variables, as
// repo2docker's conda buildpack names them.
func venvEnv() []string {
	return []string{
		"NB_PYTHON_PREFIX=" + NBPythonPrefix,
		"KERNEL_PYTHON_PREFIX=" + NBPythonPrefix,
		"VIRTUAL_ENV=" + NBPythonPrefix,
		"NPM_DIR=" + NPMDir,
		"NPM_CONFIG_GLOBALCONFIG=" + NPMDir + "/npmrc",
	}
}
