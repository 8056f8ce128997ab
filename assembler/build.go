package assembler

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/source"
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
}

// LayerReport says what happened to one layer.
type LayerReport struct {
	Platform    string  `json:"platform"`
	Description string  `json:"description"`
	Digest      v1.Hash `json:"digest"`
	Size        int64   `json:"size"`
	Cached      bool    `json:"cached"`
}

// Build builds every image of p.
func Build(ctx context.Context, p *plan.Plan, opts ...Option) ([]Built, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	annotations := repoAnnotations(p.Root, o.created)
	var out []Built
	for _, im := range p.Images {
		b, err := buildImage(ctx, p, im, o, annotations)
		if err != nil {
			return nil, fmt.Errorf("image %s (%s): %w", im.Name, im.Source, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func buildImage(ctx context.Context, p *plan.Plan, im plan.Image, o *options, annotations map[string]string) (Built, error) {
	b := Built{Plan: im}
	base, err := source.Parse(im.Base, o.sourceOpts...)
	if err != nil {
		return b, err
	}
	platforms := im.Platforms
	if len(platforms) == 0 {
		platforms = []string{HostPlatform()}
	}
	var images []v1.Image
	for _, ps := range platforms {
		plat, err := oci.ParsePlatform(ps)
		if err != nil {
			return b, err
		}
		baseImg, err := base.Image(ctx, plat)
		if err != nil {
			return b, fmt.Errorf("base %s for %s: %w", im.Base, ps, err)
		}
		var adds []oci.Addition
		for _, l := range im.Layers {
			spec, err := specFor(p, l, o)
			if err != nil {
				return b, err
			}
			track := o.reporter.Layer(spec.Describe())
			res, err := o.cache.Build(ctx, spec, layers.WithCompression(o.compression), layers.WithModTime(o.created), layers.WithWriteProgress(track))
			track(-1)
			if err != nil {
				return b, fmt.Errorf("%s: %w", l.Source, err)
			}
			state := "built"
			if res.Hit {
				state = "cached"
			}
			o.reporter.Step(fmt.Sprintf("%s [%s] layer %s: %s %s (%s)", im.Name, ps, spec.Describe(), state, res.Digest.String()[:19], humanSize(res.Size)))
			b.Layers = append(b.Layers, LayerReport{Platform: ps, Description: spec.Describe(), Digest: res.Digest, Size: res.Size, Cached: res.Hit})
			adds = append(adds, oci.Addition{Layer: o.cache.Layer(res.Descriptor), CreatedBy: "assemble: " + spec.Describe(), Comment: l.Comment})
		}
		img, err := oci.Stack(baseImg, adds, configFor(im.Config), o.created, merge(annotations, im.Annotations))
		if err != nil {
			return b, err
		}
		images = append(images, img)
	}
	if len(images) == 1 {
		b.Image = images[0]
		b.Digest, err = b.Image.Digest()
	} else {
		b.Index, err = oci.Index(images, merge(annotations, im.Annotations))
		if err == nil {
			b.Digest, err = b.Index.Digest()
		}
	}
	if err != nil {
		return b, err
	}
	o.reporter.Step(fmt.Sprintf("%s: %s", im.Name, b.Digest))
	return b, nil
}

// specFor turns a plan layer into a layer spec.
func specFor(p *plan.Plan, l plan.Layer, o *options) (layers.Spec, error) {
	switch l.Kind {
	case plan.KindFiles:
		f := l.Files
		spec := &layers.Files{Root: p.Root, Dir: f.Dir, Dest: f.Dest, Include: f.Include, Exclude: f.Exclude, UID: f.UID, GID: f.GID}
		if !f.NoIgnoreFile {
			pats, _, err := layers.ReadIgnoreFile(p.Root)
			if err != nil {
				return nil, err
			}
			spec.Ignore = pats
		}
		for _, ex := range o.exclude {
			if rel, ok := absUnder(p.Root, ex); ok {
				spec.Ignore = append(spec.Ignore, rel)
			}
		}
		return spec, nil
	}
	return nil, fmt.Errorf("%s: %s layers are not supported by this build of assemble yet", l.Source, l.Kind)
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

func humanSize(n int64) string {
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

// Status reports, without building, which layers of p are already cached.
func Status(ctx context.Context, p *plan.Plan, opts ...Option) (map[string][]bool, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	out := map[string][]bool{}
	for _, im := range p.Images {
		for _, l := range im.Layers {
			spec, err := specFor(p, l, o)
			if err != nil {
				out[im.Name] = append(out[im.Name], false)
				continue
			}
			hit, err := o.cache.Has(ctx, spec, layers.WithCompression(o.compression), layers.WithModTime(o.created))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", l.Source, err)
			}
			out[im.Name] = append(out[im.Name], hit)
		}
	}
	return out, nil
}

// RefsFor lists the references an image is written under: its name with each tag.
func RefsFor(im plan.Image) []string {
	var refs []string
	for _, t := range im.Tags {
		refs = append(refs, im.Name+":"+t)
	}
	return refs
}
