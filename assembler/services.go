package assembler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/quote"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/run"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/source"
)

// services is what conventions and the Dockerfile frontend get from the
// pipeline: bases by reference, layers through the cache, package installs,
// intermediate images and sandboxed commands.
type services struct {
	o   *options
	p   *plan.Plan
	env *env
	// name and report collect layer reports for the image being built;
	// platform names the platform being built in them and in progress.
	name     string
	platform string
	report   *[]LayerReport
	// installed records what a platform build installs, for its SBOM
	// (nil when SBOMs are off).
	installed *installed
	// stages, while the Dockerfile frontend builds, is the platform's
	// record, where each translated install records apart by its source
	// (installed is nil then: what a stage installs is in the image only
	// when the stage is in the target's chain).
	stages *installed
	// unpublished is set for the images a convention builds to read
	// (plan.Builder): they get no SBOM, which no one would see.
	unpublished bool
}

// newServices returns the services of one plan, with one environment for
// every image built with them.
func newServices(p *plan.Plan, o *options) *services {
	return &services{o: o, p: p, env: newEnv(p, o), report: new([]LayerReport)}
}

// forImage returns the services for building one image: its layer reports
// are its own, its environment the plan's.
func (s *services) forImage(name string) *services {
	c := *s
	c.name, c.report = name, new([]LayerReport)
	return &c
}

// forPlatform returns the services for building one platform of the image
// (the Dockerfile frontend builds its layers through Layer).
func (s *services) forPlatform(platform string) *services {
	c := *s
	c.platform = platform
	return &c
}

// Base opens any base transport, deb:SUITE included, for one platform.
func (s *services) Base(ctx context.Context, ref string, platform v1.Platform) (v1.Image, error) {
	if suite, ok := strings.CutPrefix(ref, DebianBase); ok {
		if suite == "" {
			return nil, fmt.Errorf("base %q: name a suite, e.g. deb:bookworm", ref)
		}
		img, err := oci.Scratch(platform)
		if err != nil {
			return nil, err
		}
		st := &stack{o: s.o, name: s.name, platform: osArchVariant(platform).String(), base: img, cur: img, report: s.report}
		specs, status, err := s.env.debianRoot(ctx, suite, platform, s.installed)
		if err != nil {
			return nil, fmt.Errorf("base %s: %w", ref, err)
		}
		for _, spec := range specs {
			if err := st.add(ctx, spec, "debian "+suite+" base"); err != nil {
				return nil, err
			}
		}
		if src := s.env.aptSources(suite); src != nil {
			g := &layers.Generated{Name: "apt sources", Files: []layers.GeneratedFile{{Path: "etc/apt/sources.list", Content: src, Mode: 0o644}}}
			if err := st.add(ctx, g, "apt sources for "+suite); err != nil {
				return nil, err
			}
		}
		out, err := oci.Stack(img, st.adds, oci.Config{}, s.o.created, nil)
		if err != nil {
			return nil, err
		}
		if err := s.env.store(out, "os-release", map[string]string{"ID": "debian", "VERSION_CODENAME": suite}); err != nil {
			return nil, err
		}
		return out, s.env.seedDpkgStatus(out, status)
	}
	return s.env.base(ref, platform, func() (v1.Image, error) {
		b, err := source.Parse(ref, s.o.sourceOpts...)
		if err != nil {
			return nil, err
		}
		return b.Image(ctx, platform)
	})
}

// Layer builds spec through the cache (reporting it) and returns the layer.
func (s *services) Layer(ctx context.Context, spec layers.Spec) (v1.Layer, error) {
	st := &stack{o: s.o, name: s.name, platform: s.platform, report: s.report}
	res, err := st.build(ctx, spec)
	if err != nil {
		return nil, err
	}
	return s.o.cache.LayerOf(res), nil
}

// Env returns the specs of a deb or python plan layer on img, made by the
// layer factories that make a plan's layers. The frontend wraps errors with
// the RUN's own location ("Dockerfile:3: RUN, translated to a deb layer:
// ..."), which is also the layer's Source, so a factory's prefix is dropped
// rather than said twice.
func (s *services) Env(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) ([]layers.Spec, error) {
	if l.Kind != plan.KindDeb && l.Kind != plan.KindPython {
		return nil, fmt.Errorf("%s: %s is not a package layer", l.Source, l.Kind)
	}
	rec := *s
	if s.stages != nil {
		rec.installed = s.stages.stage(l.Source)
	}
	made, err := rec.layerSpecs(ctx, l, below{img: img, platform: platform})
	if se, ok := err.(*sourcedError); ok {
		err = se.err
	}
	if err != nil {
		return nil, err
	}
	return made.specs, nil
}

// Build implements plan.Builder: one image of a plan, for one platform.
func (s *services) Build(ctx context.Context, root string, im plan.Image, platform string) (v1.Image, error) {
	p := *s.p
	p.Root = root
	im.Platforms = []string{platform}
	b := s.forImage(im.Name)
	b.p, b.unpublished = &p, true
	if root != s.p.Root {
		b.env = newEnv(&p, s.o)
	}
	built, err := b.buildImage(ctx, im, noAnnotations)
	if err != nil {
		return nil, err
	}
	return built.Image, nil
}

// Run implements plan.Builder: a command in the sandbox, its stdout returned.
func (s *services) Run(ctx context.Context, img v1.Image, cmd, env []string, user, workdir string) ([]byte, error) {
	if s.o.noRun {
		return nil, &plan.RunRefusedError{Command: quote.Command(strings.Join(cmd, " "))}
	}
	var out bytes.Buffer
	res, err := run.Run(ctx, run.Spec{Base: img, Command: cmd, Env: env, User: user, WorkDir: workdir, Stdout: &out, Stderr: s.o.runOutput})
	if res != nil {
		res.Close()
	}
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// osArchVariant drops OSVersion, which step messages and reports have
// never shown, so that v1.Platform.String() renders os/arch[/variant].
func osArchVariant(p v1.Platform) v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// snapFile is one file of a snapshot, as kept in the probe cache.
type snapFile struct {
	Mode uint32 `json:"m"`
	Data []byte `json:"d,omitempty"`
	Link string `json:"l,omitempty"`
}

// Snapshot implements plan.Builder.
func (s *services) Snapshot(ctx context.Context, img v1.Image, paths []string) (fs.FS, error) {
	h := sha256.New()
	for _, p := range paths {
		io.WriteString(h, p+"\x00")
	}
	var files map[string]snapFile
	err := s.env.probe(img, "snapshot-"+hex.EncodeToString(h.Sum(nil))[:16], &files, func(fsys fs.FS) error {
		files = map[string]snapFile{}
		for _, p := range paths {
			err := fs.WalkDir(fsys, strings.Trim(p, "/"), func(name string, d fs.DirEntry, err error) error {
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						return nil
					}
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				f := snapFile{Mode: uint32(info.Mode())}
				switch {
				case d.Type()&fs.ModeSymlink != 0:
					if rl, ok := fsys.(interface{ ReadLink(string) (string, error) }); ok {
						f.Link, _ = rl.ReadLink(name)
					}
				case d.Type().IsRegular():
					if f.Data, err = fs.ReadFile(fsys, name); err != nil {
						return err
					}
				}
				files[name] = f
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for name, f := range files {
		out[name] = &fstest.MapFile{Data: f.Data, Mode: fs.FileMode(f.Mode)}
		if f.Link != "" {
			out[name].Data = []byte(f.Link)
		}
	}
	return out, nil
}
