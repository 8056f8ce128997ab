package source

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/internal/remote"
)

// Referring is a base whose store keeps the OCI 1.1 referrers of its
// manifests (SBOMs, provenance, signatures): OCI layouts and archives,
// beside the image in index.json, and registries, through the referrers
// API or the sha256-HEX fallback tag.
type Referring interface {
	// Referrers returns the artifacts whose subject is the manifest
	// with this digest, in the order the store lists them.
	Referrers(ctx context.Context, subject v1.Hash) ([]v1.Image, error)
}

// withoutReferrers is m without the entries that are referrers, as sinks
// write them beside an image: no name, and an artifactType that is not an
// image config's (ggcr's layout writer gives every image's entry its config
// media type as artifactType).
func withoutReferrers(m *v1.IndexManifest) *v1.IndexManifest {
	out := *m
	out.Manifests = nil
	for _, d := range m.Manifests {
		at := types.MediaType(d.ArtifactType)
		if at != "" && at != types.OCIConfigJSON && at != types.DockerConfigJSON && d.Annotations[RefNameAnnotation] == "" {
			continue
		}
		out.Manifests = append(out.Manifests, d)
	}
	return &out
}

// Referrers implements Referring: the manifests of index.json whose
// subject is the digest.
func (b *layoutBase) Referrers(_ context.Context, subject v1.Hash) ([]v1.Image, error) {
	m, _, err := readIndexJSON(b.store)
	if err != nil {
		return nil, err
	}
	var out []v1.Image
	for _, d := range m.Manifests {
		if !d.MediaType.IsImage() || d.Digest == subject {
			continue
		}
		raw, err := readBlob(b.store, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.spec, err)
		}
		var mf struct {
			Subject *v1.Descriptor `json:"subject"`
		}
		if json.Unmarshal(raw, &mf) != nil || mf.Subject == nil || mf.Subject.Digest != subject {
			continue
		}
		img, err := newLayoutImage(b.store, d)
		if err != nil {
			return nil, fmt.Errorf("%s: referrer %s: %w", b.spec, d.Digest, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// Referrers implements Referring through ggcr, which asks the registry's
// referrers API and falls back to the sha256-HEX tag's index.
func (b *registryBase) Referrers(ctx context.Context, subject v1.Hash) ([]v1.Image, error) {
	opts := b.remote.Options(ctx)
	d := b.ref.Context().Digest(subject.String())
	refs, err := remote.Referrers(ctx, d, opts...)
	if err != nil {
		return nil, remote.AuthError(b.ref, err)
	}
	var out []v1.Image
	for _, r := range refs {
		img, err := ggcr.Image(b.ref.Context().Digest(r.Digest.String()), opts...)
		if err != nil {
			return nil, fmt.Errorf("referrer %s of %s: %w", r.Digest, d, remote.AuthError(b.ref, err))
		}
		out = append(out, img)
	}
	return out, nil
}
