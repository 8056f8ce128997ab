// Package dockerfile builds Dockerfiles without a daemon.
//
// The Dockerfile is parsed by BuildKit's own parser and instruction
// packages and expanded with its shell lexer, so line continuations,
// heredocs, the escape directive, ARG scoping and variable expansion behave
// as `docker build` has them. Every instruction is then carried out
// natively: FROM opens a base through the pipeline, COPY and ADD write
// layers of files, configuration instructions change the image config and
// history. A RUN that is a package install (`apt-get install`, `pip
// install`) becomes a Debian or Python layer without running anything; any
// other RUN is executed in the sandbox of package layers/run. RUN scripts
// are read with mvdan.cc/sh's parser, and only a plain list of simple
// commands whose words it can expand for certain is translated.
//
// Where it knowingly differs from BuildKit:
//   - RUN --mount=type=cache is not mounted (the command's writes there
//     stay in its layer; a translated RUN needs none). Bind, tmpfs, secret
//     and ssh mounts are as in BuildKit; a bind's source is read into a
//     layer of the cache first (that is how the RUN's key covers it).
//   - ADD of a git repository is refused.
//   - HEALTHCHECK --start-interval is not kept (go-containerregistry's
//     config has no field for it).
//   - Copying a directory onto a symbolic link to a directory in the image
//     follows the link (as buildah does; BuildKit fails).
//   - A symbolic link in the build context that leads outside it, and an
//     archive entry below a symbolic link the archive made, are errors.
//   - An unknown user or group name in --chown is an error (BuildKit uses root).
//   - Files from a local context (the build context or a directory given
//     as a build context) get the modes git records, so that the checkout's
//     umask never changes an image: 0644, or 0755 when executable (from
//     git's index for tracked files, from any execute bit for others and
//     outside a git work tree), directories 0755, no set-id or sticky bits.
//     BuildKit keeps the modes on disk. --chmod still sets them.
//   - History entries carry the comment "assemble.dockerfile.v0".
package dockerfile

import (
	"context"
	"io"
	"net/http"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/run"
)

// Services is what the frontend needs from the pipeline.
type Services interface {
	// Base opens a FROM reference that is not a stage, for a platform:
	// scratch, deb:SUITE, oci:DIR[:REF], oci-archive:, docker-archive:, docker://REF.
	Base(ctx context.Context, ref string, platform v1.Platform) (v1.Image, error)
	// Layer builds spec through the cache (and reports it) and returns the layer to stack.
	Layer(ctx context.Context, spec layers.Spec) (v1.Layer, error)
	// Env returns the specs of a package-install layer (plan.KindDeb with
	// Deb.Packages, or plan.KindPython with Python.Requirements (repo-relative
	// files) / Python.Packages (inline requirement lines)) resolved against
	// img, the stage so far.
	Env(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) ([]layers.Spec, error)
}

// Step is one instruction of the Dockerfile and what it becomes, for
// `assemble plan`.
type Step struct {
	// Stage is the stage's name, or its index ("0") when it has none.
	Stage string `json:"stage"`
	// Line is the instruction's first line in the Dockerfile.
	Line int `json:"line"`
	// Instruction is the instruction as written (continuations joined).
	Instruction string `json:"instruction"`
	// Becomes says what the build makes of it: "config", "layer: copy ...",
	// "deb layer: gcc libc6-dev", "python layer: -r requirements.txt",
	// "run in the sandbox", ...
	Becomes string `json:"becomes"`
}

// Option adjusts a build.
type Option func(*options)

type options struct {
	buildArgs  map[string]string
	target     *string
	noRun      bool
	contexts   map[string]string
	runOutput  io.Writer
	created    time.Time
	file       string
	httpClient *http.Client
	runOptions []run.Option
	listings   ListingStore
	trees      *TreeMemo
	gitModes   *GitModesMemo
	secrets    map[string]Secret
	ssh        map[string]string // agent id -> socket
}

// ListingStore keeps entries by key, atomically (a layers.Namespace).
type ListingStore interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, data []byte) error
}

// WithListingCache keeps, in s, each layer's file listing (by diffID),
// so that a stage's files are known without decompressing its layers again
// on the next build.
func WithListingCache(s ListingStore) Option { return func(o *options) { o.listings = s } }

// WithBuildArgs sets build arguments (--build-arg); they override the
// plan's (plan.Dockerfile.BuildArgs).
func WithBuildArgs(args map[string]string) Option {
	return func(o *options) {
		for k, v := range args {
			o.buildArgs[k] = v
		}
	}
}

// WithTarget builds the named stage instead of the plan's target (or the last stage).
func WithTarget(stage string) Option { return func(o *options) { o.target = &stage } }

// WithNoRun refuses every RUN that would execute a command; translated
// package installs still work.
func WithNoRun(noRun bool) Option { return func(o *options) { o.noRun = noRun } }

// WithBuildContexts names extra build contexts (--build-context NAME=SOURCE,
// as BuildKit), over the plan's (plan.Dockerfile.BuildContexts): a FROM
// NAME or COPY --from=NAME takes SOURCE instead. SOURCE
// is a base reference (oci:DIR[:TAG], docker://REF, docker-image://REF,
// oci-layout://DIR[:TAG], deb:SUITE, scratch, ...) or a local directory
// (absolute, or relative to the repository root).
func WithBuildContexts(contexts map[string]string) Option {
	return func(o *options) {
		for k, v := range contexts {
			o.contexts[k] = v
		}
	}
}

// WithRunOutput receives the output of executed RUN commands as they run.
func WithRunOutput(w io.Writer) Option { return func(o *options) { o.runOutput = w } }

// WithCreated sets the image's creation time and every history entry's
// (default: the Unix epoch, for reproducible images).
func WithCreated(t time.Time) Option { return func(o *options) { o.created = t } }

// WithFile reads the Dockerfile from path (absolute, or relative to the
// repository root) instead of the plan's.
func WithFile(path string) Option { return func(o *options) { o.file = path } }

// WithHTTPClient sets the client ADD uses for URLs (default:
// remote.DefaultHTTPClient(), with timeouts and retries).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithRunOptions passes options to the sandbox of executed RUN commands
// (e.g. run.WithTempDir).
func WithRunOptions(opts ...run.Option) Option {
	return func(o *options) { o.runOptions = append(o.runOptions, opts...) }
}

func makeOptions(df plan.Dockerfile, opts []Option) *options {
	o := &options{
		buildArgs:  map[string]string{},
		contexts:   map[string]string{},
		secrets:    map[string]Secret{},
		ssh:        map[string]string{},
		created:    time.Unix(0, 0).UTC(),
		httpClient: remote.DefaultHTTPClient(),
	}
	for k, v := range df.BuildArgs {
		o.buildArgs[k] = v
	}
	for k, v := range df.BuildContexts {
		o.contexts[k] = v
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}
