package binder

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/layers/wheel"
)

// The repository's own packages (Pipfile {path = "."}, "-e ." in
// requirements.txt, a setup.py or pyproject.toml at the root) declare
// dependencies that must be installed from the same sources as the rest
// (indexes, --find-links wheelhouses), which the sandbox cannot reach. So
// while planning, each package's build backend runs in the sandbox over the
// image's environment and a copy of the package's build files, and writes
// the package's metadata (PEP 517's prepare_metadata_for_build_wheel); its
// Requires-Dist go to the Python layer, which the wheel resolver fills from
// those sources. pip then installs the package itself after the repository
// is copied, offline, its dependencies already there. Static pyproject.toml
// [project] dependencies are read without running anything.

const (
	metaPkgDir = "/tmp/assemble-package"
	metaOutDir = "/tmp/assemble-metadata"
)

// metadataScript runs the package's PEP 517 backend through pip's own
// vendored hook caller (pip 20.3 to 25 spell it differently) and copies the
// METADATA it prepares to metaOutDir.
const metadataScript = `import os, shutil, sys
try:
    from pip._vendor.pyproject_hooks import BuildBackendHookCaller as Caller
except ImportError:
    from pip._vendor.pep517.wrappers import Pep517HookCaller as Caller
backend, backend_path = "setuptools.build_meta:__legacy__", None
if os.path.exists("pyproject.toml"):
    with open("pyproject.toml", "rb") as f:
        text = f.read()
    try:
        import tomllib as toml
        data = toml.loads(text.decode())
    except ImportError:
        try:
            from pip._vendor import tomli as toml
        except ImportError:
            from pip._vendor import toml
        data = toml.loads(text.decode())
    bs = data.get("build-system", {})
    backend = bs.get("build-backend", backend)
    backend_path = bs.get("backend-path")
os.makedirs(sys.argv[1] + "/prepare")
name = Caller(".", backend, backend_path=backend_path).prepare_metadata_for_build_wheel(sys.argv[1] + "/prepare")
shutil.copy(os.path.join(sys.argv[1], "prepare", name, "METADATA"), sys.argv[1] + "/METADATA")
`

// buildFiles are the package files a build backend reads to say what the
// package needs; a notebook edit changes none of them.
var buildFiles = []string{"**/*.py", "*.cfg", "*.toml", "*.txt", "*.md", "*.rst", "*.in", "VERSION*", "**/VERSION*"}

// localDeps adds the declared dependencies of the repository's packages to
// py's layer, reading them in the sandbox over below (the image's layers
// under the Python layer).
func (b *builder) localDeps(ctx context.Context, py *pyPlan, below []plan.Layer) error {
	if !b.venv() || len(py.local) == 0 {
		return nil
	}
	if b.in.Builder == nil {
		b.res.Notes = append(b.res.Notes, "planned without a builder: the dependencies the repository's packages declare are read when it is built")
		return nil
	}
	for _, l := range py.local {
		if b.staticDeps(l) {
			continue
		}
		deps, err := b.packageDeps(ctx, l, below)
		if err != nil {
			return err
		}
		if len(deps) == 0 {
			continue
		}
		if py.layer == nil {
			py.layer = &plan.PythonLayer{}
		}
		for _, d := range deps {
			py.layer.Packages = append(py.layer.Packages, d)
			if q, err := wheel.ParseRequirement(d); err == nil {
				py.names = append(py.names, wheel.NormalizeName(q.Name))
			}
		}
		py.sources = append(py.sources, l.where)
	}
	return nil
}

// staticDeps reports a root pyproject.toml whose dependencies the plan
// already took from [project] (PythonBuildPack's own package).
func (b *builder) staticDeps(l localRef) bool {
	if l.where != "pyproject.toml" {
		return false
	}
	pp, err := b.r.pyproject()
	return err == nil && !contains(pp.strings(pp.Project, "dynamic"), "dependencies")
}

// packageDeps runs the package's backend in the sandbox and returns its
// Requires-Dist, those of extras the reference asks for included.
func (b *builder) packageDeps(ctx context.Context, l localRef, below []plan.Layer) ([]string, error) {
	arg, extras := splitExtras(l.arg)
	dir := path.Clean(path.Join(l.dir, arg))
	layers := append([]plan.Layer(nil), below...)
	requires, err := b.buildRequires(dir)
	if err != nil {
		return nil, err
	}
	if len(requires) > 0 {
		// The backend, in this throwaway image only.
		layers = append(layers, plan.Layer{Kind: plan.KindPython, Source: path.Join(dir, "pyproject.toml"), Comment: "the package's build backend",
			Python: &plan.PythonLayer{Packages: requires, Interpreter: NBPythonPrefix + "/bin/python"}})
	}
	layers = append(layers,
		plan.Layer{Kind: plan.KindFiles, Source: l.where, Comment: "the package's build files",
			Files: &plan.FilesLayer{Dir: dir, Dest: metaPkgDir, Include: buildFiles, UID: b.u.uid, GID: b.u.uid, NoIgnoreFile: true}},
		plan.Layer{Kind: plan.KindRun, Source: l.where, Comment: "the package's metadata",
			Run: &plan.RunLayer{Command: []string{"python", "-c", metadataScript, metaOutDir}, WorkDir: metaPkgDir,
				Env: withEnv(b.env(), "PIP_NO_INPUT=1", "SOURCE_DATE_EPOCH=0")}})
	im := plan.Image{Name: "binder-package-metadata", Tags: []string{"latest"}, Base: b.base, Platforms: []string{b.o.platform}, Layers: layers}
	img, err := b.in.Builder.Build(ctx, b.r.root, im, b.o.platform)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the dependencies of the package in ./%s with its build backend: %w", l.where, dir, err)
	}
	snap, err := b.in.Builder.Snapshot(ctx, img, []string{metaOutDir + "/METADATA"})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.where, err)
	}
	meta, err := fs.ReadFile(snap, strings.TrimPrefix(metaOutDir, "/")+"/METADATA")
	if err != nil {
		return nil, fmt.Errorf("%s: the build backend of ./%s wrote no METADATA: %w", l.where, dir, err)
	}
	return requiresDist(string(meta), extras), nil
}

// splitExtras splits ".[a,b]" into "." and its extras.
func splitExtras(arg string) (string, []string) {
	p, rest, ok := strings.Cut(arg, "[")
	if !ok {
		return arg, nil
	}
	var out []string
	for _, e := range strings.Split(strings.TrimSuffix(rest, "]"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, wheel.NormalizeName(e))
		}
	}
	return p, out
}

var extraMarkerRE = lazyregexp.New(`extra\s*==\s*["']([^"']+)["']`)

// requiresDist reads the Requires-Dist lines of METADATA: those without an
// extra marker, and those of the extras asked for (their marker dropped,
// as pip evaluates it true for them).
func requiresDist(meta string, extras []string) []string {
	var out []string
	for _, line := range strings.Split(meta, "\n") {
		v, ok := strings.CutPrefix(line, "Requires-Dist:")
		if !ok {
			if strings.TrimSpace(line) == "" {
				break // the headers end; the description follows
			}
			continue
		}
		v = strings.TrimSpace(v)
		m := extraMarkerRE.FindStringSubmatch(v)
		switch {
		case m == nil:
			out = append(out, v)
		case contains(extras, wheel.NormalizeName(m[1])):
			req, _, _ := strings.Cut(v, ";")
			out = append(out, strings.TrimSpace(req))
		}
	}
	return out
}

// buildRequires reads [build-system] requires of the package in dir.
func (b *builder) buildRequires(dir string) ([]string, error) {
	rel := path.Join(dir, "pyproject.toml")
	if !b.r.exists(rel) {
		return nil, nil
	}
	data, err := b.r.readFile(rel)
	if err != nil {
		return nil, err
	}
	var pp pyprojectFile
	if _, err := toml.Decode(string(data), &pp); err != nil {
		return nil, fmt.Errorf("%s: %w (fix the TOML syntax)", rel, err)
	}
	return pp.strings(pp.BuildSystem, "requires"), nil
}

// isBuildTool reports a setuptools or wheel requirement: the environment
// has both, as repo2docker's has.
func isBuildTool(req string) bool {
	q, err := wheel.ParseRequirement(req)
	if err != nil {
		return false
	}
	n := wheel.NormalizeName(q.Name)
	return n == "setuptools" || n == "wheel"
}

// backendLayer installs the build backends of the repository's packages
// that the environment lacks (hatchling, flit-core, ...) below the
// repository, for pip to build them offline; the install step removes them
// again. setuptools and wheel requirements join py's layer.
func (b *builder) backendLayer(py *pyPlan) (*plan.Layer, error) {
	var drop, where []string
	for _, l := range py.local {
		arg, _ := splitExtras(l.arg)
		dir := path.Clean(path.Join(l.dir, arg))
		reqs, err := b.buildRequires(dir)
		if err != nil {
			return nil, err
		}
		for _, req := range reqs {
			switch {
			case !isBuildTool(req):
				drop = append(drop, req)
				where = append(where, path.Join(dir, "pyproject.toml"))
			case l.where != "pyproject.toml": // the root package's are in already
				if py.layer == nil {
					py.layer = &plan.PythonLayer{}
				}
				py.layer.Packages = append(py.layer.Packages, req)
			}
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	for _, req := range drop {
		if q, err := wheel.ParseRequirement(req); err == nil {
			py.backends = append(py.backends, wheel.NormalizeName(q.Name))
		}
	}
	layer := &plan.PythonLayer{Packages: drop}
	if b.venv() {
		layer.Interpreter = NBPythonPrefix + "/bin/python"
	}
	return &plan.Layer{Kind: plan.KindPython, Python: layer, Source: strings.Join(slices.Compact(where), " "),
		Comment: "build backends, removed once the repository's packages are installed"}, nil
}

// backendsOnlyScript prints the distributions that only the backends named
// in its arguments need: their closure of requirements, less the closure of
// every requested distribution (pip's REQUESTED) and of pip, setuptools and
// wheel.
const backendsOnlyScript = `import re, sys
from importlib import metadata
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
dists = {norm(d.metadata["Name"]): d for d in metadata.distributions()}
def closure(roots):
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen or n not in dists:
            continue
        seen.add(n)
        for r in dists[n].requires or []:
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r)
            if m and "extra==" not in r.replace(" ", ""):
                todo.append(norm(m.group(1)))
    return seen
roots = {norm(a) for a in sys.argv[1:]}
keep = {"pip", "setuptools", "wheel"} | {n for n, d in dists.items() if n not in roots and d.read_text("REQUESTED") is not None}
print(" ".join(sorted(closure(roots) - closure(keep))))
`
