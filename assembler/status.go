package assembler

import (
	"context"
	"fmt"

	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
)

// Status reports, without building, which layers of p are already cached,
// per image name. Only files layers can be known so: the others are
// resolved against the image below them at build time.
func (a *Assembler) Status(ctx context.Context, p *plan.Plan) (map[string][]bool, error) {
	ctx = a.o.logTo(ctx)
	// One environment: images with the same files layer share its walk.
	s := newServices(p, a.o)
	out := map[string][]bool{}
	for _, im := range p.Images {
		for _, l := range im.Layers {
			if l.Kind != plan.KindFiles {
				out[im.Name] = append(out[im.Name], false) // resolved at build time
				continue
			}
			made, err := s.filesLayer(ctx, l, below{})
			if err != nil {
				return nil, err
			}
			hit, err := a.o.cache.Has(ctx, made.specs[0], layers.WithCompression(a.o.compression), layers.WithModTime(a.o.created))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", l.Source, err)
			}
			out[im.Name] = append(out[im.Name], hit)
		}
	}
	return out, nil
}

// DockerfileStep is one Dockerfile instruction and what the build makes of it.
type DockerfileStep = dockerfile.Step

// Describe says, without building, what each instruction of im's Dockerfile
// becomes (with the run's -f, --target, build arguments and contexts). It
// reads the Dockerfile and the build context only: a file the build makes
// may be missing yet, which is an error here and not at build time.
func (a *Assembler) Describe(p *plan.Plan, im plan.Image) ([]DockerfileStep, error) {
	if im.Dockerfile == nil {
		return nil, fmt.Errorf("image %s has no Dockerfile", im.Name)
	}
	o := a.o
	d := *im.Dockerfile
	return dockerfile.Describe(p.Root, d, dockerfile.WithBuildArgs(o.buildArgs), dockerfile.WithBuildContexts(o.contexts), dockerfile.WithTarget(o.target))
}
