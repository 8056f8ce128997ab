// Package devfile reads devfile registry repositories (devfile/registry's
// layout: stacks/, extraDevfileEntries.yaml, last_modified.json), validates
// them as registry-support's index generator does, writes the generator's
// index.json, and plans every stack version as an OCI artifact the way the
// registry's index server pushes it, plus, optionally, the registry's
// bootstrap image.
package devfile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/remote"
)

// Name is the convention's name in plans.
const Name = "devfile"

// DefaultIndexBase is the base of the registry bootstrap image, as in
// registry-support's build-tools/Dockerfile.
const DefaultIndexBase = "docker://quay.io/devfile/devfile-index-base:next"

// RegistryDir is where the bootstrap image holds the registry.
const RegistryDir = "/registry"

// Option configures Load and Index.
type Option func(*options)

type options struct {
	ctx        context.Context
	client     *http.Client
	checkIcons bool
	prefix     string
	image      string
	imageBase  string
	outputDir  string
	logger     *slog.Logger
}

func newOptions(opts []Option) *options {
	o := &options{ctx: context.Background(), imageBase: DefaultIndexBase}
	for _, opt := range opts {
		opt(o)
	}
	if o.client == nil {
		o.client = iconClient()
	}
	if o.logger == nil {
		o.logger = logctx.From(o.ctx)
	}
	return o
}

// iconClient is the icon checks' default client: internal/remote's (proxies,
// retries honouring Retry-After), each check bounded to 30 seconds in all.
var iconClient = sync.OnceValue(func() *http.Client {
	c := remote.NewHTTPClient()
	c.Timeout = 30 * time.Second
	return c
})

// WithContext bounds the network checks (icons).
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithLogger sets where Load and Index log (default: the logger the
// WithContext context carries, else slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCheckIcons turns on the icon check of the index generator: every
// stack's and sample's icon URL must answer 200 with an image Content-Type.
// It needs the network, so it is off by default.
func WithCheckIcons(on bool) Option { return func(o *options) { o.checkIcons = on } }

// WithHTTPClient sets the client icon checks use (default: internal/remote's,
// with a 30s timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithRegistry prefixes artifact names with a registry (and namespace):
// "localhost:5000" gives localhost:5000/devfile-catalog/<stack>:<version>.
// Default: none, so names are devfile-catalog/<stack>.
func WithRegistry(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithRegistryImage also plans the registry bootstrap image under ref
// ("quay.io/me/devfile-index:1.0"): the index base with the stacks and the
// generated index.json at /registry. It needs WithOutputDir.
func WithRegistryImage(ref string) Option { return func(o *options) { o.image = ref } }

// WithRegistryImageBase replaces DefaultIndexBase.
func WithRegistryImageBase(ref string) Option { return func(o *options) { o.imageBase = ref } }

// WithOutputDir is where the registry image's generated files (index.json
// and each version's archive.tar, laid out as under /registry) are
// written. It must lie inside the repository, outside stacks/, because
// files layers read from the repository. Its stacks/ and index.json are
// replaced on every Load; a directory with a stacks/ that Load did not
// write is refused.
func WithOutputDir(dir string) Option { return func(o *options) { o.outputDir = dir } }

// Detect reports whether dir is a devfile registry: a stacks/ directory
// with at least one stack (a devfile or a stack.yaml in a subdirectory).
func Detect(dir string) (bool, string) {
	ents, err := os.ReadDir(filepath.Join(dir, StacksDir))
	if err != nil {
		return false, ""
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		for _, f := range []string{DevfileName, HiddenDevfileName, StackFile} {
			if exists(filepath.Join(dir, StacksDir, e.Name(), f)) {
				names = append(names, e.Name())
				break
			}
		}
	}
	if len(names) == 0 {
		return false, ""
	}
	return true, fmt.Sprintf("%s/ holds devfile stacks (%s)", StacksDir, strings.Join(names, ", "))
}

// Index validates the registry at dir and returns its index.json, byte for
// byte as the index generator writes it; it writes nothing. Validation
// problems come back together as a *ValidationError.
func Index(dir string, opts ...Option) ([]byte, error) {
	_, idx, err := load(dir, newOptions(opts))
	if err != nil {
		return nil, err
	}
	return idx, nil
}

// Load plans a devfile registry: one artifact per stack version (named
// [<registry>/]devfile-catalog/<stack>, tagged <version>), index.json as a
// generated file (the pipeline writes it into the repository for
// --write-metadata), and with WithRegistryImage the bootstrap image. The
// artifacts are returned apart from the plan for the pipeline to fold in.
func Load(dir string, opts ...Option) (*plan.Plan, []plan.Artifact, error) {
	o := newOptions(opts)
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	if o.prefix != "" && !prefixRe.MatchString(strings.TrimSuffix(o.prefix, "/")) {
		return nil, nil, fmt.Errorf("registry prefix %q is not a registry host with an optional namespace (localhost:5000, quay.io/org)", o.prefix)
	}
	r, idx, err := load(root, o)
	if err != nil {
		return nil, nil, err
	}
	arts := r.artifacts(o.prefix)
	versions := 0
	for _, st := range r.stacks {
		versions += len(st.versions)
	}
	_, why := Detect(root)
	p := &plan.Plan{
		Convention: Name,
		Reason:     fmt.Sprintf("%s; %d stacks, %d versions", why, len(r.stacks), versions),
		Root:       root,
		Files:      []plan.File{{Path: IndexFile, Content: idx}},
	}
	if o.image != "" {
		img, err := r.registryImage(o, idx)
		if err != nil {
			return nil, nil, err
		}
		p.Images = append(p.Images, img)
	}
	return p, arts, nil
}

// load reads and validates the registry and makes index.json.
func load(dir string, o *options) (*registry, []byte, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	r, err := read(root, o)
	if err != nil {
		return nil, nil, err
	}
	if len(r.problems.List) > 0 {
		return nil, nil, &ValidationError{Root: root, What: "is not a valid devfile registry", Problems: r.problems.Sorted()}
	}
	idx, err := marshalIndex(r.index)
	if err != nil {
		return nil, nil, err
	}
	return r, idx, nil
}

var (
	prefixRe = lazyregexp.New(`^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	refRe    = lazyregexp.New(`^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)+$|^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
)

// registryImage plans the bootstrap image: the index base, the stacks at
// /registry/stacks, and the generated files (written to the output
// directory) over them at /registry.
func (r *registry) registryImage(o *options, idx []byte) (plan.Image, error) {
	name, tag := o.image, "latest"
	if strings.Contains(name, "@") {
		return plan.Image{}, fmt.Errorf("registry image %q: give a tag, not a digest", o.image)
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	if !refRe.MatchString(name) || !tagRe.MatchString(tag) {
		return plan.Image{}, fmt.Errorf("registry image %q is not a valid image reference", o.image)
	}
	if o.outputDir == "" {
		return plan.Image{}, errors.New("the registry image needs an output directory inside the repository for its generated index.json and archives (devfile.WithOutputDir)")
	}
	out, err := filepath.Abs(o.outputDir)
	if err != nil {
		return plan.Image{}, err
	}
	rel, err := filepath.Rel(r.root, out)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return plan.Image{}, fmt.Errorf("output directory %s must be a directory inside the repository %s (files layers read from the repository)", out, r.root)
	}
	rel = filepath.ToSlash(rel)
	if rel == StacksDir || strings.HasPrefix(rel, StacksDir+"/") {
		return plan.Image{}, fmt.Errorf("output directory %s must not be inside %s/: it would be copied in with the stacks", out, StacksDir)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return plan.Image{}, fmt.Errorf("creating %s: %w", out, err)
	}
	if err := r.writeBuilt(out, idx); err != nil {
		return plan.Image{}, err
	}
	return plan.Image{
		Name: name,
		Tags: []string{tag},
		Base: o.imageBase,
		Layers: []plan.Layer{
			{Kind: plan.KindFiles, Source: StacksDir + "/", Comment: "devfile stacks",
				Files: &plan.FilesLayer{Dir: StacksDir, Dest: RegistryDir + "/" + StacksDir, NoIgnoreFile: true}},
			{Kind: plan.KindFiles, Source: rel + "/", Comment: "index.json and stack archives",
				Files: &plan.FilesLayer{Dir: rel, Dest: RegistryDir, Exclude: []string{outputMarker}, NoIgnoreFile: true}},
		},
		Source: StacksDir + "/",
	}, nil
}
