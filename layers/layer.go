package layers

import (
	"fmt"
	"io"
	"os"

	"github.com/assemble-build/assemble/internal/verified"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Layer is a v1.Layer backed by a blob in the cache. Digest, DiffID, Size
// and MediaType are known without reading the blob, so a registry push can
// HEAD it first; Compressed verifies the digest while it is read.
type Layer struct {
	cache     *Cache
	desc      Descriptor
	mediaType types.MediaType
}

var _ v1.Layer = (*Layer)(nil)

// Layer returns the cached blob d as a v1.Layer.
func (c *Cache) Layer(d Descriptor) *Layer {
	return &Layer{cache: c, desc: d, mediaType: d.MediaType}
}

// WithMediaType returns the same blob under another media type (a gzip layer
// is the same bytes under its OCI and Docker media types).
func (l *Layer) WithMediaType(mt types.MediaType) *Layer {
	c := *l
	c.mediaType = mt
	return &c
}

// Descriptor is the cache entry behind the layer.
func (l *Layer) Descriptor() Descriptor { return l.desc }

// VerifiedPath is the blob's file in the cache when this process has checked
// its digest, so an output on the same file system may hard-link it.
func (l *Layer) VerifiedPath() (string, bool) {
	p := l.cache.BlobPath(l.desc.Digest)
	l.cache.mu.Lock()
	ok := l.cache.verified[p]
	l.cache.mu.Unlock()
	return p, ok
}

// Digest implements v1.Layer.
func (l *Layer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }

// DiffID implements v1.Layer.
func (l *Layer) DiffID() (v1.Hash, error) { return l.desc.DiffID, nil }

// Size implements v1.Layer.
func (l *Layer) Size() (int64, error) { return l.desc.Size, nil }

// MediaType implements v1.Layer.
func (l *Layer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Compressed implements v1.Layer.
func (l *Layer) Compressed() (io.ReadCloser, error) {
	p := l.cache.BlobPath(l.desc.Digest)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening cached layer %s: %w (run `assemble cache verify`)", l.desc.Digest, err)
	}
	// A blob corrupted after it was cached must never reach an output unnoticed.
	return verified.NewReader(f, l.desc.Digest, l.desc.Size, verified.WithError(func(m verified.Mismatch) error {
		return fmt.Errorf("cached blob %s is corrupt (sha256:%s, %d bytes): run `assemble cache verify` to remove it, then build again", p, m.Got, m.Read)
	})), nil
}

// Uncompressed implements v1.Layer.
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	comp, ok := CompressionFor(l.desc.MediaType)
	if !ok {
		rc.Close()
		return nil, fmt.Errorf("layer %s: unknown media type %s", l.desc.Digest, l.desc.MediaType)
	}
	zr, err := comp.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("decompressing layer %s: %w", l.desc.Digest, err)
	}
	return &stackedCloser{ReadCloser: zr, under: rc}, nil
}

type stackedCloser struct {
	io.ReadCloser
	under io.Closer
}

func (s *stackedCloser) Close() error {
	err := s.ReadCloser.Close()
	if uerr := s.under.Close(); err == nil {
		err = uerr
	}
	return err
}
