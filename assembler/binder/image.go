package binder

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/patternmatcher/ignorefile"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
)

// defaultPath is the PATH of a base that sets none (a deb: root), as Docker
// and podman assume.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// builder plans the image of PythonBuildPack or PipfileBuildPack.
type builder struct {
	r   *repo
	d   *detection
	in  Input
	u   notebookUser
	o   *options
	res *Result

	base     string
	debSuite string // the suite of a deb: base, else ""
	accounts *accountFiles
	basePath string
	python   string // the base's Python ("3.11"), "" when unknown
	pyFrom   string // where python came from, for messages
	// conda, when set, is the conda environment environment.yml asks for.
	conda *condaPlan
}

// newBuilder starts planning on the base asked for (deb:bookworm by default).
func newBuilder(r *repo, d *detection, in Input, u notebookUser, o *options, res *Result) *builder {
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
		fsys, err := oci.FS(img, oci.WithFSLogger(logctx.From(ctx)))
		if err != nil {
			return fmt.Errorf("reading the base %s: %w", b.base, err)
		}
		if t, err := wheel.Probe(fsys, wheel.WithProbeLogger(logctx.From(ctx))); err == nil {
			b.python, b.pyFrom = t.Python, "the base "+b.base+"'s Python"
		}
	}
	return nil
}

// image plans the layers and configuration, bottom to top as repo2docker's
// template orders them: the user (with the entrypoint), system packages,
// Python packages, the repository, then what must run over the repository.
func (b *builder) image(ctx context.Context) (plan.Image, error) {
	var im plan.Image
	py, err := b.pythonPlan(ctx)
	if err != nil {
		return im, err
	}
	im.Base = b.base // runtime.txt may have chosen the Debian release
	users, err := b.userLayer()
	if err != nil {
		return im, err
	}
	im.Layers = append(im.Layers, users)
	system, err := b.systemLayers()
	if err != nil {
		return im, err
	}
	im.Layers = append(im.Layers, system...)
	if err := b.localDeps(ctx, py, slices.Clone(im.Layers)); err != nil {
		return im, err
	}
	if py.layer != nil {
		if b.venv() || b.conda != nil {
			py.layer.Interpreter = NBPythonPrefix + "/bin/python"
		}
		im.Layers = append(im.Layers, plan.Layer{Kind: plan.KindPython, Python: py.layer, Source: strings.Join(py.sources, " "), Comment: "Python packages"})
	}
	backend, err := b.backendLayer(py)
	if err != nil {
		return im, err
	}
	if backend != nil {
		im.Layers = append(im.Layers, *backend)
	}
	repo, err := b.repositoryLayers(py)
	if err != nil {
		return im, err
	}
	im.Layers = append(im.Layers, repo...)
	im.Config = b.config(py)
	return im, nil
}

// pythonPlan decides what to install with pip: requirements files, inline
// lines and the repository's own packages (installed after the copy). A
// deb: base's Python is known without reading the base, so a wrong
// runtime.txt fails before anything is built.
func (b *builder) pythonPlan(ctx context.Context) (*pyPlan, error) {
	var py *pyPlan
	var err error
	if b.debSuite != "" {
		if py, err = b.python3(); err != nil {
			return nil, err
		}
	}
	if err := b.readBase(ctx); err != nil {
		return nil, err
	}
	if py == nil {
		if py, err = b.python3(); err != nil {
			return nil, err
		}
	}
	return py, nil
}

// userLayer makes the notebook user and its home. The entrypoint goes with
// the user: both are small and depend on no repository file, and one layer
// fewer is one copy fewer for every container engine that stores layers as
// snapshots.
func (b *builder) userLayer() (plan.Layer, error) {
	u := b.u
	users, err := userLayer(b.accounts, u.name, u.uid, u.home, u.repoDir != u.home)
	if err != nil {
		return plan.Layer{}, err
	}
	users.Files = append(users.Files, plan.GeneratedFile{Path: EntrypointPath, Content: []byte(entrypointScript), Mode: 0o755})
	return plan.Layer{Kind: plan.KindGenerated, Generated: users, Source: "repo2docker: notebook user",
		Comment: fmt.Sprintf("notebook user %s (%d:%d), home %s; repo2docker-entrypoint", u.name, u.uid, u.uid, u.home)}, nil
}

// systemLayers are the shared environment of a deb: base (Python, Node,
// the notebook user's Python environment), then apt.txt's packages.
func (b *builder) systemLayers() ([]plan.Layer, error) {
	var out, above []plan.Layer
	if b.conda != nil {
		out, above = b.condaLayers()
	} else if b.venv() {
		out = append(out, b.envLayers()...)
	} else {
		b.res.Notes = append(b.res.Notes, "base "+b.base+" is used as it is: its Python (if any) takes the requirements, and repo2docker's base packages (less, unzip, gettext-base) are not added")
	}
	if apt := b.r.path("apt.txt"); b.r.exists(apt) {
		pkgs, err := b.r.aptPackages(apt)
		if err != nil {
			return nil, err
		}
		if len(pkgs) > 0 {
			out = append(out, plan.Layer{Kind: plan.KindDeb, Deb: &plan.DebLayer{Packages: pkgs}, Source: apt, Comment: "apt.txt"})
		}
	}
	return append(out, above...), nil
}

// repositoryLayers are the repository's files, then what runs over them:
// pip for the repository's own packages, and postBuild.
func (b *builder) repositoryLayers(py *pyPlan) ([]plan.Layer, error) {
	r, u := b.r, b.u
	ignore, err := b.ignorePatterns()
	if err != nil {
		return nil, err
	}
	out := []plan.Layer{{Kind: plan.KindFiles, Source: "repository", Comment: "the repository",
		Files: &plan.FilesLayer{Dir: ".", Dest: u.repoDir, UID: u.uid, GID: u.uid, Exclude: ignore, NoIgnoreFile: true}}}
	env := b.env()
	if len(py.local) > 0 {
		run := &plan.RunLayer{Command: []string{"/bin/sh", "-c", pipLocalScript(py.local, py.backends, u)}, WorkDir: u.repoDir,
			Env: withEnv(env, "PIP_BREAK_SYSTEM_PACKAGES=1", "PIP_ROOT_USER_ACTION=ignore", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PYTHONDONTWRITEBYTECODE=1")}
		if b.venv() || b.conda != nil {
			// Into the user's environment, as the user: what pip writes stays theirs.
			run.User = u.name
		}
		out = append(out, plan.Layer{Kind: plan.KindRun, Source: py.local[0].where, Comment: "the repository's Python packages", Run: run})
	}
	if pb := r.path("postBuild"); r.exists(pb) {
		r.note(pb)
		out = append(out, plan.Layer{Kind: plan.KindRun, Source: pb, Comment: "postBuild",
			// As repo2docker: as the notebook user, in the repository, with
			// the network (postBuild scripts download), not under set -e.
			Run: &plan.RunLayer{Command: []string{"/bin/sh", "-c", fmt.Sprintf("chmod +x ./%s && ./%s", pb, pb)},
				User: u.name, WorkDir: u.repoDir, Env: env, Network: true}})
	}
	return out, nil
}

// config is the image's configuration: the environment, the notebook user
// in the repository, the entrypoint and Jupyter's command and port.
func (b *builder) config(py *pyPlan) plan.Config {
	r, u := b.r, b.u
	// PYTHONUNBUFFERED and R2D_ENTRYPOINT come after postBuild in repo2docker.
	cfg := plan.Config{Env: append(append([]string(nil), b.env()...), "PYTHONUNBUFFERED=1"), User: u.name, WorkingDir: u.repoDir,
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
	return cfg
}

// env is the image's environment in repo2docker's order, with its PATH:
// ~/.local/bin, $REPO_DIR/.local/bin, the Python environment and npm's
// global bin (on a deb: base), then the base's.
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
	}
	front := u.home + "/.local/bin:" + u.repoDir + "/.local/bin:"
	switch {
	case b.conda != nil:
		env = append(env, condaEnvVars()...)
		front += NBPythonPrefix + "/bin:" + CondaDir + "/bin:"
	case b.venv():
		env = append(env, venvEnv()...)
		front += NBPythonPrefix + "/bin:" + NPMDir + "/bin:"
	}
	return append(env, "PATH="+front+b.basePath)
}

// pyPlan is what goes to pip: a python layer and the repository's packages.
type pyPlan struct {
	layer   *plan.PythonLayer
	sources []string
	local   []localRef
	names   []string
	// backends are the build backends' names the local packages need
	// only while they are installed.
	backends []string
}

// python3 decides what the buildpack installs with pip and checks the Python
// version asked for against the base's.
func (b *builder) python3() (*pyPlan, error) {
	r := b.r
	e := &pyEnv{b: b, out: &pyPlan{}, layer: &plan.PythonLayer{}}
	switch b.d.buildpack {
	case Pipfile:
		if err := e.pipfile(); err != nil {
			return nil, err
		}
	case Python:
		if err := e.python(); err != nil {
			return nil, err
		}
	case Conda:
		if err := e.conda(); err != nil {
			return nil, err
		}
	}
	if err := e.checkVersions(); err != nil {
		return nil, err
	}
	// requirements3.txt is pip-installed only into the notebook server's
	// environment when the kernel's Python is older than 3.7; here server and
	// kernel share one Python.
	if p := r.path("requirements3.txt"); r.exists(p) && b.d.buildpack == Python {
		if e.want != "" && versionLess(e.want, "3.7") {
			if err := e.addRequirements(p); err != nil {
				return nil, err
			}
		} else {
			b.res.Ignored = append(b.res.Ignored, p+": used by repo2docker only with a Python older than 3.7 (for the separate notebook-server environment)")
		}
	}
	if r.exists(r.path("install.R")) {
		b.res.Ignored = append(b.res.Ignored, r.path("install.R")+": run by repo2docker's R buildpack only (runtime.txt r-YYYY-MM-DD); ignored here as repo2docker ignores it")
	}
	if len(e.layer.Requirements) > 0 || len(e.layer.Packages) > 0 {
		e.out.layer = e.layer
	}
	if len(e.out.local) > 0 && b.debSuite == "" {
		b.res.Notes = append(b.res.Notes, "the repository's packages are installed with `python3 -m pip` from the base "+b.base+": it must have pip")
	}
	return e.out, nil
}

// pyEnv is python3's work in progress: the plan, its python layer, the
// Python version asked for and the Requires-Python to check, with where
// each came from.
type pyEnv struct {
	b                         *builder
	out                       *pyPlan
	layer                     *plan.PythonLayer
	want, wantFrom            string
	requiresPython, reqPyFrom string
}

// addRequirements adds a requirements file.
func (e *pyEnv) addRequirements(rel string) error {
	rf, err := e.b.r.scanRequirements(rel)
	if err != nil {
		return err
	}
	e.out.names = append(e.out.names, rf.names...)
	e.out.sources = append(e.out.sources, rel)
	if len(rf.local) == 0 {
		e.layer.Requirements = append(e.layer.Requirements, rel)
		return nil
	}
	// The repository's packages are installed after the copy; the rest of
	// the file goes inline, its relative paths made root-relative.
	e.out.local = append(e.out.local, rf.local...)
	e.layer.Packages = append(e.layer.Packages, rf.lines...)
	return nil
}

// pipfile is PipfileBuildPack: Pipfile.lock (else Pipfile), its sources as
// indexes and its python_version.
func (e *pyEnv) pipfile() error {
	b, r := e.b, e.b.r
	var pp *pipenvPlan
	var err error
	if lock := r.path("Pipfile.lock"); r.exists(lock) {
		pp, err = r.pipenvLock(lock)
		e.out.sources = append(e.out.sources, lock)
		if pf := r.path("Pipfile"); r.exists(pf) {
			b.res.Ignored = append(b.res.Ignored, pf+": the lock is installed (pipenv install --ignore-pipfile), as repo2docker does")
		}
	} else {
		pf := r.path("Pipfile")
		pp, err = r.pipenvPipfile(pf)
		e.out.sources = append(e.out.sources, pf)
	}
	if err != nil {
		return err
	}
	if len(pp.lines) > 0 {
		for len(e.layer.PackageLines) < len(e.layer.Packages) {
			e.layer.PackageLines = append(e.layer.PackageLines, 0)
		}
		e.layer.PackageLines = append(e.layer.PackageLines, pp.lines...)
	}
	e.layer.Packages = append(e.layer.Packages, pp.packages...)
	e.out.names = append(e.out.names, pp.names...)
	e.out.local = append(e.out.local, pp.local...)
	for i, s := range pp.sources {
		switch {
		case isPyPI(s.URL):
		case i == 0:
			e.layer.IndexURL = s.URL
		default:
			e.layer.ExtraIndex = append(e.layer.ExtraIndex, s.URL)
		}
	}
	e.want, e.wantFrom = pp.python, pp.pyFrom
	for _, f := range []string{"requirements.txt", "requirements3.txt"} {
		if p := r.path(f); r.exists(p) {
			b.res.Ignored = append(b.res.Ignored, p+": ignored by PipfileBuildPack, as repo2docker ignores it")
		}
	}
	if pkg, _ := r.rootPackage(); pkg != "" {
		b.res.Ignored = append(b.res.Ignored, pkg+": not installed by PipfileBuildPack unless the Pipfile names it ({path = \".\"}), as in repo2docker")
	}
	return nil
}

// python is PythonBuildPack: requirements.txt, then the repository's own
// package (setup.py or pyproject.toml), installed after the copy.
func (e *pyEnv) python() error {
	b, r := e.b, e.b.r
	if req := r.path("requirements.txt"); r.exists(req) {
		if err := e.addRequirements(req); err != nil {
			return err
		}
	}
	pkg, err := r.rootPackage()
	if err != nil {
		return err
	}
	if pkg == "pyproject.toml" {
		if err := e.pyproject(); err != nil {
			return err
		}
	}
	if pkg != "" && !hasRootRef(e.out.local) {
		r.note(pkg)
		e.out.local = append(e.out.local, localRef{arg: ".", where: pkg})
		b.res.Notes = append(b.res.Notes, pkg+": the package is installed with pip --no-index after the repository is copied; the dependencies it declares are installed before it from the Python sources")
	}
	return nil
}

// pyproject adds pyproject.toml's build requirements, its static
// dependencies and its requires-python. pip builds without isolation
// (offline), so the build backend and the package's declared dependencies
// come from the layer.
func (e *pyEnv) pyproject() error {
	pp, err := e.b.r.pyproject()
	if err != nil {
		return err
	}
	// setuptools and wheel belong to the environment; another backend is
	// installed only while the package is (backendLayer).
	for _, req := range pp.strings(pp.BuildSystem, "requires") {
		if isBuildTool(req) {
			e.layer.Packages = append(e.layer.Packages, req)
		}
	}
	dynamic := pp.strings(pp.Project, "dynamic")
	if !contains(dynamic, "dependencies") {
		deps := pp.strings(pp.Project, "dependencies")
		e.layer.Packages = append(e.layer.Packages, deps...)
		for _, dep := range deps {
			if q, err := wheel.ParseRequirement(dep); err == nil {
				e.out.names = append(e.out.names, wheel.NormalizeName(q.Name))
			}
		}
	}
	if s, ok := pp.Project["requires-python"].(string); ok && s != "" {
		e.requiresPython, e.reqPyFrom = s, "pyproject.toml: requires-python"
	}
	e.out.sources = append(e.out.sources, "pyproject.toml")
	return nil
}

// checkVersions checks the Python asked for (Pipfile, else runtime.txt) and
// pyproject's requires-python against the base's Python.
func (e *pyEnv) checkVersions() error {
	b := e.b
	if e.want == "" && b.d.runtime != nil && b.d.runtime.Name == "python" && b.d.buildpack != Conda {
		e.want, e.wantFrom = majorMinor(b.d.runtime.Version), b.r.path("runtime.txt")
	}
	if e.want != "" {
		if err := b.checkPython(e.want, e.wantFrom); err != nil {
			return err
		}
	}
	if e.requiresPython == "" || b.python == "" {
		return nil
	}
	spec, err := wheel.ParseSpecifiers(e.requiresPython)
	if err != nil {
		return fmt.Errorf("%s %q: %w", e.reqPyFrom, e.requiresPython, err)
	}
	v, err := wheel.ParseVersion(b.python)
	if err == nil && !spec.Contains(v, true) {
		if b.in.Base == "" && e.want == "" && b.pickSuiteFor(spec, e.reqPyFrom+" "+e.requiresPython) {
			return nil
		}
		return fmt.Errorf("%s %q excludes %s (%s): %s", e.reqPyFrom, e.requiresPython, b.pyFrom, b.python, baseAdvice(e.requiresPython))
	}
	return nil
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
	if b.in.Base == "" {
		if b.pickSuite(want, from) {
			return nil
		}
		return fmt.Errorf("%s asks for Python %s, which no Debian release carries (the default base %s has %s; Debian's releases have %s): ask for one of those, or %s",
			from, want, DefaultBase, b.python, availablePythons(), baseAdvice(want))
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
func pipLocalScript(refs []localRef, backends []string, u notebookUser) string {
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
			shellQuote(fmt.Sprintf("assemble: pip could not install %s (%s) offline: the dependencies the package declares were installed from the Python sources (--find-links, --index-url) before it; its build backend must be setuptools or named in pyproject.toml's [build-system] requires (see pip's message above)", l.arg, l.where)))
	}
	if len(backends) > 0 {
		// Gone again, with what only they needed, as pip's isolated build
		// would leave them out of the environment.
		fmt.Fprintf(&b, "drop=$(python3 -c %s %s)\n", shellQuote(backendsOnlyScript), strings.Join(backends, " "))
		b.WriteString("if [ -n \"$drop\" ]; then python3 -m pip uninstall --yes --quiet $drop; fi\n")
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
