package binder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// repo2docker's buildpack names, as its classes are called, so that a user
// can look a result up in repo2docker's documentation.
const (
	LegacyBinderDocker = "LegacyBinderDockerBuildPack"
	Docker             = "DockerBuildPack"
	JuliaProjectToml   = "JuliaProjectTomlBuildPack"
	JuliaRequire       = "JuliaRequireBuildPack"
	Nix                = "NixBuildPack"
	R                  = "RBuildPack"
	Conda              = "CondaBuildPack"
	Pipfile            = "PipfileBuildPack"
	Python             = "PythonBuildPack"
)

// kindOf is the kind of repo2docker file rel is, which bounds what is read
// of it: a huge one is a mistake, not input to hold in memory.
func kindOf(rel string) bounded.Kind {
	switch base := path.Base(filepath.ToSlash(rel)); {
	case base == "Dockerfile":
		return bounded.Dockerfile
	case base == ".dockerignore" || base == ".containerignore":
		return bounded.IgnoreFile
	case strings.HasSuffix(base, ".txt") || strings.HasPrefix(base, "environment") || base == "REQUIRE" || base == "install.R" || base == "DESCRIPTION":
		// requirements.txt, apt.txt, environment.yml, conda lock files, ...
		return bounded.PackageList
	}
	return bounded.Config
}

// repo is a repository being read, with repo2docker's configuration
// directory already chosen.
type repo struct {
	root string
	// dir is ".binder", "binder" or "" (the root), as repo2docker's binder_dir.
	dir string
	// read lists the files read, repository-relative, in order.
	read []string
}

// openRepo resolves the configuration directory as repo2docker's
// BuildPack.binder_dir does: .binder/, else binder/, both at once an error.
func openRepo(root string) (*repo, error) {
	r := &repo{root: root}
	dot, plain := r.isDir(".binder"), r.isDir("binder")
	switch {
	case dot && plain:
		return nil, fmt.Errorf("%s: the repository has both a binder/ and a .binder/ directory; repo2docker refuses that too: keep one of them", root)
	case dot:
		r.dir = ".binder"
	case plain:
		r.dir = "binder"
	}
	return r, nil
}

// path is repo2docker's binder_path: name inside the configuration directory.
func (r *repo) path(name string) string {
	if r.dir == "" {
		return name
	}
	return r.dir + "/" + name
}

// abs is the host path of a repository-relative path.
func (r *repo) abs(rel string) string { return filepath.Join(r.root, filepath.FromSlash(rel)) }

// isDir reports a directory (following a symlink that stays in the repository).
func (r *repo) isDir(rel string) bool {
	p, err := r.resolve(rel)
	if err != nil {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// exists is os.path.exists: any file type, a dangling link is absent.
func (r *repo) exists(rel string) bool {
	p, err := r.resolve(rel)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// resolve returns the host path of rel, refusing symlinks that lead out of
// the repository.
func (r *repo) resolve(rel string) (string, error) {
	p := r.abs(rel)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(r.root)
	if err != nil {
		return "", err
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is a symlink that leads outside the repository (to %s): make it a regular file", rel, real)
	}
	return real, nil
}

// readFile reads a repository file and records that it was read.
func (r *repo) readFile(rel string) ([]byte, error) {
	p, err := r.resolve(rel)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s: not a regular file", rel)
	}
	b, err := bounded.ReadFile(p, kindOf(rel))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	r.note(rel)
	return b, nil
}

func (r *repo) note(rel string) {
	for _, f := range r.read {
		if f == rel {
			return
		}
	}
	r.read = append(r.read, rel)
}

// Runtime is runtime.txt parsed as repo2docker's BaseImage.runtime does:
// "name-version", "name-version-YYYY-MM-DD" or "name-YYYY-MM-DD".
type Runtime struct {
	Name    string
	Version string
	// Date is zero when the file gives none.
	Date time.Time
}

var runtimeDateRE = lazyregexp.New(`^\d\d\d\d-\d\d-\d\d$`)

// ParseRuntime parses the content of runtime.txt (surrounding space trimmed).
func ParseRuntime(s string) (Runtime, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "-")
	if n := len(parts); n != 2 && n != 4 && n != 5 {
		return Runtime{}, fmt.Errorf("invalid runtime %q: expected name-version, name-version-YYYY-MM-DD or name-YYYY-MM-DD (e.g. python-3.11)", s)
	}
	for _, p := range parts {
		if p == "" {
			return Runtime{}, fmt.Errorf("invalid runtime %q: empty part between dashes", s)
		}
	}
	rt := Runtime{Name: parts[0]}
	if len(parts) == 2 || len(parts) == 5 {
		rt.Version = parts[1]
	}
	if len(parts) >= 4 {
		d := strings.Join(parts[len(parts)-3:], "-")
		if !runtimeDateRE.MatchString(d) {
			return Runtime{}, fmt.Errorf("invalid runtime %q: date %q is not YYYY-MM-DD", s, d)
		}
		t, err := time.Parse("2006-01-02", d)
		if err != nil {
			return Runtime{}, fmt.Errorf("invalid runtime %q: date %q: %v", s, d, err)
		}
		rt.Date = t
	}
	return rt, nil
}

// runtime reads and parses runtime.txt; nil when there is none.
func (r *repo) runtime() (*Runtime, error) {
	rel := r.path("runtime.txt")
	if !r.exists(rel) {
		return nil, nil
	}
	b, err := r.readFile(rel)
	if err != nil {
		return nil, err
	}
	rt, err := ParseRuntime(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return &rt, nil
}

// detection is the buildpack repo2docker would pick and why.
type detection struct {
	buildpack string
	reason    string
	runtime   *Runtime
}

// detect picks the buildpack as repo2docker's Repo2Docker.build does: the
// first of its ordered list whose detect() is true, else PythonBuildPack.
func (r *repo) detect() (*detection, error) {
	if err := r.legacy(); err != nil {
		return nil, err
	}
	if f := r.first("Dockerfile"); f != "" {
		return &detection{buildpack: Docker, reason: f}, nil
	}
	if f := r.first("Project.toml", "JuliaProject.toml"); f != "" {
		return &detection{buildpack: JuliaProjectToml, reason: f}, nil
	}
	if f := r.first("REQUIRE"); f != "" {
		return &detection{buildpack: JuliaRequire, reason: f}, nil
	}
	if f := r.first("default.nix"); f != "" {
		return &detection{buildpack: Nix, reason: f}, nil
	}
	rt, err := r.runtime()
	if err != nil {
		return nil, err
	}
	d := &detection{runtime: rt}
	if rt != nil && rt.Name == "r" && !rt.Date.IsZero() {
		d.buildpack, d.reason = R, r.path("runtime.txt")+" names R with a snapshot date"
		return d, nil
	}
	if r.dir == "" && r.exists("DESCRIPTION") {
		d.buildpack, d.reason = R, "DESCRIPTION at the root (an R package)"
		return d, nil
	}
	if f := r.first("environment.yml", "environment.yaml"); f != "" {
		d.buildpack, d.reason = Conda, f
		return d, nil
	}
	if rt == nil || rt.Name == "python" {
		if f := r.first("Pipfile", "Pipfile.lock"); f != "" {
			d.buildpack, d.reason = Pipfile, f
			return d, nil
		}
	}
	switch {
	case rt != nil && rt.Name == "python":
		d.buildpack, d.reason = Python, r.path("runtime.txt")+" names python"
		return d, nil
	case rt != nil:
		// runtime.txt names another runtime: PythonBuildPack.detect is false,
		// and the default (PythonBuildPack again) is used.
		d.buildpack, d.reason = Python, fmt.Sprintf("default buildpack (%s names %q, which no buildpack takes)", r.path("runtime.txt"), rt.Name)
		return d, nil
	}
	pkg, err := r.rootPackage()
	if err != nil {
		return nil, err
	}
	if pkg != "" {
		d.buildpack, d.reason = Python, pkg+" at the root (a Python package)"
		return d, nil
	}
	if f := r.first("requirements.txt"); f != "" {
		d.buildpack, d.reason = Python, f
		return d, nil
	}
	d.buildpack, d.reason = Python, "default buildpack (no configuration file)"
	return d, nil
}

// first returns the binder path of the first of names that exists.
func (r *repo) first(names ...string) string {
	for _, n := range names {
		if p := r.path(n); r.exists(p) {
			return p
		}
	}
	return ""
}

// legacy is LegacyBinderDockerBuildPack.detect: it is never chosen, but a root
// Dockerfile built FROM andrewosh/binder-base is an error.
func (r *repo) legacy() error {
	if !r.exists("Dockerfile") {
		return nil
	}
	b, err := r.readFile("Dockerfile")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), int(bounded.Dockerfile.Limit))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "FROM") {
			continue
		}
		if strings.Contains(strings.ToLower(strings.SplitN(line, "#", 2)[0]), "andrewosh/binder-base") {
			return fmt.Errorf("%s:%d: FROM andrewosh/binder-base is the legacy Binder base image, which repo2docker removed in January 2020: rewrite the Dockerfile FROM a current image, or replace it with requirements.txt and apt.txt", "Dockerfile", n)
		}
		return nil
	}
	return nil
}

// rootPackage reports a Python package at the root, as PythonBuildPack sees
// one: setup.py, or a pyproject.toml with [project] and [build-system]; only
// when there is no binder directory.
func (r *repo) rootPackage() (string, error) {
	if r.dir != "" {
		return "", nil
	}
	if r.exists("setup.py") {
		return "setup.py", nil
	}
	if !r.exists("pyproject.toml") {
		return "", nil
	}
	pp, err := r.pyproject()
	if err != nil {
		return "", err
	}
	if pp.isPackage() {
		return "pyproject.toml", nil
	}
	return "", nil
}

// pyprojectFile is the part of pyproject.toml that matters here.
type pyprojectFile struct {
	Project     map[string]any `toml:"project"`
	BuildSystem map[string]any `toml:"build-system"`
}

func (p *pyprojectFile) isPackage() bool { return p.Project != nil && p.BuildSystem != nil }

func (p *pyprojectFile) strings(table map[string]any, key string) []string {
	var out []string
	if l, ok := table[key].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func (r *repo) pyproject() (*pyprojectFile, error) {
	b, err := r.readFile("pyproject.toml")
	if err != nil {
		return nil, err
	}
	var pp pyprojectFile
	if _, err := toml.Decode(string(b), &pp); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("pyproject.toml:%d: %s (fix the TOML syntax)", pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("pyproject.toml: %w", err)
	}
	return &pp, nil
}

// signals are the root files and directories that make a directory look
// like a Binder repository to Detect.
var signals = []string{
	"apt.txt", "requirements.txt", "requirements3.txt", "runtime.txt", "environment.yml", "environment.yaml",
	"Pipfile", "Pipfile.lock", "postBuild", "start", "install.R", "DESCRIPTION", "Project.toml",
	"JuliaProject.toml", "REQUIRE", "default.nix", "setup.py", "pyproject.toml",
}

// looksLikeBinder says why dir is a Binder repository, or "".
func looksLikeBinder(dir string) string {
	r := &repo{root: dir}
	for _, d := range []string{".binder", "binder"} {
		if r.isDir(d) {
			return d + "/ directory"
		}
	}
	for _, s := range signals {
		if r.exists(s) {
			if s == "pyproject.toml" {
				if pp, err := r.pyproject(); err == nil && !pp.isPackage() {
					continue // a tool's configuration, not a package
				}
			}
			return s + " at the root"
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if e.Type().IsRegular() && path.Ext(e.Name()) == ".ipynb" {
			return "notebook " + e.Name() + " at the root"
		}
	}
	return ""
}
