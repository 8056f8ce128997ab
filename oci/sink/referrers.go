package sink

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assemble-build/assemble/internal/remote"
)

// planReferrers adds the referrers of items to p, each once, and returns
// their index entries: the manifest descriptor with its artifactType, as
// the image-layout spec's referrers are found (by their subject field).
func planReferrers(p *plan, items []Item) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, it := range items {
		for _, r := range it.Referrers {
			node, err := p.addImage(r)
			if err != nil {
				return nil, fmt.Errorf("%s: referrer: %w", it.Name, err)
			}
			if seen[node.desc.Digest] {
				continue
			}
			seen[node.desc.Digest] = true
			m, err := r.Manifest()
			if err != nil {
				return nil, err
			}
			d := node.desc
			d.ArtifactType = m.ArtifactType
			out = append(out, d)
		}
	}
	return out, nil
}

// addReferrers appends referrer entries to an index's manifests, leaving
// out those already there: writing the same image twice lists its
// referrers once.
func addReferrers(manifests []v1.Descriptor, refs []v1.Descriptor) []v1.Descriptor {
	have := map[v1.Hash]bool{}
	for _, d := range manifests {
		have[d.Digest] = true
	}
	for _, d := range refs {
		if !have[d.Digest] {
			have[d.Digest] = true
			manifests = append(manifests, d)
		}
	}
	return manifests
}

// pushReferrers puts the referrers of the pushed items by digest, after
// the images they refer to. ggcr's writer, seeing a subject, checks the
// registry's referrers API and, where there is none, adds each to the
// sha256-HEX fallback index that oras and cosign read. A referrer the
// repository already has is not put again, so an unchanged re-push
// writes nothing.
func (s *registrySink) pushReferrers(ctx context.Context, puller *ggcr.Puller, pusher *ggcr.Pusher, targets []*pushTarget) error {
	type push struct {
		repo name.Repository
		img  v1.Image
	}
	var list []push
	seen := map[string]bool{}
	for _, t := range targets {
		for _, r := range t.item.Referrers {
			d, err := r.Digest()
			if err != nil {
				return err
			}
			key := t.ref.Context().String() + "@" + d.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			list = append(list, push{repo: t.ref.Context(), img: r})
		}
	}
	// One at a time: referrers of one subject share its fallback index,
	// which each push reads and rewrites.
	for _, p := range list {
		d, err := p.img.Digest()
		if err != nil {
			return err
		}
		ref := p.repo.Digest(d.String())
		if _, err := puller.Head(ctx, ref); err == nil {
			continue
		}
		if err := s.uploadLargeLayers(ctx, p.repo, p.img); err != nil {
			return fmt.Errorf("%s: referrer: %w", ref, remote.AuthError(ref, err))
		}
		if err := pusher.Push(ctx, ref, p.img); err != nil {
			return fmt.Errorf("%s: referrer: %w", ref, remote.AuthError(ref, err))
		}
	}
	return nil
}

// uploadLargeLayers sends the layers of a referrer (an SBOM can be large)
// that go in chunks before ggcr pushes the rest, which then finds them there.
func (s *registrySink) uploadLargeLayers(ctx context.Context, repo name.Repository, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	if len(ls) != len(m.Layers) {
		return fmt.Errorf("image has %d layers but its manifest lists %d", len(ls), len(m.Layers))
	}
	for i, l := range ls {
		b := &blob{desc: m.Layers[i], layer: l, isLayer: true}
		if _, err := s.uploadChunked(ctx, repo, mountSource(l, repo), b, &progressCounter{tr: nopTracker{}}); err != nil {
			return fmt.Errorf("blob %s: %w", b.desc.Digest, err)
		}
	}
	return nil
}
