package layers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/ctxio"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/verified"
)

// Shared is a layer cache shared between machines (a registry repository
// or an OCI layout, see layers/remotecache), asked by Build after this
// cache misses, and told about every layer a build uses so it can keep it.
type Shared interface {
	// Lookup returns the entry stored for a full layer key.
	Lookup(ctx context.Context, key string) (SharedHit, bool)
	// Record notes that key is the layer l (described by d), for the
	// shared cache to store when it is written.
	Record(key string, d Descriptor, l v1.Layer)
}

// SharedHit is a shared cache's entry for a key. Either Layer is set, and
// used as it is (a registry blob the output's registry mounts, never
// downloaded unless something reads it), or Open reads the blob, which
// Build stores in this cache after checking its digest, size and diffID.
type SharedHit struct {
	Descriptor
	Layer  v1.Layer
	Open   func(ctx context.Context) (io.ReadCloser, error)
	Source string // the cache reference, for messages
}

// WithShared makes Build ask s when the local cache misses and record every
// layer it returns in s (nil: no shared cache).
func WithShared(s Shared) BuildOption {
	return func(o *buildOptions) { o.shared = s }
}

// LayerOf is the layer behind r: the shared cache's own layer for a hit
// used in place, else the blob in this cache.
func (c *Cache) LayerOf(r Result) v1.Layer {
	if r.layer != nil {
		return r.layer
	}
	return c.Layer(r.Descriptor)
}

// fromShared asks o.shared for key. A hit to download is fetched into this
// cache; one whose blob does not match its descriptor is ignored with a
// warning, so the layer is built instead.
func (c *Cache) fromShared(ctx context.Context, o buildOptions, key string, spec Spec) (Result, bool) {
	if o.shared == nil {
		return Result{}, false
	}
	hit, ok := o.shared.Lookup(ctx, key)
	if !ok {
		return Result{}, false
	}
	log := logctx.From(ctx)
	d := hit.Descriptor
	d.Description = spec.Describe()
	if d.MediaType != o.compression.MediaType() {
		log.Warn("ignoring shared cache entry with another compression; building the layer",
			"layer", spec.Describe(), "cache", hit.Source, "mediaType", d.MediaType)
		return Result{}, false
	}
	if hit.Layer != nil {
		log.Debug("shared layer cache hit (used in place)", "layer", spec.Describe(), "cache", hit.Source, "digest", d.Digest)
		return Result{Descriptor: d, Key: key, Hit: true, Shared: true, layer: hit.Layer}, true
	}
	if err := c.fetchShared(ctx, d, hit.Open); err != nil {
		log.Warn("ignoring shared cache entry whose blob does not match it; building the layer",
			"layer", spec.Describe(), "cache", hit.Source, "digest", d.Digest, "err", err)
		return Result{}, false
	}
	if err := c.storeKey(key, d); err != nil {
		log.Warn("could not record a shared cache hit locally", "err", err)
	}
	log.Debug("shared layer cache hit (downloaded)", "layer", spec.Describe(), "cache", hit.Source, "digest", d.Digest)
	return Result{Descriptor: d, Key: key, Hit: true, Shared: true}, true
}

// errBlobMismatch is a shared blob that is not what its entry says.
var errBlobMismatch = errors.New("blob does not match its cache entry")

// fetchShared downloads d's blob once into blobs/, checking its digest and
// size as it reads and its diffID by decompressing the same stream.
func (c *Cache) fetchShared(ctx context.Context, d Descriptor, open func(context.Context) (io.ReadCloser, error)) error {
	if c.verifyFile(c.BlobPath(d.Digest), d.Size, d.Digest) {
		return c.checkDiffID(d)
	}
	comp, ok := CompressionFor(d.MediaType)
	if !ok {
		return fmt.Errorf("%w: unknown media type %s", errBlobMismatch, d.MediaType)
	}
	rc, err := open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := c.TempFile("shared-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	vr := verified.NewReader(rc, d.Digest, d.Size, verified.WithError(func(m verified.Mismatch) error {
		return fmt.Errorf("%w: read sha256:%s (%d bytes), want %s (%d bytes)", errBlobMismatch, m.Got, m.Read, d.Digest, d.Size)
	}))
	pr, pw := io.Pipe()
	diffID := make(chan diffResult, 1)
	go func() { diffID <- uncompressedDigest(comp, pr) }()
	_, copyErr := io.Copy(io.MultiWriter(tmp, pw), ctxio.Reader(ctx, vr))
	pw.CloseWithError(copyErr)
	got := <-diffID
	if copyErr != nil {
		return copyErr
	}
	if got.err != nil || got.h != d.DiffID {
		return fmt.Errorf("%w: uncompressed digest %s, want %s (%v)", errBlobMismatch, got.h, d.DiffID, got.err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	p, err := c.blobs.PutFile(d.Digest.Hex, tmp.Name())
	if err != nil {
		return err
	}
	c.markVerified(p)
	return nil
}

// checkDiffID checks the diffID of a blob already in the cache, which a
// shared entry may pair with another diffID.
func (c *Cache) checkDiffID(d Descriptor) error {
	rc, err := c.Layer(d).Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return err
	}
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}); got != d.DiffID {
		return fmt.Errorf("%w: uncompressed digest %s, want %s", errBlobMismatch, got, d.DiffID)
	}
	return nil
}

type diffResult struct {
	h   v1.Hash
	err error
}

// uncompressedDigest reads all of r through comp's decompressor, draining r
// even when it fails so that the writer never blocks.
func uncompressedDigest(comp Compression, r io.Reader) diffResult {
	defer io.Copy(io.Discard, r) //nolint:errcheck // draining only
	zr, err := comp.NewReader(r)
	if err != nil {
		return diffResult{err: err}
	}
	defer zr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return diffResult{err: err}
	}
	return diffResult{h: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}}
}
