package assembler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/deb"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/attest"
)

// DebianBase is the base transport of a Debian root built from packages
// ("deb:bookworm").
const DebianBase = "deb:"

// Debian settings the CLI may override.
type Debian struct {
	Mirror   string
	Keyring  string
	LocalDir string
}

// WithDebian overrides the plan's Debian archive settings.
func WithDebian(d Debian) Option { return set(func(o *options) { o.debian = d }) }

// Python index settings the CLI may override.
type Python struct {
	IndexURL   string
	ExtraIndex []string
	FindLinks  []string
	NoIndex    bool
}

// WithPython overrides every Python layer's index settings.
func WithPython(p Python) Option { return set(func(o *options) { o.python = p }) }

// env gives Debian and Python layers what they need: one Debian client per
// run, an index per (suite, architecture), and probes of images built so far.
type env struct {
	o      *options
	p      *plan.Plan
	client *deb.Client

	mu      sync.Mutex
	indexes map[string]*deb.Index
	// condaIndexes are the conda channels' repodata, by channels and subdir.
	condaIndexes map[string]*conda.Index
	// files are the repository files layers of this environment's images
	// by their settings: each group of a Domino repository stacks the same
	// repository layer, whose tree is then walked (and keyed) once, not
	// once per image.
	files map[string]*layers.Files
	// bases are the base images opened so far, by reference and
	// platform, frozen: a Domino repository's groups share one base.
	bases map[string]v1.Image
	// gitModes are the file modes git records in the build contexts of
	// this environment's Dockerfiles: git is asked once per context.
	gitModes *dockerfile.GitModesMemo
}

// newEnv returns the environment of one plan: Build makes one, shared by
// the plan's images, so an archive's index is verified once however many
// images use it.
func newEnv(p *plan.Plan, o *options) *env {
	dopts := []deb.Option{deb.WithOffline(o.offline), deb.WithLogger(o.logger), deb.WithLicenseReader(attest.License)}
	if k := o.debian.Keyring; k != "" {
		dopts = append(dopts, deb.WithKeyring(k))
	} else if p.Debian != nil && p.Debian.Keyring != "" {
		dopts = append(dopts, deb.WithKeyring(filepath.Join(p.Root, p.Debian.Keyring)))
	}
	return &env{o: o, p: p, client: deb.New(o.cache, dopts...), indexes: map[string]*deb.Index{}, files: map[string]*layers.Files{}, bases: map[string]v1.Image{}, gitModes: dockerfile.NewGitModesMemo()}
}

// base returns the image open opens for ref on platform, opened once per
// environment (a base is a reference resolved once for the whole run: the
// plan's images all get the same image, and a registry is asked once).
func (e *env) base(ref string, platform v1.Platform, open func() (v1.Image, error)) (v1.Image, error) {
	key := ref + "\x00" + platform.String()
	e.mu.Lock()
	img, ok := e.bases[key]
	e.mu.Unlock()
	if ok {
		return img, nil
	}
	img, err := open()
	if err != nil {
		return nil, err
	}
	img = freeze(img)
	e.mu.Lock()
	e.bases[key] = img
	e.mu.Unlock()
	return img, nil
}

// filesSpec returns the one Files spec of this environment with spec's
// settings: spec itself the first time (and without an environment). The
// repository does not change while one environment plans or builds (the
// files a run writes into it come after, or are excluded), so one walk
// serves every image.
func (e *env) filesSpec(spec *layers.Files) *layers.Files {
	if e == nil {
		return spec
	}
	k, err := json.Marshal(spec)
	if err != nil {
		return spec
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.files[string(k)]; ok {
		return f
	}
	e.files[string(k)] = spec
	return spec
}

// index returns the verified package index for a suite and architecture.
func (e *env) index(ctx context.Context, suite, arch string) (*deb.Index, error) {
	src := deb.Source{Arch: arch}
	if d := e.p.Debian; d != nil {
		src.Mirror, src.Components = d.Mirror, d.Components
		if d.Suite != "" {
			src.Suites = []string{d.Suite}
		}
		if d.LocalDir != "" {
			src.LocalDir = filepath.Join(e.p.Root, d.LocalDir)
		}
	}
	if suite != "" {
		src.Suites = []string{suite}
	}
	if e.o.debian.Mirror != "" {
		src.Mirror = e.o.debian.Mirror
	}
	if e.o.debian.LocalDir != "" {
		src.LocalDir = e.o.debian.LocalDir
	}
	key := fmt.Sprintf("%+v", src)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ix, ok := e.indexes[key]; ok {
		return ix, nil
	}
	ix, err := e.client.Index(ctx, src)
	if err != nil {
		return nil, err
	}
	e.indexes[key] = ix
	return ix, nil
}

// debianRoot returns the layer specs of a minimal Debian root for a platform,
// and its dpkg status (known without reading the layers back).
func (e *env) debianRoot(ctx context.Context, suite string, platform v1.Platform, rec *installed) ([]layers.Spec, []byte, error) {
	ix, pkgs, err := e.debianBaseSet(ctx, suite, platform)
	if err != nil {
		return nil, nil, err
	}
	rec.addDebs(suite, ix, pkgs)
	if err := e.client.Fetch(ctx, pkgs); err != nil {
		return nil, nil, err
	}
	status, err := e.client.Status(ctx, pkgs)
	if err != nil {
		return nil, nil, err
	}
	specs, err := e.client.Layers(ctx, pkgs)
	return specs, status, err
}

// debianBaseSet resolves the packages of a minimal Debian root for a
// platform, and returns them with the index they come from.
func (e *env) debianBaseSet(ctx context.Context, suite string, platform v1.Platform) (*deb.Index, []*deb.Package, error) {
	arch, err := deb.DebianArch(platform.OS + "/" + platform.Architecture)
	if err != nil {
		return nil, nil, err
	}
	ix, err := e.index(ctx, suite, arch)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := ix.Resolve(ix.BaseRequest(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("resolving the %s base set: %w", suite, err)
	}
	return ix, pkgs, nil
}

// aptSources is the /etc/apt/sources.list a deb: base gets, naming the
// archive it was built from, so apt-get inside the image works as in
// Debian's own images. None for a local directory of .deb files.
func (e *env) aptSources(suite string) []byte {
	mirror, components := deb.DefaultMirror, []string{"main"}
	if d := e.p.Debian; d != nil {
		if d.LocalDir != "" {
			return nil
		}
		if d.Mirror != "" {
			mirror = d.Mirror
		}
		if len(d.Components) > 0 {
			components = d.Components
		}
	}
	if e.o.debian.LocalDir != "" {
		return nil
	}
	if e.o.debian.Mirror != "" {
		mirror = e.o.debian.Mirror
	}
	return []byte(fmt.Sprintf("deb %s %s %s\n", mirror, suite, strings.Join(components, " ")))
}

// seedDpkgStatus records img's dpkg status as if probed, when it is known
// from the packages that built it.
func (e *env) seedDpkgStatus(img v1.Image, status []byte) error {
	return e.store(img, "dpkg-status", status)
}

// debLayers resolves a Debian layer's packages against what img already has.
func (e *env) debLayers(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform, rec *installed) ([]layers.Spec, error) {
	arch, err := deb.DebianArch(platform.OS + "/" + platform.Architecture)
	if err != nil {
		return nil, err
	}
	suite, err := e.suiteOf(img)
	if err != nil {
		return nil, err
	}
	ix, err := e.index(ctx, suite, arch)
	if err != nil {
		return nil, err
	}
	status, err := e.dpkgStatus(img)
	if err != nil {
		return nil, err
	}
	installed, err := deb.ParseStatus(strings.NewReader(string(status)))
	if err != nil {
		return nil, fmt.Errorf("reading the base's dpkg status: %w", err)
	}
	var reqs []deb.Request
	for _, p := range l.Deb.Packages {
		reqs = append(reqs, deb.Request{Name: p.Name, Where: p.Where})
	}
	pkgs, err := ix.Resolve(reqs, installed)
	if err != nil {
		return nil, err
	}
	rec.addDebs(suite, ix, pkgs)
	if err := e.client.Fetch(ctx, pkgs); err != nil {
		return nil, err
	}
	var opts []deb.LayerOption
	if len(status) > 0 {
		opts = append(opts, deb.WithBaseStatus(status))
	}
	return e.client.Layers(ctx, pkgs, opts...)
}

// pythonLayer resolves a Python layer's requirements for img's interpreter.
func (e *env) pythonLayer(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) (layers.Spec, []wheel.Resolved, *wheel.Target, error) {
	py := l.Python
	target, err := e.pythonTarget(img, platform, py.Interpreter)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", l.Source, err)
	}
	var reqs *wheel.Requirements
	var parsed []*wheel.Requirements
	for _, f := range py.Requirements {
		r, err := wheel.ParseRequirements(filepath.Join(e.p.Root, f))
		if err != nil {
			return nil, nil, nil, err
		}
		parsed = append(parsed, r)
	}
	if len(py.Packages) > 0 {
		r, err := wheel.ParseRequirementsReader(l.Source, strings.NewReader(inlineRequirements(py.Packages, py.PackageLines)), wheel.WithBaseDir(e.p.Root))
		if err != nil {
			return nil, nil, nil, err
		}
		parsed = append(parsed, r)
	}
	if len(parsed) == 0 {
		return nil, nil, nil, fmt.Errorf("%s: a python layer needs requirements files or packages", l.Source)
	}
	for _, r := range parsed {
		if reqs == nil {
			reqs = r
			continue
		}
		reqs.Requirements = append(reqs.Requirements, r.Requirements...)
		reqs.Constraints = append(reqs.Constraints, r.Constraints...)
		reqs.ExtraIndexURLs = append(reqs.ExtraIndexURLs, r.ExtraIndexURLs...)
		reqs.FindLinks = append(reqs.FindLinks, r.FindLinks...)
		reqs.NoIndex = reqs.NoIndex || r.NoIndex
		reqs.RequireHashes = reqs.RequireHashes || r.RequireHashes
		if r.IndexURL != "" {
			reqs.IndexURL = r.IndexURL
		}
	}
	var ropts []wheel.Option
	idx, extra, links, noIndex := py.IndexURL, py.ExtraIndex, py.FindLinks, py.NoIndex
	if e.o.python.IndexURL != "" {
		idx = e.o.python.IndexURL
	}
	extra = append(extra, e.o.python.ExtraIndex...)
	links = findLinks(e.p.Root, links, e.o.python.FindLinks)
	noIndex = noIndex || e.o.python.NoIndex
	if idx != "" {
		ropts = append(ropts, wheel.WithIndexURL(idx))
	}
	if len(extra) > 0 {
		ropts = append(ropts, wheel.WithExtraIndexURLs(extra...))
	}
	if len(links) > 0 {
		ropts = append(ropts, wheel.WithFindLinks(links...))
	}
	if noIndex {
		ropts = append(ropts, wheel.WithNoIndex())
	}
	if e.o.offline {
		ropts = append(ropts, wheel.WithOffline())
	}
	res := wheel.NewResolver(e.o.cache, ropts...)
	set, err := res.Resolve(ctx, reqs, target)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", l.Source, err)
	}
	desc := "python " + strings.Join(append(append([]string(nil), py.Requirements...), py.Packages...), " ")
	return wheel.NewLayer(e.o.cache, set, target, wheel.WithDownloader(res), wheel.WithDescription(desc)), set, target, nil
}

// Probes read an image's files without running it. Their results depend only
// on the image's layers, so they are kept in the cache under the chain of
// diffIDs and never computed twice.

func (e *env) dpkgStatus(img v1.Image) ([]byte, error) {
	var status []byte
	err := e.probe(img, "dpkg-status", &status, func(fsys fs.FS) error {
		b, err := fs.ReadFile(fsys, "var/lib/dpkg/status")
		if errors.Is(err, fs.ErrNotExist) {
			status = []byte{}
			return nil
		}
		status = b
		return err
	})
	return status, err
}

// suiteOf names the Debian suite img was built from (its os-release's
// VERSION_CODENAME), so packages added to it come from the same release;
// "" means the plan's or the default suite. A base of another distribution
// is refused unless the plan names its own archive.
func (e *env) suiteOf(img v1.Image) (string, error) {
	var rel map[string]string
	err := e.probe(img, "os-release", &rel, func(fsys fs.FS) error {
		rel = map[string]string{}
		b, err := fs.ReadFile(fsys, "etc/os-release")
		if errors.Is(err, fs.ErrNotExist) {
			b, err = fs.ReadFile(fsys, "usr/lib/os-release")
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				rel[k] = strings.Trim(v, `"'`)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	explicit := e.o.debian.Mirror != "" || e.o.debian.LocalDir != "" || (e.p.Debian != nil && (e.p.Debian.Mirror != "" || e.p.Debian.LocalDir != "" || e.p.Debian.Suite != ""))
	if explicit {
		return "", nil // the user chose the archive
	}
	switch id := rel["ID"]; id {
	case "", "debian":
		return rel["VERSION_CODENAME"], nil
	default:
		return "", fmt.Errorf("the base is %s, not Debian: Debian packages are resolved against Debian's archive; point --debian-mirror (and --keyring) at the base's own archive, or use a Debian base", rel["PRETTY_NAME"])
	}
}

func (e *env) pythonTarget(img v1.Image, platform v1.Platform, interpreter string) (*wheel.Target, error) {
	var t *wheel.Target
	name := "python-" + platform.Architecture
	opts := []wheel.ProbeOption{wheel.WithArch(platform.Architecture), wheel.WithProbeLogger(e.o.logger)}
	if interpreter != "" {
		sum := sha256.Sum256([]byte(interpreter))
		name += "-" + hex.EncodeToString(sum[:8])
		opts = append(opts, wheel.WithInterpreter(interpreter))
	}
	err := e.probe(img, name, &t, func(fsys fs.FS) error {
		var err error
		t, err = wheel.Probe(fsys, opts...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("probing the base's Python (install python3 in a deb layer below, or pick a base with Python): %w", err)
	}
	return t, nil
}

// probe runs f over img's filesystem unless a result for the same layers is
// cached, or one for the layers below them that the layers added on top
// cannot have changed (see probereuse.go); v is what f fills and what is
// stored. opts shape the image's filesystem (what content to keep).
func (e *env) probe(img v1.Image, name string, v any, f func(fs.FS) error, opts ...oci.FSOption) error {
	ids, err := chainIDs(img)
	if err != nil {
		return err
	}
	ns := e.o.cache.Namespace("probes")
	top := len(ids) - 1
	if b, ok, err := ns.Get(ids[top] + "-" + name + ".json"); err == nil && ok && json.Unmarshal(b, v) == nil {
		return nil
	}
	if ok, err := e.reuseProbe(img, ids, name, v); err != nil || ok {
		return err
	}
	fsys, err := oci.FS(img, append([]oci.FSOption{oci.WithFSLogger(e.o.logger)}, opts...)...)
	if err != nil {
		return fmt.Errorf("reading the image's files: %w", err)
	}
	rec := newRecordingFS(fsys)
	if err := f(rec); err != nil {
		return err
	}
	if err := e.store(img, name, v); err != nil {
		return err
	}
	if rs, ok := rec.readSet(); ok {
		return e.storeReads(img, ids, name, v, rs)
	}
	return nil
}

// store keeps a probe result for img's layers.
func (e *env) store(img v1.Image, name string, v any) error {
	chain, err := chainID(img)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.putProbe(chain+"-"+name+".json", b)
}

// chainID names a stack of layers by its diffIDs (a hash of their list, not
// the OCI spec's ChainID).
func chainID(img v1.Image) (string, error) {
	ids, err := chainIDs(img)
	if err != nil {
		return "", err
	}
	return ids[len(ids)-1], nil
}

// findLinks is the wheelhouses and link pages a python layer reads: the
// layer's own (assemble.toml's), a relative directory there being in the
// repository root, then the command line's, a relative directory there
// being in the current directory, as pip takes its --find-links.
func findLinks(root string, layer, flags []string) []string {
	links := make([]string, 0, len(layer)+len(flags))
	for _, fl := range layer {
		if !strings.Contains(fl, "://") && !filepath.IsAbs(fl) {
			fl = filepath.Join(root, fl)
		}
		links = append(links, fl)
	}
	for _, fl := range flags {
		if !strings.Contains(fl, "://") && !filepath.IsAbs(fl) {
			if abs, err := filepath.Abs(fl); err == nil {
				fl = abs
			}
		}
		links = append(links, fl)
	}
	return links
}

// inlineRequirements is a layer's inline packages as a requirements text,
// each on the line PackageLines gives it (blank lines between), so the
// parser's line numbers are those of the file the packages came from; lines
// with no place, or out of order, follow.
func inlineRequirements(pkgs []string, lines []int) string {
	var text, rest []string
	for i, p := range pkgs {
		n := 0
		if i < len(lines) {
			n = lines[i]
		}
		if n <= len(text) {
			rest = append(rest, p)
			continue
		}
		for len(text) < n-1 {
			text = append(text, "")
		}
		text = append(text, p)
	}
	return strings.Join(append(text, rest...), "\n")
}
