// Package assembler is the pipeline: detect a repository's convention, plan
// its images, build them from cached layers, and publish them to sinks.
//
// An Assembler is made once per run with New; its methods Plan, Build and
// Status share one cache and one set of options.
package assembler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci/source"
)

// Assembler is the pipeline, configured: its conventions, in the order they
// are tried, and the cache and settings every plan and build of this run use.
type Assembler struct {
	o           *options
	conventions []plan.Convention
}

// New configures a pipeline and opens its cache (WithCacheDir, else
// layers.DefaultCacheDir(), unless WithCache gives one already open).
func New(opts ...Option) (*Assembler, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Assembler{o: o, conventions: o.conventionList()}, nil
}

// Option configures an Assembler; an option given a bad value returns an error from New.
type Option func(*options) error

type options struct {
	cache       *layers.Cache
	cacheDir    string
	shared      layers.Shared // --cache-from/--cache-to (sharedcache.go)
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
	conda       Conda
	noRun       bool
	runOutput   io.Writer
	builder     bool
	contexts    map[string]string
	buildArgs   map[string]string
	secrets     []dockerfile.Secret
	sshAgents   []dockerfile.SSHAgent
	target      string
	dockerfile  string
	tagScheme   string
	tagZone     *time.Location
	logger      *slog.Logger
	sbom        string // SBOM format; "" writes no SBOM or provenance
	// trees keeps base trees between the Dockerfile builds of planning
	// and of Build (build.go).
	trees *dockerfile.TreeMemo

	// request and the settings below go to the conventions.
	request plan.Request
	conventionSettings
}

func makeOptions(opts []Option) (*options, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return o, o.openCache()
}

// applyOptions sets opts over the defaults, opening nothing.
func applyOptions(opts []Option) (*options, error) {
	o := &options{compression: layers.Gzip, created: time.Unix(0, 0).UTC(), reporter: nopReporter{}, runOutput: io.Discard, trees: dockerfile.NewTreeMemo()}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o, nil
}

// openCache opens the cache WithCacheDir names, unless WithCache gave one.
func (o *options) openCache() error {
	if o.cache == nil {
		dir := o.cacheDir
		if dir == "" {
			dir = layers.DefaultCacheDir()
		}
		c, err := layers.OpenCache(dir)
		if err != nil {
			return err
		}
		// Builds killed mid-layer leave temporary files: the next build
		// clears them, as `cache prune` would.
		if r, err := c.CleanTemp(); err != nil {
			o.logger.Warn("cleaning the cache's temporary files", "err", err)
		} else if r.Removed > 0 {
			o.logger.Debug("removed temporary files of ended builds", "files", r.Removed, "bytes", r.Bytes)
		}
		o.cache = c
	}
	return nil
}

// set makes an Option that cannot fail.
func set(f func(*options)) Option {
	return func(o *options) error { f(o); return nil }
}

// WithLogger sets the logger of the pipeline and of the libraries it calls,
// which read it from the contexts the pipeline hands them (default, or nil:
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return set(func(o *options) { o.logger = l }) }

// logTo returns ctx carrying the pipeline's logger, for the libraries below.
func (o *options) logTo(ctx context.Context) context.Context {
	return logctx.With(ctx, o.logger)
}

// WithCache sets an open layer cache.
func WithCache(c *layers.Cache) Option { return set(func(o *options) { o.cache = c }) }

// WithCacheDir sets the cache directory New opens (default: layers.DefaultCacheDir()).
func WithCacheDir(dir string) Option { return set(func(o *options) { o.cacheDir = dir }) }

// WithCompression sets the layer compressor (default gzip).
func WithCompression(c layers.Compression) Option {
	return set(func(o *options) { o.compression = c })
}

// WithCreated sets every timestamp in the output (default the Unix epoch).
func WithCreated(t time.Time) Option { return set(func(o *options) { o.created = t.UTC() }) }

// WithPlatforms overrides the platforms of every image.
func WithPlatforms(p ...string) Option { return set(func(o *options) { o.platforms = p }) }

// WithBase overrides the base of every image, and the conventions' default base.
func WithBase(ref string) Option {
	return set(func(o *options) { o.base, o.request.Base = ref, ref })
}

// WithTags overrides the tags of every image. A tag may be a template:
// {version}, {group}, {branch}, {sha} (short), {timestamp:%Y%m%d}. A value
// with a "/" or ":" outside its placeholders is a full reference
// (registry.example:5000/ns/app:1.0, as docker build -t takes it): it names
// the image too, and Plan refuses it for a plan of several images.
func WithTags(tags ...string) Option { return set(func(o *options) { o.tags = tags }) }

// WithTagScheme applies a naming preset to every image: "labnow" (a
// namespace suffix on non-main branches and a time-and-commit tag); loc is
// the time zone of its timestamp tag (nil: UTC).
func WithTagScheme(scheme string, loc *time.Location) Option {
	return set(func(o *options) { o.tagScheme, o.tagZone = scheme, loc })
}

// WithSourceOptions passes options (credentials, insecure registries) to base sources.
func WithSourceOptions(so ...source.Option) Option {
	return set(func(o *options) { o.sourceOpts = append(o.sourceOpts, so...) })
}

// WithReporter receives progress.
func WithReporter(r Reporter) Option { return set(func(o *options) { o.reporter = r }) }

// WithExcludePaths keeps these absolute paths (outputs inside the
// repository, say) out of every files layer.
func WithExcludePaths(paths ...string) Option {
	return set(func(o *options) { o.exclude = append(o.exclude, paths...) })
}

// WithBuilder lets conventions build images while planning (`assemble
// build`; `assemble plan` does not build).
func WithBuilder() Option { return set(func(o *options) { o.builder = true }) }

// WithBuildContexts maps Dockerfile FROM / COPY --from names to sources,
// as BuildKit's --build-context.
func WithBuildContexts(m map[string]string) Option {
	return set(func(o *options) { o.contexts = m })
}

// Secrets and SSH agents of a Dockerfile's RUN --mount, as the Dockerfile
// convention defines them: the CLI parses its flags with ParseSecret and
// ParseSSH without importing the convention.
type (
	// Secret is a build secret (--secret id=ID,src=FILE or env=VARIABLE).
	Secret = dockerfile.Secret
	// SSHAgent is a forwarded SSH agent (--ssh ID[=SOCKET]).
	SSHAgent = dockerfile.SSHAgent
)

// ParseSecret reads a --secret flag as docker buildx takes it.
func ParseSecret(flag string) (Secret, error) { return dockerfile.ParseSecret(flag) }

// ParseSSH reads a --ssh flag as docker buildx takes it (agent sockets).
func ParseSSH(flag string) (SSHAgent, error) { return dockerfile.ParseSSH(flag) }

// WithSecrets gives a Dockerfile's RUN --mount=type=secret its secrets
// (--secret).
func WithSecrets(s []Secret) Option { return set(func(o *options) { o.secrets = s }) }

// WithSSH gives a Dockerfile's RUN --mount=type=ssh its agents (--ssh).
func WithSSH(a []SSHAgent) Option { return set(func(o *options) { o.sshAgents = a }) }

// WithBuildArgs sets Dockerfile build arguments.
func WithBuildArgs(m map[string]string) Option { return set(func(o *options) { o.buildArgs = m }) }

// WithTarget builds a Dockerfile's named stage.
func WithTarget(stage string) Option { return set(func(o *options) { o.target = stage }) }

// WithDockerfile names the Dockerfile to build (-f): relative to the
// repository, else to the working directory, inside the repository. It
// selects the Dockerfile convention whatever else the repository holds.
func WithDockerfile(path string) Option { return set(func(o *options) { o.dockerfile = path }) }

// WithNoRun refuses every step that would execute a command.
func WithNoRun(no bool) Option { return set(func(o *options) { o.noRun = no }) }

// WithRunOutput receives the output of commands run in the sandbox.
func WithRunOutput(w io.Writer) Option { return set(func(o *options) { o.runOutput = w }) }

// WithOffline forbids network access for inputs.
func WithOffline(off bool) Option { return set(func(o *options) { o.offline = off }) }

// Reporter receives progress from the pipeline. The CLI draws it as bars on
// a terminal or as one line per step in logs.
type Reporter interface {
	// Step reports one step done or started ("layer files . -> / cached").
	Step(msg string)
	// Layer starts a layer write; the returned func gets the tar bytes
	// written so far, and is called with -1 when the layer is done.
	// estimate, called once the layer's inputs are read (not before its
	// first bytes), says about how many bytes the tar holds: 0 when unknown.
	Layer(desc string, estimate func() int64) func(written int64)
}

type nopReporter struct{}

func (nopReporter) Step(string)                            {}
func (nopReporter) Layer(string, func() int64) func(int64) { return func(int64) {} }

// sizeEstimator is a layer spec that can tell, once its inputs are read,
// about how many bytes its tar holds (the sum of its files' sizes).
type sizeEstimator interface {
	SizeEstimate() int64
}

// estimateOf returns spec's size estimate, 0 when it gives none.
func estimateOf(spec layers.Spec) func() int64 {
	return func() int64 {
		if e, ok := spec.(sizeEstimator); ok {
			return e.SizeEstimate()
		}
		return 0
	}
}

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
