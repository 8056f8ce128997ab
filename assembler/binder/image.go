package binder

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/patternmatcher/ignorefile"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
)

// defaultPath is the PATH of a base that sets none (a deb: root), as Docker
// and podman assume.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// suitePython is the python3 of each Debian suite, for deb: bases.
var suitePython = map[string]string{"buster": "3.7", "bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}

// envPackages are what repo2docker's base image and Python buildpack give
// every image, as Debian packages: Python with pip (postBuild scripts and
// users call pip), and repo2docker's base packages less, unzip and
// gettext-base (envsubst).
var envPackages = []string{"python3", "python3-pip", "less", "unzip", "gettext-base"}

// builder plans the image of PythonBuildPack or PipfileBuildPack.
type builder struct {
	r   *repo
	d   *detection
	in  plan.Input
	u   notebookUser
	o   *options
	res *Result

	base     string
	debSuite string // the suite of a deb: base, else ""
	accounts *accountFiles
	basePath string
	python   string // the base's Python ("3.11"), "" when unknown
	pyFrom   string // where python came from, for messages
}

// newBuilder starts planning on the base asked for (deb:bookworm by default).
func newBuilder(r *repo, d *detection, in plan.Input, u notebookUser, o *options, res *Result) *builder {
	b := &builder{r: r, d: d, in: in, u: u, o: o, res: res, base: in.Base, basePath: defaultPath}
	if b.base == "" {
		b.base = DefaultBase
	}
	if s, ok := strings.CutPrefix(b.base, "deb:"); ok {
		b.debSuite = s
		if py, ok := suitePython[s]; ok {
			b.python, b.pyFrom = py, "Debian "+s+"'s python3"
		}
	}
	return b
}

// readBase learns the base's accounts, PATH and (for a base that is not a
// deb: root) Python, from the builder when there is one.
func (b *builder) readBase(ctx context.Context) error {
	r, in, o, res := b.r, b.in, b.o, b.res
	if in.Builder == nil {
		if b.debSuite != "" {
			b.accounts = debianAccounts()
		} else {
			b.accounts = &accountFiles{}
			res.Notes = append(res.Notes, "planned without reading the base "+b.base+": the notebook user's /etc/passwd and /etc/group hold only that user")
		}
		return nil
	}
	img, err := in.Builder.Build(ctx, r.root, plan.Image{Name: "binder-base", Tags: []string{"latest"}, Base: b.base, Platforms: []string{o.platform}}, o.platform)
	if err != nil {
		return fmt.Errorf("reading the base %s: %w", b.base, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the base %s: %w", b.base, err)
	}
	for _, e := range cf.Config.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok && v != "" {
			b.basePath = v
		}
	}
	// Only what the accounts need, remembered across builds by the base's layers.
	snap, err := in.Builder.Snapshot(ctx, img, []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/skel"})
	if err != nil {
		return fmt.Errorf("reading the base %s: %w", b.base, err)
	}
	if b.accounts, err = readAccounts(snap); err != nil {
		return fmt.Errorf("base %s: %w", b.base, err)
	}
	if b.debSuite == "" {
		fsys, err := oci.FS(img)
		if err != nil {
			return fmt.Errorf("reading the base %s: %w", b.base, err)
		}
		if t, err := wheel.Probe(fsys); err == nil {
			b.python, b.pyFrom = t.Python, "the base "+b.base+"'s Python"
		}
	}
	return nil
}

// image plans the layers and configuration, bottom to top as repo2docker's
// template orders them: the user (with the entrypoint), system packages,
// Python packages, the repository, then what must run over the repository.
func (b *builder) image(ctx context.Context) (plan.Image, error) {
	r, u := b.r, b.u
	im := plan.Image{Base: b.base}

	// What to install with pip: requirements files, inline lines and the
	// repository's own packages (installed after the copy). A deb: base's
	// Python is known without reading the base, so a wrong runtime.txt fails
	// before anything is built.
	var py *pyPlan
	var err error
	if b.debSuite != "" {
		if py, err = b.python3(); err != nil {
			return im, err
		}
	}
	if err := b.readBase(ctx); err != nil {
		return im, err
	}
	if py == nil {
		if py, err = b.python3(); err != nil {
			return im, err
		}
	}

	withHomeDir := u.repoDir != u.home
	users, err := userLayer(b.accounts, u.name, u.uid, u.home, withHomeDir)
	if err != nil {
		return im, err
	}
	// The entrypoint goes with the user: both are small and depend on no
	// repository file, and one layer fewer is one copy fewer for every
	// container engine that stores layers as snapshots.
	users.Files = append(users.Files, plan.GeneratedFile{Path: EntrypointPath, Content: []byte(entrypointScript), Mode: 0o755})
	im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindGenerated, Generated: users, Source: "repo2docker: notebook user",
		Comment: fmt.Sprintf("notebook user %s (%d:%d), home %s; repo2docker-entrypoint", u.name, u.uid, u.uid, u.home)})

	if b.debSuite != "" {
		var pkgs []plan.Package
		for _, n := range envPackages {
			pkgs = append(pkgs, plan.Package{Name: n, Where: "repo2docker: Python and base packages"})
		}
		im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindDeb, Deb: &plan.DebLayer{Packages: pkgs}, Source: "repo2docker: Python and base packages",
			Comment: "python3, pip and repo2docker's base packages"})
	} else {
		b.res.Notes = append(b.res.Notes, "base "+b.base+" is used as it is: its Python (if any) takes the requirements, and repo2docker's base packages (less, unzip, gettext-base) are not added")
	}

	if apt := r.path("apt.txt"); r.exists(apt) {
		pkgs, err := r.aptPackages(apt)
		if err != nil {
			return im, err
		}
		if len(pkgs) > 0 {
			im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindDeb, Deb: &plan.DebLayer{Packages: pkgs}, Source: apt, Comment: "apt.txt"})
		}
	}

	if py.layer != nil {
		im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindPython, Python: py.layer, Source: strings.Join(py.sources, " "), Comment: "Python packages"})
	}

	ignore, err := b.ignorePatterns()
	if err != nil {
		return im, err
	}
	im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindFiles, Source: "repository", Comment: "the repository",
		Files: &plan.FilesLayer{Dir: ".", Dest: u.repoDir, UID: u.uid, GID: u.uid, Exclude: ignore, NoIgnoreFile: true}})

	env := b.env()
	if len(py.local) > 0 {
		im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindRun, Source: py.local[0].where, Comment: "the repository's Python packages",
			Run: &plan.RunLayer{Command: []string{"/bin/sh", "-c", pipLocalScript(py.local, u)}, WorkDir: u.repoDir,
				Env: withEnv(env, "PIP_BREAK_SYSTEM_PACKAGES=1", "PIP_ROOT_USER_ACTION=ignore", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1")}})
	}

	if pb := r.path("postBuild"); r.exists(pb) {
		r.note(pb)
		im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindRun, Source: pb, Comment: "postBuild",
			// As repo2docker: as the notebook user, in the repository, with
			// the network (postBuild scripts download), not under set -e.
			Run: &plan.RunLayer{Command: []string{"/bin/sh", "-c", fmt.Sprintf("chmod +x ./%s && ./%s", pb, pb)},
				User: u.name, WorkDir: u.repoDir, Env: env, Network: true}})
	}

	// PYTHONUNBUFFERED and R2D_ENTRYPOINT come after postBuild in repo2docker.
	cfg := plan.Config{Env: append(append([]string(nil), env...), "PYTHONUNBUFFERED=1"), User: u.name, WorkingDir: u.repoDir,
		Entrypoint: []string{EntrypointPath}, ExposedPorts: []string{"8888/tcp"}}
	if st := r.path("start"); r.exists(st) {
		r.note(st)
		cfg.Env = append(cfg.Env, "R2D_ENTRYPOINT="+path.Join(u.repoDir, st))
	}
	cfg.Cmd = jupyterCommand(py.names)
	if cfg.Cmd == nil {
		cfg.Cmd = []string{"/bin/bash"}
		b.res.Notes = append(b.res.Notes, "no Jupyter package (notebook, jupyter, jupyterlab) is named in the dependency files: the default command is a shell, not `jupyter notebook`")
	}
	if b.debSuite != "" {
		b.res.Notes = append(b.res.Notes, "locale C.UTF-8 instead of repo2docker's generated en_US.UTF-8 (nothing runs locale-gen)")
	}
	im.Config = cfg
	return im, nil
}

// env is the image's environment in repo2docker's order, with its PATH:
// ~/.local/bin, $REPO_DIR/.local/bin, then the base's.
func (b *builder) env() []string {
	u := b.u
	env := []string{
		"DEBIAN_FRONTEND=noninteractive",
		"LC_ALL=C.UTF-8",
		"LANG=C.UTF-8",
		"SHELL=/bin/bash",
		"USER=" + u.name,
		"HOME=" + u.home,
		"APP_BASE=" + AppBase,
		"REPO_DIR=" + u.repoDir,
		"PATH=" + u.home + "/.local/bin:" + u.repoDir + "/.local/bin:" + b.basePath,
	}
	if b.debSuite != "" {
		// Debian marks its Python externally managed; pip in a notebook or
		// postBuild should install (to ~/.local) as it does in repo2docker's.
		env = append(env, "PIP_BREAK_SYSTEM_PACKAGES=1")
	}
	return env
}

// pyPlan is what goes to pip: a python layer and the repository's packages.
type pyPlan struct {
	layer   *plan.PythonLayer
	sources []string
	local   []localRef
	names   []string
}

// python3 decides what the buildpack installs with pip and checks the Python
// version asked for against the base's.
func (b *builder) python3() (*pyPlan, error) {
	r := b.r
	out := &pyPlan{}
	layer := &plan.PythonLayer{}
	want, wantFrom := "", ""
	var requiresPython, reqPyFrom string

	addReq := func(rel string) error {
		rf, err := r.scanRequirements(rel)
		if err != nil {
			return err
		}
		out.names = append(out.names, rf.names...)
		out.sources = append(out.sources, rel)
		if len(rf.local) == 0 {
			layer.Requirements = append(layer.Requirements, rel)
			return nil
		}
		// The repository's packages are installed after the copy; the rest of
		// the file goes inline, its relative paths made root-relative.
		out.local = append(out.local, rf.local...)
		layer.Packages = append(layer.Packages, rf.lines...)
		return nil
	}

	switch b.d.buildpack {
	case Pipfile:
		var pp *pipenvPlan
		var err error
		if lock := r.path("Pipfile.lock"); r.exists(lock) {
			pp, err = r.pipenvLock(lock)
			out.sources = append(out.sources, lock)
			if pf := r.path("Pipfile"); r.exists(pf) {
				b.res.Ignored = append(b.res.Ignored, pf+": the lock is installed (pipenv install --ignore-pipfile), as repo2docker does")
			}
		} else {
			pf := r.path("Pipfile")
			pp, err = r.pipenvPipfile(pf)
			out.sources = append(out.sources, pf)
		}
		if err != nil {
			return nil, err
		}
		layer.Packages = append(layer.Packages, pp.packages...)
		out.names = append(out.names, pp.names...)
		out.local = append(out.local, pp.local...)
		for i, s := range pp.sources {
			switch {
			case isPyPI(s.URL):
			case i == 0:
				layer.IndexURL = s.URL
			default:
				layer.ExtraIndex = append(layer.ExtraIndex, s.URL)
			}
		}
		want, wantFrom = pp.python, pp.pyFrom
		for _, f := range []string{"requirements.txt", "requirements3.txt"} {
			if p := r.path(f); r.exists(p) {
				b.res.Ignored = append(b.res.Ignored, p+": ignored by PipfileBuildPack, as repo2docker ignores it")
			}
		}
		if pkg, _ := r.rootPackage(); pkg != "" {
			b.res.Ignored = append(b.res.Ignored, pkg+": not installed by PipfileBuildPack unless the Pipfile names it ({path = \".\"}), as in repo2docker")
		}
	case Python:
		if req := r.path("requirements.txt"); r.exists(req) {
			if err := addReq(req); err != nil {
				return nil, err
			}
		}
		pkg, err := r.rootPackage()
		if err != nil {
			return nil, err
		}
		if pkg == "pyproject.toml" {
			pp, err := r.pyproject()
			if err != nil {
				return nil, err
			}
			// pip builds without isolation (offline), so the build backend
			// and the package's declared dependencies come from the layer.
			layer.Packages = append(layer.Packages, pp.strings(pp.BuildSystem, "requires")...)
			dynamic := pp.strings(pp.Project, "dynamic")
			if !contains(dynamic, "dependencies") {
				deps := pp.strings(pp.Project, "dependencies")
				layer.Packages = append(layer.Packages, deps...)
				for _, dep := range deps {
					if q, err := wheel.ParseRequirement(dep); err == nil {
						out.names = append(out.names, wheel.NormalizeName(q.Name))
					}
				}
			}
			if s, ok := pp.Project["requires-python"].(string); ok && s != "" {
				requiresPython, reqPyFrom = s, "pyproject.toml: requires-python"
			}
			out.sources = append(out.sources, "pyproject.toml")
		}
		if pkg != "" && !hasRootRef(out.local) {
			r.note(pkg)
			out.local = append(out.local, localRef{arg: ".", where: pkg})
			b.res.Notes = append(b.res.Notes, pkg+": the package is installed with pip --no-index after the repository is copied; its dependencies must be in the Python layer (requirements.txt or pyproject's [project] dependencies)")
		}
	}
	if want == "" && b.d.runtime != nil && b.d.runtime.Name == "python" {
		want, wantFrom = majorMinor(b.d.runtime.Version), b.r.path("runtime.txt")
	}
	if want != "" {
		if err := b.checkPython(want, wantFrom); err != nil {
			return nil, err
		}
	}
	if requiresPython != "" && b.python != "" {
		spec, err := wheel.ParseSpecifiers(requiresPython)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", reqPyFrom, requiresPython, err)
		}
		v, err := wheel.ParseVersion(b.python)
		if err == nil && !spec.Contains(v, true) {
			return nil, fmt.Errorf("%s %q excludes %s (%s): %s", reqPyFrom, requiresPython, b.pyFrom, b.python, baseAdvice(requiresPython))
		}
	}
	// requirements3.txt is pip-installed only into the notebook server's
	// environment when the kernel's Python is older than 3.7; here server and
	// kernel share one Python.
	if p := r.path("requirements3.txt"); r.exists(p) && b.d.buildpack == Python {
		if want != "" && versionLess(want, "3.7") {
			if err := addReq(p); err != nil {
				return nil, err
			}
		} else {
			b.res.Ignored = append(b.res.Ignored, p+": used by repo2docker only with a Python older than 3.7 (for the separate notebook-server environment)")
		}
	}
	if r.exists(r.path("install.R")) {
		b.res.Ignored = append(b.res.Ignored, r.path("install.R")+": run by repo2docker's R buildpack only (runtime.txt r-YYYY-MM-DD); ignored here as repo2docker ignores it")
	}
	if len(layer.Requirements) > 0 || len(layer.Packages) > 0 {
		out.layer = layer
	}
	if len(out.local) > 0 && b.debSuite == "" {
		b.res.Notes = append(b.res.Notes, "the repository's packages are installed with `python3 -m pip` from the base "+b.base+": it must have pip")
	}
	return out, nil
}

// checkPython compares the Python asked for ("3", "3.11") with the base's.
func (b *builder) checkPython(want, from string) error {
	if b.python == "" {
		b.res.Notes = append(b.res.Notes, fmt.Sprintf("%s asks for Python %s; the base %s's Python is not known while planning and was not checked", from, want, b.base))
		return nil
	}
	if want == b.python || (!strings.Contains(want, ".") && strings.SplitN(b.python, ".", 2)[0] == want) {
		return nil
	}
	what := b.pyFrom
	if b.in.Base == "" {
		what += " (the default base " + DefaultBase + ")"
	}
	return fmt.Errorf("%s asks for Python %s, but %s is %s: %s, or ask for python-%s", from, want, what, b.python, baseAdvice(want), b.python)
}

// baseAdvice names a base image that carries a Python version.
func baseAdvice(want string) string {
	if strings.HasPrefix(strings.TrimSpace(want), "<") || strings.HasPrefix(strings.TrimSpace(want), "!") {
		return "build on a base that carries a matching Python with --base"
	}
	v := strings.TrimLeft(want, "=<>!~ ")
	if i := strings.IndexAny(v, ",; "); i >= 0 {
		v = v[:i]
	}
	v = majorMinor(strings.TrimSuffix(v, ".*"))
	if v == "" || !strings.Contains(v, ".") && v != "3" && v != "2" {
		return "build on a base that carries a matching Python with --base"
	}
	switch v {
	case "2":
		v = "2.7"
	case "3":
		v = "3.12"
	}
	suite := "bookworm"
	switch {
	case versionLess(v, "3.7"):
		suite = "buster"
	case versionLess(v, "3.8"):
		suite = "bullseye"
	}
	return fmt.Sprintf("build on a base that carries Python %s, e.g. --base docker://docker.io/library/python:%s-slim-%s", v, v, suite)
}

// versionLess compares dotted versions numerically ("3.6" < "3.10").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func isPyPI(u string) bool {
	u = strings.TrimSuffix(strings.ToLower(u), "/")
	return u == "" || u == "https://pypi.org/simple" || u == "https://pypi.python.org/simple"
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func hasRootRef(refs []localRef) bool {
	for _, l := range refs {
		a := l.arg
		if i := strings.IndexByte(a, '['); i >= 0 {
			a = a[:i]
		}
		if path.Clean(path.Join(l.dir, a)) == "." {
			return true
		}
	}
	return false
}

// ignorePatterns reads .dockerignore and .containerignore from the
// configuration directory, both, as repo2docker's build() does.
func (b *builder) ignorePatterns() ([]string, error) {
	var out []string
	for _, n := range []string{".dockerignore", ".containerignore"} {
		p := b.r.path(n)
		if !b.r.exists(p) {
			continue
		}
		data, err := b.r.readFile(p)
		if err != nil {
			return nil, err
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		out = append(out, pats...)
	}
	if b.r.dir != "" {
		root := &repo{root: b.r.root}
		for _, n := range []string{".dockerignore", ".containerignore"} {
			if root.exists(n) {
				b.res.Ignored = append(b.res.Ignored, n+": ignored because "+b.r.dir+"/ exists (repo2docker reads the ignore files from there)")
			}
		}
	}
	return out, nil
}

// pipLocalScript installs the repository's packages with pip, offline, into
// the interpreter below (their dependencies are already there), then gives
// what pip left in the repository (build/, *.egg-info) to the notebook user.
func pipLocalScript(refs []localRef, u notebookUser) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, l := range refs {
		dir := u.repoDir
		if l.dir != "" {
			dir = path.Join(u.repoDir, l.dir)
		}
		flag := ""
		if l.editable {
			flag = "-e "
		}
		fmt.Fprintf(&b, "cd %s\n", shellQuote(dir))
		fmt.Fprintf(&b, "python3 -m pip install --no-index --no-build-isolation --no-cache-dir --no-compile %s%s || "+
			"{ echo %s >&2; exit 1; }\n", flag, shellQuote(l.arg),
			shellQuote(fmt.Sprintf("assemble: pip could not install %s (%s) offline: its build backend and dependencies must already be installed; list them in requirements.txt (or pyproject.toml's [build-system] requires and [project] dependencies)", l.arg, l.where)))
	}
	fmt.Fprintf(&b, "find %s -xdev -user 0 -exec chown -h %d:%d {} +\n", shellQuote(u.repoDir), u.uid, u.uid)
	return b.String()
}

// withEnv adds entries to a copy of env, replacing those of the same name.
func withEnv(env []string, add ...string) []string {
	out := make([]string, 0, len(env)+len(add))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for _, a := range add {
			if ak, _, _ := strings.Cut(a, "="); ak == k {
				replaced = true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return append(out, add...)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// entrypointScript is repo2docker's entrypoint, as a shell script: the start
// script (R2D_ENTRYPOINT), when there is one, runs in front of the command
// and must end with exec "$@". No login shell: Debian's /etc/profile would
// reset the PATH the image sets.
const entrypointScript = `#!/bin/bash
# repo2docker-entrypoint, written by assemble: run the repository's start
# script (R2D_ENTRYPOINT) in front of the command, as repo2docker does.
if [ -n "${R2D_ENTRYPOINT:-}" ]; then
    if [ ! -x "$R2D_ENTRYPOINT" ]; then
        chmod u+x "$R2D_ENTRYPOINT" 2>/dev/null || exec /bin/bash "$R2D_ENTRYPOINT" "$@"
    fi
    exec "$R2D_ENTRYPOINT" "$@"
fi
exec "$@"
`
