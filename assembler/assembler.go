// Package assembler is the pipeline: detect a repository's convention, plan
// its images, build them from cached layers, and publish them to sinks.
package assembler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assemble-build/assemble/assembler/binder"
	"github.com/assemble-build/assemble/assembler/devfile"
	"github.com/assemble-build/assemble/assembler/explicit"
	"github.com/assemble-build/assemble/assembler/pieces"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/source"
)

// Option configures planning and building.
type Option func(*options)

type options struct {
	cache       *layers.Cache
	compression layers.Compression
	created     time.Time
	platforms   []string
	base        string
	tags        []string
	sourceOpts  []source.Option
	reporter    Reporter
	exclude     []string
	offline     bool
	debian      Debian
	python      Python
	noRun       bool
	runOutput   io.Writer
	input       plan.Input
	builder     bool
	contexts    map[string]string
	buildArgs   map[string]string
	target      string
	dockerfile  string
	tagScheme   string
	tagZone     *time.Location

	envMu sync.Mutex
	env   *env // shared by the images of one plan
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{compression: layers.Gzip, created: time.Unix(0, 0).UTC(), reporter: nopReporter{}, runOutput: io.Discard}
	for _, opt := range opts {
		opt(o)
	}
	if o.cache == nil {
		c, err := layers.OpenCache(layers.DefaultCacheDir())
		if err != nil {
			return nil, err
		}
		o.cache = c
	}
	return o, nil
}

// WithCache sets the layer cache (default: layers.DefaultCacheDir()).
func WithCache(c *layers.Cache) Option { return func(o *options) { o.cache = c } }

// WithCompression sets the layer compressor (default gzip).
func WithCompression(c layers.Compression) Option { return func(o *options) { o.compression = c } }

// WithCreated sets every timestamp in the output (default the Unix epoch).
func WithCreated(t time.Time) Option { return func(o *options) { o.created = t.UTC() } }

// WithPlatforms overrides the platforms of every image.
func WithPlatforms(p ...string) Option { return func(o *options) { o.platforms = p } }

// WithBase overrides the base of every image.
func WithBase(ref string) Option { return func(o *options) { o.base = ref } }

// WithTags overrides the tags of every image. A tag may be a template:
// {version}, {group}, {branch}, {sha} (short), {timestamp:%Y%m%d}.
func WithTags(tags ...string) Option { return func(o *options) { o.tags = tags } }

// WithTagScheme applies a naming preset to every image: "labnow" (a
// namespace suffix on non-main branches and a time-and-commit tag); loc is
// the time zone of its timestamp tag (nil: UTC).
func WithTagScheme(scheme string, loc *time.Location) Option {
	return func(o *options) { o.tagScheme, o.tagZone = scheme, loc }
}

// WithSourceOptions passes options (credentials, insecure registries) to base sources.
func WithSourceOptions(so ...source.Option) Option {
	return func(o *options) { o.sourceOpts = append(o.sourceOpts, so...) }
}

// WithReporter receives progress.
func WithReporter(r Reporter) Option { return func(o *options) { o.reporter = r } }

// WithExcludePaths keeps these absolute paths (outputs inside the
// repository, say) out of every files layer.
func WithExcludePaths(paths ...string) Option {
	return func(o *options) { o.exclude = append(o.exclude, paths...) }
}

// WithInput passes the user's convention settings (registry, version,
// metadata options) to the conventions.
func WithInput(in plan.Input) Option { return func(o *options) { o.input = in } }

// WithBuilder lets conventions build images while planning (`assemble
// build`; `assemble plan` does not build).
func WithBuilder() Option { return func(o *options) { o.builder = true } }

// WithBuildContexts maps Dockerfile FROM / COPY --from names to sources,
// as BuildKit's --build-context.
func WithBuildContexts(m map[string]string) Option { return func(o *options) { o.contexts = m } }

// WithBuildArgs sets Dockerfile build arguments.
func WithBuildArgs(m map[string]string) Option { return func(o *options) { o.buildArgs = m } }

// WithTarget builds a Dockerfile's named stage.
func WithTarget(stage string) Option { return func(o *options) { o.target = stage } }

// WithDockerfile names the Dockerfile to build (-f), relative to the repository.
func WithDockerfile(path string) Option { return func(o *options) { o.dockerfile = path } }

// WithNoRun refuses every step that would execute a command.
func WithNoRun(no bool) Option { return func(o *options) { o.noRun = no } }

// WithRunOutput receives the output of commands run in the sandbox.
func WithRunOutput(w io.Writer) Option { return func(o *options) { o.runOutput = w } }

// WithOffline forbids network access for inputs.
func WithOffline(off bool) Option { return func(o *options) { o.offline = off } }

// Reporter receives progress from the pipeline. The CLI draws it as bars on
// a terminal or as one line per step in logs.
type Reporter interface {
	// Step reports one step done or started ("layer files . -> / cached").
	Step(msg string)
	// Layer starts a layer write; the returned func gets bytes written so far,
	// and is called with -1 when the layer is done.
	Layer(desc string) func(written int64)
}

type nopReporter struct{}

func (nopReporter) Step(string)              {}
func (nopReporter) Layer(string) func(int64) { return func(int64) {} }

// SourceDateEpoch reads SOURCE_DATE_EPOCH (the Unix epoch when unset).
func SourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: must be a non-negative number of seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// convention is one repository convention the pipeline can detect.
type convention struct {
	name   string
	detect func(dir string) (bool, string)
	load   func(ctx context.Context, dir string, in plan.Input) (*plan.Plan, error)
}

// conventions are tried in order, most specific first: an explicit
// assemble.toml, then the repository conventions as DESIGN.md orders them.
var conventions = []convention{
	{name: explicit.Name, detect: explicit.Detect, load: func(_ context.Context, dir string, _ plan.Input) (*plan.Plan, error) { return explicit.Load(dir) }},
	{name: pieces.Name, detect: pieces.Detect, load: loadPieces},
	{name: devfile.Name, detect: devfile.Detect, load: loadDevfile},
	// A binder/ or .binder/ directory is more specific than a root
	// Dockerfile (repo2docker then reads only the directory).
	{name: binder.Name, detect: detectBinderDir, load: loadBinder},
	{name: "dockerfile", detect: detectDockerfile, load: loadDockerfile},
	{name: binder.Name, detect: binder.Detect, load: loadBinder},
}

func detectBinderDir(dir string) (bool, string) {
	if binder.HasConfigDir(dir) {
		return binder.Detect(dir)
	}
	return false, ""
}

// loadBinder plans a Binder (repo2docker) repository; what it ignores and
// how it differs from repo2docker are reported as steps.
func loadBinder(ctx context.Context, dir string, in plan.Input) (*plan.Plan, error) {
	p, res, err := binder.Load(ctx, dir, in)
	if err != nil {
		return nil, err
	}
	p.Summary = append(p.Summary, fmt.Sprintf("buildpack %s (%s)", res.Buildpack, res.Reason))
	if len(res.Files) > 0 {
		p.Summary = append(p.Summary, "files read: "+strings.Join(res.Files, ", "))
	}
	for _, n := range res.Ignored {
		p.Summary = append(p.Summary, "ignored: "+n)
	}
	for _, n := range res.Notes {
		p.Summary = append(p.Summary, "note: "+n)
	}
	return p, nil
}

// dockerfileNames are the files the Dockerfile convention looks for, in order.
var dockerfileNames = []string{"Dockerfile", "Containerfile"}

func detectDockerfile(dir string) (bool, string) {
	for _, n := range dockerfileNames {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
			return true, n + " at the repository root"
		}
	}
	return false, ""
}

// loadDockerfile plans one image from the repository's Dockerfile, named
// after the directory (--tag and --registry name it otherwise).
func loadDockerfile(_ context.Context, dir string, in plan.Input) (*plan.Plan, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ok, why := detectDockerfile(root)
	path := ""
	for _, n := range dockerfileNames {
		if fileExists(filepath.Join(root, n)) {
			path = n
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("%s: no Dockerfile", root)
	}
	name := imageNameFrom(filepath.Base(root))
	if in.Registry != "" {
		name = strings.TrimSuffix(in.Registry, "/") + "/" + name
	}
	return &plan.Plan{
		Convention: "dockerfile", Reason: why, Root: root,
		Images: []plan.Image{{Name: name, Tags: []string{"latest"}, Dockerfile: &plan.Dockerfile{Path: path, Context: "."}, Source: filepath.Join(root, path)}},
	}, nil
}

// imageNameFrom makes a valid repository name from a directory name.
func imageNameFrom(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && (r == '-' || r == '_' || r == '.' || r == ' '):
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "image"
	}
	return out
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func loadPieces(ctx context.Context, dir string, in plan.Input) (*plan.Plan, error) {
	p, res, err := pieces.Load(ctx, dir, in)
	if err != nil {
		return nil, err
	}
	// Planning writes nothing into the repository; --write-metadata does, after it.
	if in.WriteMetadata {
		if _, err := pieces.WriteMetadata(p); err != nil {
			return nil, err
		}
	}
	p.Version = res.Version
	p.Summary = append(p.Summary, res.Summary()...)
	if p.Outputs == nil {
		p.Outputs = map[string][]byte{}
	}
	p.Outputs[OutputPiecesImagesMap] = res.PiecesImagesMap()
	return p, nil
}

// OutputPiecesImagesMap names Domino's PIECES_IMAGES_MAP in Plan.Outputs.
const OutputPiecesImagesMap = "pieces-images-map"

func loadDevfile(ctx context.Context, dir string, in plan.Input) (*plan.Plan, error) {
	opts := []devfile.Option{devfile.WithContext(ctx), devfile.WithCheckIcons(in.CheckIcons), devfile.WithWriteMetadata(in.WriteMetadata)}
	if in.Registry != "" {
		opts = append(opts, devfile.WithRegistry(in.Registry))
	}
	if in.RegistryImage != "" {
		opts = append(opts, devfile.WithRegistryImage(in.RegistryImage))
		out := in.WorkDir
		if out == "" {
			out = filepath.Join(dir, ".assemble", "devfile-registry")
		}
		opts = append(opts, devfile.WithOutputDir(out))
		if in.Base != "" {
			opts = append(opts, devfile.WithRegistryImageBase(in.Base))
		}
	}
	p, artifacts, err := devfile.Load(dir, opts...)
	if err != nil {
		return nil, err
	}
	p.Artifacts = append(p.Artifacts, artifacts...)
	return p, nil
}

// ErrNoConvention means nothing in the directory says what to build.
var ErrNoConvention = errors.New("no convention matched")

// Detect names the convention that matches dir and why.
func Detect(dir string) (name, reason string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", "", fmt.Errorf("repository %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("repository %s is not a directory", dir)
	}
	for _, c := range conventions {
		if ok, why := c.detect(dir); ok {
			return c.name, why, nil
		}
	}
	var names []string
	for _, c := range conventions {
		names = append(names, c.name)
	}
	return "", "", fmt.Errorf("%s: %w (looked for: %s): add an %s that lists the images to build", dir, ErrNoConvention, strings.Join(names, ", "), explicit.FileName)
}

// Plan detects dir's convention and returns its plan with the overrides applied.
func Plan(ctx context.Context, dir string, opts ...Option) (*plan.Plan, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	name, _, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	if o.builder {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		o.input.Builder = newServices(&plan.Plan{Root: abs}, o)
	}
	var p *plan.Plan
	for _, c := range conventions {
		if c.name == name {
			if p, err = c.load(ctx, dir, o.input); err != nil {
				return nil, err
			}
			break
		}
	}
	var vars oci.TagVars
	if len(o.tags) > 0 || o.tagScheme != "" {
		if vars, err = oci.GitVars(p.Root, os.Getenv); err != nil {
			return nil, err
		}
		vars.Location = o.tagZone
		if vars.Time.IsZero() {
			// No commit time: SOURCE_DATE_EPOCH when set, else now (tags are
			// names; no digest depends on them).
			vars.Time = time.Now()
			if os.Getenv("SOURCE_DATE_EPOCH") != "" {
				vars.Time = o.created
			}
		}
	}
	for i := range p.Images {
		img := &p.Images[i]
		if o.base != "" {
			img.Base = o.base
		}
		if len(o.platforms) > 0 {
			img.Platforms = o.platforms
		}
		if len(img.Platforms) == 0 {
			img.Platforms = []string{HostPlatform()}
		}
		if err := applyTags(img, o, vars, p.Version); err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Name, err)
		}
	}
	return p, nil
}

// applyTags expands tag templates and applies the tag scheme to one image.
func applyTags(img *plan.Image, o *options, vars oci.TagVars, version string) error {
	vars.Group = img.Group
	vars.Version = o.input.Version
	if vars.Version == "" {
		vars.Version = version
	}
	if vars.Version == "" && len(img.Tags) > 0 {
		vars.Version = img.Tags[0]
	}
	if len(o.tags) > 0 {
		var tags []string
		for _, tmpl := range o.tags {
			t, err := oci.ExpandTag(tmpl, vars)
			if err != nil {
				return err
			}
			tags = append(tags, t)
		}
		img.Tags = tags
	}
	switch o.tagScheme {
	case "":
	case "labnow":
		var all []string
		repo := img.Name
		for _, t := range img.Tags {
			r, tags, err := oci.LabNow(img.Name+":"+t, vars)
			if err != nil {
				return err
			}
			repo = r
			for _, nt := range tags {
				if !slices.Contains(all, nt) {
					all = append(all, nt)
				}
			}
		}
		img.Name, img.Tags = repo, all
	default:
		return fmt.Errorf("unknown tag scheme %q: the presets are: labnow", o.tagScheme)
	}
	return nil
}

// HostPlatform is the platform images are built for by default.
func HostPlatform() string {
	return "linux/" + runtime.GOARCH
}

// absUnder reports the path of p relative to root when p is inside it.
func absUnder(root, p string) (string, bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
