package remote

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
)

// Referrers lists the OCI 1.1 referrers of the manifest d (SBOMs,
// provenance, signatures): from the registry's referrers API, or, where it
// has none (docker-registry), from the sha256-HEX fallback tag's index that
// oras and cosign write. No referrers is an empty list, not an error.
// Writing them back is ggcr's manifest put, which updates the fallback tag
// itself when the manifest has a subject.
func Referrers(ctx context.Context, d name.Digest, opts ...ggcr.Option) ([]v1.Descriptor, error) {
	idx, err := ggcr.Referrers(d, append(opts, ggcr.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	return m.Manifests, nil
}

// IsReferrersTag reports whether tag is a referrers fallback tag
// ("sha256-" and 64 hex digits): an index of artifacts, not an image.
func IsReferrersTag(tag string) bool {
	hex, ok := strings.CutPrefix(tag, "sha256-")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
