package assembler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/bundle"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
)

// Built is one image of a plan, built.
type Built struct {
	Plan plan.Image
	// Image is set for a single platform, Index for several.
	Image v1.Image
	Index v1.ImageIndex
	// Digest is the manifest (or index) digest.
	Digest v1.Hash
	// Layers lists the layers this build made or took from the cache, per platform.
	Layers []LayerReport
	// Attestations are the SBOM and provenance of each platform image
	// (WithSBOM), with the referrers that carry them.
	Attestations []Attestation
}

// LayerReport says what happened to one layer.
type LayerReport struct {
	Platform    string  `json:"platform"`
	Description string  `json:"description"`
	Digest      v1.Hash `json:"digest"`
	Size        int64   `json:"size"`
	Cached      bool    `json:"cached"`
	// Python, for a python layer: the interpreter found in the image below
	// and the resolved set, so it can be pinned.
	Python *PythonReport `json:"python,omitempty"`
	// Conda, for a conda layer: the solution as an explicit lock.
	Conda *CondaReport `json:"conda,omitempty"`
}

// PythonReport is what a python layer was resolved against and to.
type PythonReport struct {
	Interpreter string           `json:"interpreter"`
	Version     string           `json:"version"`
	Purelib     string           `json:"purelib"`
	Glibc       string           `json:"glibc,omitempty"`
	Arch        string           `json:"arch"`
	Resolved    []wheel.Resolved `json:"resolved"`
	// Pins is the resolved set as a hash-pinned requirements file.
	Pins string `json:"pins"`
}

// Build builds every image and artifact of p.
func (a *Assembler) Build(ctx context.Context, p *plan.Plan) ([]Built, error) {
	o := a.o
	ctx, annotations := repoAnnotations(o.logTo(ctx), p.Root, o.created)
	// One environment for the plan's images, so an archive's index is
	// verified once however many images use it.
	svc := newServices(p, o)
	var out []Built
	for _, im := range p.Images {
		b, err := svc.forImage(im.Name).buildImage(ctx, im, annotations)
		if err != nil {
			return nil, fmt.Errorf("image %s (%s): %w", im.Name, im.Source, err)
		}
		out = append(out, b)
	}
	arts, err := buildArtifacts(p, o.reporter)
	if err != nil {
		return nil, err
	}
	return append(out, arts...), nil
}

// buildArtifacts builds p's artifacts, reading their files from the
// repository through an os.Root so that no link leads out of it.
func buildArtifacts(p *plan.Plan, r Reporter) ([]Built, error) {
	if len(p.Artifacts) == 0 {
		return nil, nil
	}
	root, err := os.OpenRoot(p.Root)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", p.Root, err)
	}
	defer root.Close()
	var out []Built
	for _, a := range p.Artifacts {
		spec, err := a.Spec(root.FS())
		if err != nil {
			return nil, err
		}
		img, err := oci.Artifact(spec)
		if err != nil {
			return nil, fmt.Errorf("artifact %s (%s): %w", a.Name, a.Source, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		r.Step(fmt.Sprintf("artifact %s:%s: %s", a.Name, strings.Join(a.Tags, ","), d))
		out = append(out, Built{Plan: plan.Image{Name: a.Name, Tags: a.Tags, Source: a.Source}, Image: img, Digest: d})
	}
	return out, nil
}

// buildImage builds im for each of its platforms, as one image or an index.
func (s *services) buildImage(ctx context.Context, im plan.Image, annotations func() map[string]string) (Built, error) {
	b := Built{Plan: im}
	s.report = &b.Layers
	platforms := im.Platforms
	if len(platforms) == 0 {
		platforms = []string{HostPlatform()}
	}
	var images []v1.Image
	for _, ps := range platforms {
		img, atts, err := s.recording().buildPlatform(ctx, im, ps, annotations)
		if err != nil {
			return b, err
		}
		images = append(images, img)
		b.Attestations = append(b.Attestations, atts...)
	}
	var err error
	if len(images) == 1 {
		b.Image = images[0]
		b.Digest, err = b.Image.Digest()
	} else {
		b.Index, err = oci.Index(images, merge(annotations(), im.Annotations))
		if err == nil {
			b.Digest, err = b.Index.Digest()
		}
	}
	if err != nil {
		return b, err
	}
	s.o.reporter.Step(fmt.Sprintf("%s: %s", im.Name, b.Digest))
	return b, nil
}

// buildPlatform builds im for one platform: its base (or Dockerfile), then
// its layers, each made by its kind's factory over the stack so far; and,
// with SBOMs on, the documents of what it installed.
func (s *services) buildPlatform(ctx context.Context, im plan.Image, ps string, annotations func() map[string]string) (v1.Image, []Attestation, error) {
	plat, err := oci.ParsePlatform(ps)
	if err != nil {
		return nil, nil, err
	}
	// base is what the plan's layers go on; from (by fromRef) the base the
	// SBOM names: for a Dockerfile, the image its target's chain of stages
	// starts from.
	var base, from v1.Image
	fromRef := im.Base
	if im.Dockerfile != nil {
		t, err := s.dockerfileImage(ctx, *im.Dockerfile, ps, plat)
		if err != nil {
			return nil, nil, err
		}
		base, from, fromRef = freeze(t.Image), t.BaseImage, t.Base
	} else {
		if base, err = s.Base(ctx, im.Base, plat); err != nil {
			return nil, nil, fmt.Errorf("base %s for %s: %w", im.Base, ps, err)
		}
		from = base
	}
	st := &stack{o: s.o, name: im.Name, platform: ps, base: base, cur: base, report: s.report}
	for _, l := range im.Layers {
		made, err := s.layerSpecs(ctx, l, below{img: st.cur, platform: plat})
		if err != nil {
			return nil, nil, err
		}
		if err := st.addAll(ctx, l, made); err != nil {
			return nil, nil, err
		}
	}
	img, err := oci.Stack(st.base, st.adds, configFor(im.Config), s.o.created, merge(annotations(), im.Annotations))
	if err != nil {
		return nil, nil, err
	}
	img = freeze(img, st.layers()...)
	atts, err := s.attestations(im, ps, fromRef, from, img, annotations())
	return img, atts, err
}

// dockerfileImage builds a Dockerfile image for one platform. A package a
// stage installs is in the image only when the stage is in the target's
// chain (FROM stage, FROM stage, ...): each translated install records
// apart, and the record takes the chain's installs and its base's.
func (s *services) dockerfileImage(ctx context.Context, df plan.Dockerfile, ps string, plat v1.Platform) (*dockerfile.Target, error) {
	b := s.forPlatform(ps)
	b.installed, b.stages = nil, s.installed
	t, err := b.buildDockerfile(ctx, df, plat)
	if err != nil {
		return nil, err
	}
	return t, s.recordTarget(ctx, t, plat)
}

// buildDockerfile builds a Dockerfile image through the frontend, with the
// plan's and the command line's build contexts and arguments.
func (s *services) buildDockerfile(ctx context.Context, df plan.Dockerfile, plat v1.Platform) (*dockerfile.Target, error) {
	o := s.o
	if o.target != "" {
		df.Target = o.target
	}
	df.BuildArgs = merge(df.BuildArgs, o.buildArgs)
	contexts := merge(df.BuildContexts, o.contexts)
	return dockerfile.BuildTarget(ctx, s.p.Root, df, plat, s,
		dockerfile.WithCreated(o.created), dockerfile.WithBuildContexts(contexts),
		dockerfile.WithNoRun(o.noRun), dockerfile.WithRunOutput(o.runOutput),
		dockerfile.WithListingCache(o.cache.Namespace("listings")), dockerfile.WithTreeMemo(o.trees), dockerfile.WithGitModesMemo(s.env.gitModes),
		dockerfile.WithSecrets(o.secrets...), dockerfile.WithSSH(o.sshAgents...),
		// ADD URLs through the download store: kept online (so a bundle
		// carries them), served from it offline.
		dockerfile.WithHTTPClient(addClient(o)))
}

// addClient is the shared HTTP client with its transport going through the
// download store (bundle.Transport).
func addClient(o *options) *http.Client {
	c := *remote.DefaultHTTPClient()
	c.Transport = bundle.Transport(o.cache, c.Transport, o.offline)
	return &c
}

// stack is an image being built for one platform: the base, the layers added
// so far, and the running image that probes of later layers read.
type stack struct {
	o        *options
	name     string
	platform string
	base     v1.Image
	cur      v1.Image
	adds     []oci.Addition
	report   *[]LayerReport
}

// layers are the base's layers and those stacked on it, what the image
// made of them holds.
func (st *stack) layers() []v1.Layer {
	known, err := st.base.Layers()
	if err != nil {
		return nil
	}
	for _, a := range st.adds {
		known = append(known, a.Layer)
	}
	return known
}

// addAll stacks what plan layer l became, reporting its step first and
// attaching its Python report to the last layer built.
func (st *stack) addAll(ctx context.Context, l plan.Layer, made specs) error {
	if made.step != "" {
		st.o.reporter.Step(fmt.Sprintf("%s [%s] %s", st.name, st.platform, made.step))
	}
	for _, spec := range made.specs {
		if err := st.add(ctx, spec, l.Comment); err != nil {
			return fmt.Errorf("%s: %w", l.Source, err)
		}
	}
	if made.conda != nil && len(*st.report) > 0 {
		(*st.report)[len(*st.report)-1].Conda = made.conda
	}
	if made.python != nil && len(*st.report) > 0 {
		(*st.report)[len(*st.report)-1].Python = made.python
	}
	return nil
}

// add builds spec (or takes it from the cache) and stacks it.
func (st *stack) add(ctx context.Context, spec layers.Spec, comment string) error {
	res, err := st.build(ctx, spec)
	if err != nil {
		return err
	}
	layer := st.o.cache.LayerOf(res)
	st.adds = append(st.adds, oci.Addition{Layer: layer, CreatedBy: "assemble: " + spec.Describe(), Comment: comment})
	st.cur, err = mutate.Append(st.cur, mutate.Addendum{Layer: layer})
	return err
}

// build takes spec from the cache or writes it, and reports what happened.
func (st *stack) build(ctx context.Context, spec layers.Spec) (layers.Result, error) {
	if c, ok := spec.(io.Closer); ok {
		defer c.Close()
	}
	o := st.o
	track := o.reporter.Layer(spec.Describe(), estimateOf(spec))
	res, err := o.cache.Build(ctx, spec, layers.WithCompression(o.compression), layers.WithModTime(o.created), layers.WithWriteProgress(track), layers.WithShared(o.shared))
	track(-1)
	if err != nil {
		return res, err
	}
	if w, ok := spec.(layerWriter); ok {
		if err := w.LayerWritten(res.DiffID); err != nil {
			return res, err
		}
	}
	state := "built"
	if res.Hit {
		state = "cached"
	}
	if res.Shared {
		state = "cached (shared)"
	}
	o.reporter.Step(fmt.Sprintf("%s [%s] layer %s: %s %s (%s)", st.name, st.platform, spec.Describe(), state, res.Digest.String()[:19], HumanSize(res.Size)))
	*st.report = append(*st.report, LayerReport{Platform: st.platform, Description: spec.Describe(), Digest: res.Digest, Size: res.Size, Cached: res.Hit})
	return res, nil
}

func configFor(c plan.Config) oci.Config {
	return oci.Config{
		Env: c.Env, User: c.User, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		Labels: c.Labels, ExposedPorts: c.ExposedPorts, Volumes: c.Volumes, StopSignal: c.StopSignal,
	}
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// HumanSize writes a byte count for people ("2.5 MiB").
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// RefsFor lists the references an image is written under: its name with each tag.
func RefsFor(im plan.Image) []string {
	var refs []string
	for _, t := range im.Tags {
		refs = append(refs, im.Name+":"+t)
	}
	return refs
}
