package assembler

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/source"
)

// Source opens an image reference for `assemble copy` and `inspect`: any
// transport source.Parse reads (with WithSourceOptions), and deb:SUITE, the
// Debian root a plan's deb: base is, built through the cache with the
// options' Debian archive (WithDebian, WithOffline, WithCacheDir, ...).
// Only deb: opens the cache.
func Source(ref string, opts ...Option) (source.Base, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	suite, ok := strings.CutPrefix(ref, DebianBase)
	if !ok {
		return source.Parse(ref, o.sourceOpts...)
	}
	if suite == "" {
		return nil, fmt.Errorf("invalid source %q: name a suite, e.g. deb:bookworm", ref)
	}
	if err := o.openCache(); err != nil {
		return nil, err
	}
	return &debianSource{ref: ref, suite: suite, svc: newServices(&plan.Plan{}, o)}, nil
}

// debianSource is deb:SUITE as a source.Base: one platform at a time, each
// built as services.Base builds a plan's deb: base.
type debianSource struct {
	ref, suite string
	svc        *services
}

func (d *debianSource) String() string { return d.ref }

// ImageName implements source.Named: localhost/debian:SUITE, which neither
// podman nor docker takes for Docker Hub's debian image.
func (d *debianSource) ImageName() string { return oci.LocalRegistry + "/debian:" + d.suite }

// Index implements source.Base: a Debian root is built one platform at a time.
func (d *debianSource) Index(context.Context) (v1.ImageIndex, error) { return nil, nil }

// Image implements source.Base.
func (d *debianSource) Image(ctx context.Context, p v1.Platform) (v1.Image, error) {
	return d.svc.forImage(d.ref).Base(d.svc.o.logTo(ctx), d.ref, p)
}
