package dockerfile

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// pyReqRe is a plain requirement: a name, extras and version clauses.
var pyReqRe = lazyregexp.New(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._, -]*\])?\s*((===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+(\s*,\s*(===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+)*)?$`)

// pipValueOpts take a value and do not change what is installed.
var pipValueOpts = map[string]bool{
	"--root-user-action": true, "--progress-bar": true, "--only-binary": true, "--upgrade-strategy": true,
	"--exists-action": true, "--timeout": true, "--retries": true, "--trusted-host": true, "--default-timeout": true,
	"--cache-dir": true,
}

// pipFlags change nothing a wheel layer does differently.
var pipFlags = map[string]bool{
	"--no-cache-dir": true, "-U": true, "--upgrade": true, "-q": true, "-qq": true, "-qqq": true, "--quiet": true,
	"-v": true, "--verbose": true, "--no-warn-script-location": true, "--disable-pip-version-check": true,
	"--break-system-packages": true, "--prefer-binary": true, "--no-compile": true, "--compile": true,
	"--require-hashes": true, "--isolated": true, "--no-input": true, "--force-reinstall": true,
	"--ignore-installed": true, "-I": true, "--no-warn-conflicts": true,
}

// pipOption is an option of pip install that takes a value and goes into
// the Python layer.
type pipOption struct {
	short, long string // "-r", "--requirement"; short is "" when there is none
	needs       string // what a missing value should have been, for the reason
	// apply puts v into py and returns what to name in the layer's comment
	// ("" for nothing), or why it is refused.
	apply func(s *stage, py *plan.PythonLayer, v string) (named, why string)
}

// pipOptions are the value options the translation understands.
var pipOptions = []pipOption{
	{"-r", "--requirement", "-r needs a file", func(s *stage, py *plan.PythonLayer, v string) (string, string) {
		repo, why := s.fromContext(v, "requirements file")
		if why != "" {
			return "", why
		}
		py.Requirements = append(py.Requirements, repo)
		return "-r " + v, ""
	}},
	{"-c", "--constraint", "-c needs a file", func(s *stage, py *plan.PythonLayer, v string) (string, string) {
		repo, why := s.fromContext(v, "constraints file")
		if why != "" {
			return "", why
		}
		py.Packages = append(py.Packages, "-c "+repo)
		return "-c " + v, ""
	}},
	{"-i", "--index-url", "--index-url needs a URL", func(_ *stage, py *plan.PythonLayer, v string) (string, string) {
		py.IndexURL = v
		return "", ""
	}},
	{"", "--extra-index-url", "--extra-index-url needs a URL", func(_ *stage, py *plan.PythonLayer, v string) (string, string) {
		py.ExtraIndex = append(py.ExtraIndex, v)
		return "", ""
	}},
	{"-f", "--find-links", "--find-links needs a directory or URL", func(s *stage, py *plan.PythonLayer, v string) (string, string) {
		fl, why := s.findLinks(v)
		if why != "" {
			return "", why
		}
		py.FindLinks = append(py.FindLinks, fl)
		return "", ""
	}},
}

// pip translates the arguments of `pip install` into a Python layer: pip
// must be the system Python's, every argument understood, and the PIP_*
// variables of the stage taken as pip takes them.
func (s *stage) pip(args []string, quoted, where string) (*install, string) {
	if why := s.systemPip(); why != "" {
		return nil, why
	}
	py, named, why := s.pipArgs(args, quoted)
	if why != "" {
		return nil, why
	}
	if len(py.Requirements) == 0 && len(named) == 0 {
		return nil, quoted + " names nothing to install"
	}
	if why := s.pipEnv(py); why != "" {
		return nil, why
	}
	return &install{
		layer: plan.Layer{Kind: plan.KindPython, Source: where, Python: py, Comment: "RUN pip install " + strings.Join(named, " ")},
		what:  "python layer: " + strings.Join(named, " "),
	}, ""
}

// systemPip says why `pip` in the stage might not install into the system
// Python ("" when it does).
func (s *stage) systemPip() string {
	for _, v := range []string{"VIRTUAL_ENV", "CONDA_PREFIX", "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "PIP_REQUIRE_VIRTUALENV", "PIP_ROOT"} {
		if val, ok := getEnv(s.env, v); ok && val != "" {
			return fmt.Sprintf("the stage sets %s, so pip does not install into the system Python", v)
		}
	}
	if p, ok := getEnv(s.env, "PATH"); ok {
		for _, d := range strings.Split(p, ":") {
			if d == "/usr/local/bin" || d == "/usr/bin" || d == "/bin" {
				break
			}
			if d != "" && !standardDirs[d] {
				return fmt.Sprintf("PATH puts %s before the system's directories, so `pip` may not be the system Python's", d)
			}
		}
	}
	return ""
}

// pipArgs reads the arguments of pip install into a Python layer and the
// names for its comment (requirement files and packages).
func (s *stage) pipArgs(args []string, quoted string) (*plan.PythonLayer, []string, string) {
	py := &plan.PythonLayer{}
	var named []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		opt, _, _ := strings.Cut(a, "=")
		switch o := pipOptionFor(a, opt); {
		case pipFlags[a]:
		case pipValueOpts[opt]:
			if !strings.Contains(a, "=") {
				i++
			}
		case o != nil:
			v, ok := pipValue(args, &i, a)
			if !ok {
				return nil, nil, quoted + ": " + o.needs
			}
			n, why := o.apply(s, py, v)
			if why != "" {
				return nil, nil, why
			}
			if n != "" {
				named = append(named, n)
			}
		case a == "--no-index":
			py.NoIndex = true
		case strings.HasPrefix(a, "-"):
			return nil, nil, fmt.Sprintf("%s: pip option %s changes how or where packages are installed", quoted, a)
		default:
			if !pyReqRe.MatchString(a) {
				return nil, nil, fmt.Sprintf("%s: %q is not a plain requirement (name and versions)", quoted, a)
			}
			py.Packages = append(py.Packages, a)
			named = append(named, a)
		}
	}
	return py, named, ""
}

// pipOptionFor finds the value option argument a (opt: a up to "=") is:
// -r FILE, -rFILE, --requirement=FILE...
func pipOptionFor(a, opt string) *pipOption {
	for i, o := range pipOptions {
		if opt == o.long || o.short != "" && (opt == o.short || strings.HasPrefix(a, o.short) && !strings.HasPrefix(a, "--")) {
			return &pipOptions[i]
		}
	}
	return nil
}

// pipValue is the value of the option args[*i] (a), as pip's option
// parser reads it: --opt=V, -oV or the next argument (advancing *i).
func pipValue(args []string, i *int, a string) (string, bool) {
	if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") {
		return v, true
	}
	if len(a) > 2 && !strings.HasPrefix(a, "--") {
		return a[2:], true // -rFILE
	}
	if *i+1 < len(args) {
		*i++
		return args[*i], true
	}
	return "", false
}

// pipEnv adds what pip reads from the environment as it does from its
// options.
func (s *stage) pipEnv(py *plan.PythonLayer) string {
	if v, ok := getEnv(s.env, "PIP_INDEX_URL"); ok && py.IndexURL == "" && v != "" {
		py.IndexURL = v
	}
	if v, ok := getEnv(s.env, "PIP_EXTRA_INDEX_URL"); ok {
		py.ExtraIndex = append(py.ExtraIndex, strings.Fields(v)...)
	}
	if v, ok := getEnv(s.env, "PIP_FIND_LINKS"); ok {
		for _, f := range strings.Fields(v) {
			fl, why := s.findLinks(f)
			if why != "" {
				return why
			}
			py.FindLinks = append(py.FindLinks, fl)
		}
	}
	if v, ok := getEnv(s.env, "PIP_NO_INDEX"); ok && (v == "1" || strings.EqualFold(v, "true") || strings.EqualFold(v, "yes")) {
		py.NoIndex = true
	}
	return ""
}

// imagePath makes a path of a RUN absolute against the working directory.
func (s *stage) imagePath(p string) string {
	if !path.IsAbs(p) {
		wd := s.cf.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		p = path.Join(wd, p)
	}
	return strings.TrimPrefix(path.Clean(p), "/")
}

// fromContext finds the repository file COPY put at image path p and that
// nothing has changed since.
func (s *stage) fromContext(p, what string) (string, string) {
	t, err := s.files()
	if err != nil {
		return "", fmt.Sprintf("cannot read the stage's files: %v", err)
	}
	rel := s.imagePath(p)
	if _, r, _ := t.lookup(rel, true); r != "" {
		rel = r
	}
	if repo, ok := s.prov[rel]; ok {
		return repo, ""
	}
	return "", fmt.Sprintf("the %s /%s is not a file COPY'd from the build context (and left unchanged)", what, rel)
}

// findLinks maps a --find-links value: URLs stay, directories must come
// from the build context.
func (s *stage) findLinks(v string) (string, string) {
	if strings.Contains(v, "://") {
		return v, ""
	}
	repo, why := s.fromContext(v, "--find-links directory")
	if why == "" {
		return repo, ""
	}
	if dir, ok := s.linksFromContext(v); ok {
		return dir, ""
	}
	return "", why
}

// linksFromContext finds the build context's directory whose distributions
// the image directory p holds, when the directory as a whole is no longer
// a copy of it (a requirements file COPY'd in beside the wheels). pip's
// --find-links only looks at the files of the directory whose names are
// distributions, so the two are the same to pip when both hold the same
// distributions, each an unchanged COPY of the other's.
func (s *stage) linksFromContext(p string) (string, bool) {
	t, err := s.files()
	if err != nil {
		return "", false
	}
	n, rel, err := t.lookup(s.imagePath(p), true)
	if err != nil || n == nil || !n.IsDir() {
		return "", false
	}
	inImage := map[string]bool{}
	dir := ""
	for _, name := range n.Names() {
		if !isDistribution(name) {
			continue
		}
		repo, ok := s.prov[path.Join(rel, name)]
		if !ok || path.Base(repo) != name || dir != "" && path.Dir(repo) != dir {
			return "", false
		}
		dir = path.Dir(repo)
		inImage[name] = true
	}
	if dir == "" {
		return "", false
	}
	// What the Python layer will read: every distribution of the
	// context's directory (those a .dockerignore kept out included).
	ents, err := os.ReadDir(filepath.Join(s.b.d.root, filepath.FromSlash(dir)))
	if err != nil {
		return "", false
	}
	seen := 0
	for _, e := range ents {
		if isDistribution(e.Name()) {
			if !inImage[e.Name()] {
				return "", false
			}
			seen++
		}
	}
	return dir, seen == len(inImage)
}

// distExts are the archive suffixes pip's find-links takes a file for a
// distribution by (pip's WHEEL_EXTENSION and ARCHIVE_EXTENSIONS).
var distExts = []string{".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma"}

func isDistribution(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range distExts {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}
