package binder

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// A conda environment as repo2docker's CondaBuildPack makes it: CONDA_DIR
// at /srv/conda, the notebook environment at NB_PYTHON_PREFIX, first on
// PATH, owned by the notebook user. Its base environment (Python and the
// notebook stack) is one layer, shared by every repository asking for the
// same Python; environment.yml's packages are the next, solved with the
// base's packages kept as they are; its pip: list goes to the wheel
// installer with the environment's Python.
const (
	// CondaDir is repo2docker's CONDA_DIR.
	CondaDir = AppBase + "/conda"
	// condaBasePackages are repo2docker's base packages from Debian, below
	// the environment (no Python: conda brings its own).
	condaBasePackagesWhere = "repo2docker: base packages"
)

// DefaultCondaBaseEnv is repo2docker's base environment
// (buildpacks/conda/environment.yml) less python, which environment.yml's
// python spec (or repo2docker's default 3.10) adds.
var DefaultCondaBaseEnv = []string{
	"nodejs=20", "pip", "ipywidgets=8", "jupyter-offlinenotebook", "jupyter-resource-usage",
	"jupyter_server=2", "jupyterhub-singleuser=5", "jupyterlab=4", "notebook=7",
}

// DefaultCondaPython is repo2docker's Python when environment.yml names none.
const DefaultCondaPython = "3.10"

// condaBaseDebs are repo2docker's base packages less Python.
var condaBaseDebs = []string{"less", "unzip", "gettext-base"}

// condaPlan is the conda environment of the image.
type condaPlan struct {
	file     string
	channels []string
	python   string // the Python spec the base environment gets ("python=3.11")
	base     []string
	specs    []plan.CondaSpec
	locks    map[string]string
	names    []string
}

// newCondaPlan plans the environment environment.yml (rel) asks for.
func newCondaPlan(b *builder, rel string, env *condaEnv, locks map[string]string) *condaPlan {
	c := &condaPlan{file: rel, channels: env.channels, specs: env.specs, locks: locks, base: b.in.CondaBaseEnv}
	if c.base == nil {
		c.base = DefaultCondaBaseEnv
	}
	if len(c.channels) == 0 {
		c.channels = []string{"conda-forge"} // repo2docker's .condarc
	}
	c.python = env.pySpec
	b.python, b.pyFrom = env.python, fmt.Sprintf("%s:%d", rel, env.pyLine)
	if c.python == "" {
		c.python = "python=" + DefaultCondaPython
		b.python, b.pyFrom = DefaultCondaPython, "repo2docker's default for "+rel
	}
	for _, n := range c.base {
		c.names = append(c.names, specName(n))
	}
	c.names = append(c.names, env.names...)
	if b.python != "" && versionLess(b.python, "3.7") {
		b.res.Notes = append(b.res.Notes, fmt.Sprintf("%s asks for Python %s: repo2docker would make a separate kernel environment with the notebook server on 3.10; here the one environment at %s has Python %s", b.pyFrom, b.python, NBPythonPrefix, b.python))
	}
	if len(locks) > 0 {
		var ls []string
		for sd, f := range locks {
			ls = append(ls, f+" ("+sd+")")
		}
		sort.Strings(ls)
		b.res.Notes = append(b.res.Notes, "the explicit lock "+strings.Join(ls, ", ")+" is installed as it is (no solve, no base environment): it must hold the notebook server too")
	}
	return c
}

var specNameRE = lazyregexp.New(`^([^\s=<>!~\[]+)`)

func specName(spec string) string {
	n := specNameRE.FindString(strings.TrimSpace(spec))
	if i := strings.LastIndex(n, "::"); i >= 0 {
		n = n[i+2:]
	}
	return strings.ToLower(n)
}

// lockPlatformRE reads the platform line conda and conda-lock write.
var lockPlatformRE = lazyregexp.New(`(?m)^#\s*platform:\s*(\S+)\s*$`)

// condaLocks finds explicit locks in dir (conda-lock's conda-linux-64.lock,
// `conda list --explicit` output saved as *.lock), by conda subdir.
func (r *repo) condaLocks(dir string) (map[string]string, error) {
	p, err := r.resolve(dir)
	if err != nil {
		return nil, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, nil
	}
	out := map[string]string{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") || !e.Type().IsRegular() {
			continue
		}
		rel := path.Join(dir, e.Name())
		b, err := r.readFile(rel)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(string(b), "\n@EXPLICIT") && !strings.HasPrefix(string(b), "@EXPLICIT") {
			continue // a lock of another tool (conda-lock's YAML, pixi's)
		}
		sd := ""
		if m := lockPlatformRE.FindSubmatch(b); m != nil {
			sd = string(m[1])
		} else if s, ok := strings.CutPrefix(strings.TrimSuffix(e.Name(), ".lock"), "conda-"); ok {
			sd = s
		}
		if sd == "" {
			return nil, fmt.Errorf("%s: an explicit lock without a \"# platform: linux-64\" line; add it, or name the file conda-<platform>.lock", rel)
		}
		if prev, ok := out[sd]; ok {
			return nil, fmt.Errorf("%s and %s are both explicit locks for %s: keep one", prev, rel, sd)
		}
		out[sd] = rel
	}
	return out, nil
}

// condaLayers are the environment's layers: below apt.txt, the base
// packages and the base environment; above it, environment.yml's packages.
// With a lock, the lock alone.
func (b *builder) condaLayers() (below, above []plan.Layer) {
	c, u := b.conda, b.u
	if b.debSuite != "" {
		var pkgs []plan.Package
		for _, n := range condaBaseDebs {
			pkgs = append(pkgs, plan.Package{Name: n, Where: condaBasePackagesWhere})
		}
		below = append(below, plan.Layer{Kind: plan.KindDeb, Deb: &plan.DebLayer{Packages: pkgs}, Source: condaBasePackagesWhere, Comment: "repo2docker's base packages"})
	}
	if len(c.locks) > 0 {
		specs := append(baseSpecs(c), c.specs...)
		above = append(above, plan.Layer{Kind: plan.KindConda, Source: c.file, Comment: "conda environment (explicit lock)",
			Conda: &plan.CondaLayer{Prefix: NBPythonPrefix, Channels: c.channels, Specs: specs, Locks: c.locks, UID: u.uid, GID: u.uid}})
		return below, above
	}
	below = append(below, plan.Layer{Kind: plan.KindConda, Source: "repo2docker: base environment", Comment: "conda base environment: " + c.python + " and the notebook server",
		Conda: &plan.CondaLayer{Prefix: NBPythonPrefix, Channels: []string{"conda-forge"}, Specs: baseSpecs(c), UID: u.uid, GID: u.uid}})
	above = append(above, plan.Layer{Kind: plan.KindConda, Source: c.file, Comment: "conda packages of " + c.file,
		Conda: &plan.CondaLayer{Prefix: NBPythonPrefix, Channels: c.channels, Specs: slices.Clone(c.specs), UID: u.uid, GID: u.uid}})
	return below, above
}

func baseSpecs(c *condaPlan) []plan.CondaSpec {
	out := []plan.CondaSpec{{Spec: c.python, Where: "repo2docker: base environment"}}
	for _, s := range c.base {
		out = append(out, plan.CondaSpec{Spec: s, Where: "repo2docker: base environment"})
	}
	return out
}

// condaEnvVars are the conda buildpack's variables.
func condaEnvVars() []string {
	return []string{
		"CONDA_DIR=" + CondaDir,
		"NB_PYTHON_PREFIX=" + NBPythonPrefix,
		"MAMBA_ROOT_PREFIX=" + CondaDir,
		"KERNEL_PYTHON_PREFIX=" + NBPythonPrefix,
		"CONDA_DEFAULT_ENV=" + NBPythonPrefix,
	}
}
