package assembler

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/assembler/devfile"
	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/run"
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
	for _, a := range p.Artifacts {
		spec, err := devfile.ArtifactSpec(p.Root, a)
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
		o.reporter.Step(fmt.Sprintf("artifact %s:%s: %s", a.Name, strings.Join(a.Tags, ","), d))
		out = append(out, Built{Plan: plan.Image{Name: a.Name, Tags: a.Tags, Source: a.Source}, Image: img, Digest: d})
	}
	return out, nil
}

func buildImage(ctx context.Context, p *plan.Plan, im plan.Image, o *options, annotations map[string]string) (Built, error) {
	b := Built{Plan: im}
	svc := newServices(p, o)
	svc.name, svc.report = im.Name, &b.Layers
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
		var base v1.Image
		if im.Dockerfile != nil {
			base, err = buildDockerfile(ctx, p, *im.Dockerfile, plat, svc, o)
			if err != nil {
				return b, err
			}
		} else if base, err = svc.Base(ctx, im.Base, plat); err != nil {
			return b, fmt.Errorf("base %s for %s: %w", im.Base, ps, err)
		}
		st := &stack{o: o, name: im.Name, platform: ps, base: base, cur: base, report: &b.Layers}
		for _, l := range im.Layers {
			if err := buildLayer(ctx, p, svc.env, st, l, plat, o); err != nil {
				return b, err
			}
		}
		img, err := oci.Stack(st.base, st.adds, configFor(im.Config), o.created, merge(annotations, im.Annotations))
		if err != nil {
			return b, err
		}
		images = append(images, img)
	}
	var err error
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

// buildDockerfile builds a Dockerfile image through the frontend, with the
// plan's and the command line's build contexts and arguments.
func buildDockerfile(ctx context.Context, p *plan.Plan, df plan.Dockerfile, plat v1.Platform, svc *services, o *options) (v1.Image, error) {
	if o.dockerfile != "" {
		df.Path = o.dockerfile
	}
	if o.target != "" {
		df.Target = o.target
	}
	df.BuildArgs = merge(df.BuildArgs, o.buildArgs)
	contexts := merge(df.BuildContexts, o.contexts)
	return dockerfile.Build(ctx, p.Root, df, plat, svc,
		dockerfile.WithCreated(o.created), dockerfile.WithBuildContexts(contexts),
		dockerfile.WithNoRun(o.noRun), dockerfile.WithRunOutput(o.runOutput),
		dockerfile.WithListingCache(filepath.Join(o.cache.Dir(), "listings")))
}

// buildLayer turns one plan layer into one or more built layers on st.
func buildLayer(ctx context.Context, p *plan.Plan, e *env, st *stack, l plan.Layer, plat v1.Platform, o *options) error {
	switch l.Kind {
	case plan.KindDeb:
		specs, err := e.debLayers(ctx, l, st.cur, plat)
		if err != nil {
			return fmt.Errorf("%s: %w", l.Source, err)
		}
		if len(specs) == 0 {
			o.reporter.Step(fmt.Sprintf("%s [%s] %s: every package is already installed", st.name, st.platform, l.Source))
		}
		for _, spec := range specs {
			if err := st.add(ctx, spec, l.Comment); err != nil {
				return fmt.Errorf("%s: %w", l.Source, err)
			}
		}
		return nil
	case plan.KindPython:
		spec, set, target, err := e.pythonLayer(ctx, l, st.cur, plat)
		if err != nil {
			return err
		}
		o.reporter.Step(fmt.Sprintf("%s [%s] python %s (%s, %s): %d distributions", st.name, st.platform, target.PythonFull, target.Interpreter, target.Purelib, len(set)))
		for _, r := range set {
			slog.Debug("python requirement resolved", "name", r.Name, "version", r.Version, "file", r.Filename, "sha256", r.SHA256)
		}
		if err := st.add(ctx, spec, l.Comment); err != nil {
			return fmt.Errorf("%s: %w", l.Source, err)
		}
		last := &(*st.report)[len(*st.report)-1]
		last.Python = &PythonReport{Interpreter: target.Interpreter, Version: target.PythonFull, Purelib: target.Purelib,
			Glibc: target.Glibc, Arch: target.Arch, Resolved: set, Pins: wheel.FormatPins(set)}
		return nil
	case plan.KindRun:
		r := l.Run
		if o.noRun {
			return fmt.Errorf("%s: refusing to run %q (--no-run): this step needs the sandbox", l.Source, strings.Join(r.Command, " "))
		}
		cf, err := st.cur.ConfigFile()
		if err != nil {
			return err
		}
		spec := run.NewLayer(run.Spec{
			Base: st.cur, Command: r.Command, Env: oci.MergeEnv(cf.Config.Env, r.Env),
			User: r.User, WorkDir: r.WorkDir, Network: r.Network,
			Stdout: o.runOutput, Stderr: o.runOutput,
		})
		if err := st.add(ctx, spec, l.Comment); err != nil {
			return fmt.Errorf("%s: %w", l.Source, err)
		}
		return nil
	case plan.KindGenerated:
		g := &layers.Generated{}
		for _, f := range l.Generated.Files {
			g.Files = append(g.Files, layers.GeneratedFile{Path: f.Path, Content: f.Content, Mode: fs.FileMode(f.Mode), UID: f.UID, GID: f.GID})
		}
		if l.Comment != "" {
			g.Name = "generated: " + l.Comment
		}
		if err := st.add(ctx, g, l.Comment); err != nil {
			return fmt.Errorf("%s: %w", l.Source, err)
		}
		return nil
	}
	spec, err := specFor(p, l, o)
	if err != nil {
		return err
	}
	if err := st.add(ctx, spec, l.Comment); err != nil {
		return fmt.Errorf("%s: %w", l.Source, err)
	}
	return nil
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

// add builds spec (or takes it from the cache) and stacks it.
func (st *stack) add(ctx context.Context, spec layers.Spec, comment string) error {
	res, err := st.build(ctx, spec)
	if err != nil {
		return err
	}
	layer := st.o.cache.Layer(res.Descriptor)
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
	track := o.reporter.Layer(spec.Describe())
	res, err := o.cache.Build(ctx, spec, layers.WithCompression(o.compression), layers.WithModTime(o.created), layers.WithWriteProgress(track))
	track(-1)
	if err != nil {
		return res, err
	}
	state := "built"
	if res.Hit {
		state = "cached"
	}
	o.reporter.Step(fmt.Sprintf("%s [%s] layer %s: %s %s (%s)", st.name, st.platform, spec.Describe(), state, res.Digest.String()[:19], HumanSize(res.Size)))
	*st.report = append(*st.report, LayerReport{Platform: st.platform, Description: spec.Describe(), Digest: res.Digest, Size: res.Size, Cached: res.Hit})
	return res, nil
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
	return nil, fmt.Errorf("%s: %s layers are resolved while building", l.Source, l.Kind)
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

// Status reports, without building, which layers of p are already cached.
func Status(ctx context.Context, p *plan.Plan, opts ...Option) (map[string][]bool, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	out := map[string][]bool{}
	for _, im := range p.Images {
		for _, l := range im.Layers {
			if l.Kind != plan.KindFiles {
				out[im.Name] = append(out[im.Name], false) // resolved at build time
				continue
			}
			spec, err := specFor(p, l, o)
			if err != nil {
				return nil, err
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
