// Package binder plans images for Binder (repo2docker) repositories: a
// repository of notebooks and a few configuration files (apt.txt,
// requirements.txt, runtime.txt, Pipfile, postBuild, start, Dockerfile, ...)
// in .binder/, binder/ or the root.
//
// Detection follows repo2docker exactly: its configuration directory rules
// and its buildpacks in its order, Python being the default. The files
// repo2docker's Python and Pipfile buildpacks honour become layers that need
// no daemon (Debian packages, Python wheels, the repository's files) and run
// layers only where a script must run (postBuild, a package of the
// repository). An environment.yml that needs only Python and pip is built
// the same way; one with conda packages becomes conda layers at
// repo2docker's prefix (condaenv.go); the buildpacks assemble cannot honour
// yet (R, from conda too, Julia, Nix) give one error naming the file, the
// buildpack and what to use instead. On a deb: base the Python environment is a virtual
// environment at repo2docker's NB_PYTHON_PREFIX that the notebook user owns
// (pyenv.go), and runtime.txt picks the Debian release.
//
// The image keeps repo2docker's shape: the notebook user (jovyan, uid and gid
// 1000), HOME, REPO_DIR, APP_BASE, its PATH order, WORKDIR $REPO_DIR, its
// labels, an entrypoint that runs `start`, and `jupyter notebook` as the
// command when Jupyter is installed. Dependency layers sit under the
// repository layer, so editing a notebook rebuilds one layer.
package binder

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Name is the convention's name in plans.
const Name = "binder"

// Defaults, as BinderHub runs repo2docker (repo2docker itself defaults to
// the invoking user, which would make images depend on who built them).
const (
	DefaultUserName = "jovyan"
	DefaultUserID   = 1000
	// DefaultBase is a Debian root built from packages, with Debian's python3
	// added in a layer: no registry is needed.
	DefaultBase = "deb:bookworm"
	// AppBase is repo2docker's APP_BASE.
	AppBase = "/srv"
	// EntrypointPath is where the entrypoint script is written.
	EntrypointPath = "/usr/local/bin/repo2docker-entrypoint"
)

// Result says what Load found, for `assemble plan`.
type Result struct {
	// Buildpack is repo2docker's class name ("PythonBuildPack").
	Buildpack string `json:"buildpack"`
	// Reason is the file (or rule) that chose it.
	Reason string `json:"reason"`
	// ConfigDir is ".binder", "binder" or "" (the root).
	ConfigDir string `json:"configDir"`
	// Files are the repository files read, repository-relative.
	Files []string `json:"files"`
	// Ignored are configuration files present that the buildpack does not
	// use, each with why (as repo2docker ignores them too).
	Ignored []string `json:"ignored,omitempty"`
	// Notes are differences from repo2docker worth knowing.
	Notes []string `json:"notes,omitempty"`
}

// Option adjusts Load.
type Option func(*options)

type options struct {
	version  string
	platform string
}

// WithVersion sets the assemble version written in the assemble.version
// label (default: the module version in the binary's build information).
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithPlatform sets the platform ("linux/arm64") whose base image is read
// while planning (default: the host's).
func WithPlatform(p string) Option { return func(o *options) { o.platform = p } }

// Detect reports whether dir looks like a Binder repository: a binder/ or
// .binder/ directory, a file one of repo2docker's buildpacks reads at the
// root, or a notebook at the root. The pipeline tries it after the more
// specific conventions.
func Detect(dir string) (bool, string) {
	why := looksLikeBinder(dir)
	return why != "", why
}

// HasConfigDir reports a binder/ or .binder/ directory: such a repository
// is a Binder repository even when its root has a Dockerfile (repo2docker
// reads only the directory then), so the pipeline should try this
// convention before the Dockerfile one for it.
func HasConfigDir(dir string) bool {
	r := &repo{root: dir}
	return r.isDir("binder") || r.isDir(".binder")
}

// Load plans the image repo2docker would build from dir, or says plainly
// which file it cannot honour. With in.Builder it reads the base image (its
// /etc/passwd and PATH); without one (`assemble plan`) a deb: base's are
// known and another base's are assumed empty.
func Load(ctx context.Context, dir string, in Input, opts ...Option) (*plan.Plan, *Result, error) {
	o := &options{platform: "linux/" + runtime.GOARCH}
	for _, opt := range opts {
		opt(o)
	}
	if o.version == "" {
		o.version = buildVersion()
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	r, err := openRepo(root)
	if err != nil {
		return nil, nil, err
	}
	d, err := r.detect()
	if err != nil {
		return nil, nil, err
	}
	res := &Result{Buildpack: d.buildpack, Reason: d.reason, ConfigDir: r.dir}
	u, err := resolveUser(in)
	if err != nil {
		return nil, nil, err
	}
	p := &plan.Plan{Convention: Name, Reason: fmt.Sprintf("repo2docker's %s: %s", d.buildpack, d.reason), Root: root}
	var im plan.Image
	switch d.buildpack {
	case Docker:
		im, err = dockerImage(r, in, u, res)
	case Python, Pipfile, Conda:
		b := newBuilder(r, d, in, u, o, res)
		im, err = b.image(ctx)
		if b.debSuite != "" {
			p.Debian = &plan.Debian{Suite: b.debSuite}
		}
	default:
		err = unsupported(r, d)
	}
	if err != nil {
		return nil, nil, err
	}
	im.Name = imageName(root, in.Registry)
	im.Tags = []string{"latest"}
	im.Source = d.reason
	labels := map[string]string{
		"repo2docker.repo": "local",
		"repo2docker.ref":  "None",
		"assemble.version": o.version,
	}
	if in.SourceURL != "" {
		labels["repo2docker.repo"] = in.SourceURL
	}
	im.Config.Labels = labels
	p.Images = []plan.Image{im}
	res.Files = r.read
	res.Ignored = append(res.Ignored, ignoredRootFiles(r)...)
	return p, res, nil
}

// notebookUser is who the image runs as, and where the repository goes.
type notebookUser struct {
	name    string
	uid     int
	home    string
	repoDir string
}

func resolveUser(in Input) (notebookUser, error) {
	u := notebookUser{name: in.UserName, uid: in.UserID}
	if u.name == "" {
		u.name = DefaultUserName
	}
	if u.uid == 0 {
		u.uid = DefaultUserID // 0 is "unset" here; the CLI refuses an explicit 0 with ValidateUser
	}
	if err := ValidateUser(u.name, u.uid); err != nil {
		return u, err
	}
	u.home = "/home/" + u.name
	u.repoDir = u.home
	if t := in.TargetRepoDir; t != "" {
		if !strings.HasPrefix(t, "/") {
			return u, fmt.Errorf("--target-repo-dir %q: give an absolute path in the image, e.g. /srv/repo", t)
		}
		for _, part := range strings.Split(t, "/") {
			if part == ".." {
				return u, fmt.Errorf("--target-repo-dir %q: \"..\" is not allowed", t)
			}
		}
		c := path.Clean(t)
		if c == "/" {
			return u, fmt.Errorf("--target-repo-dir %q: the repository cannot replace the image's root; use a directory such as /srv/repo", t)
		}
		u.repoDir = c
	}
	return u, nil
}

var nameCharRE = lazyregexp.New(`[^a-z0-9._-]+`)

// imageName is the repository directory's name made a valid image name,
// under the registry prefix when one is given.
func imageName(root, registry string) string {
	n := nameCharRE.ReplaceAllString(strings.ToLower(filepath.Base(root)), "-")
	n = strings.Trim(n, "._-")
	if n == "" {
		n = "binder"
	}
	if registry != "" {
		return strings.TrimSuffix(registry, "/") + "/" + n
	}
	return n
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// dockerImage is DockerBuildPack: the Dockerfile as it is, context the
// repository root, NB_USER and NB_UID (and REPO_DIR when asked) as build
// arguments, the repo2docker labels; every other file is ignored.
func dockerImage(r *repo, in Input, u notebookUser, res *Result) (plan.Image, error) {
	df := r.path("Dockerfile")
	r.note(df)
	args := map[string]string{"NB_USER": u.name, "NB_UID": fmt.Sprint(u.uid)}
	if in.TargetRepoDir != "" {
		args["REPO_DIR"] = u.repoDir
	}
	for _, f := range []string{"apt.txt", "requirements.txt", "runtime.txt", "Pipfile", "Pipfile.lock", "postBuild", "start", "environment.yml", "install.R"} {
		if p := r.path(f); r.exists(p) {
			res.Ignored = append(res.Ignored, p+": ignored by DockerBuildPack (a Dockerfile is used as it is; repo2docker ignores every other file too)")
		}
	}
	return plan.Image{Dockerfile: &plan.Dockerfile{Path: df, Context: ".", BuildArgs: args}}, nil
}

// ignoredRootFiles lists root configuration files a binder directory hides.
func ignoredRootFiles(r *repo) []string {
	if r.dir == "" {
		return nil
	}
	root := &repo{root: r.root}
	var out []string
	for _, s := range append([]string{"Dockerfile"}, signals...) {
		if root.exists(s) {
			out = append(out, fmt.Sprintf("%s: ignored because %s/ exists (repo2docker reads configuration only from there)", s, r.dir))
		}
	}
	return out
}
