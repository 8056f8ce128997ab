package remote

import (
	"context"
	"errors"
	"sync"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Chunking is the one policy every push path (build --push, copy, sync,
// the shared layer cache) applies to large blobs: which go up in chunks,
// of what size, and which registries refused chunks during this run, so
// that their other large blobs go in one request at once. Share one value
// by pointer across a run.
type Chunking struct {
	// Threshold is the size from which blobs go in chunks: 0 means
	// DefaultChunkThreshold, a negative value never (one PATCH, as ggcr).
	Threshold int64
	// Size is the bytes per PATCH: 0 means DefaultChunkSize.
	Size int64

	refused sync.Map // registry host -> true
}

// Applies says whether a blob of size bytes to registry goes in chunks.
func (c *Chunking) Applies(registry string, size int64) bool {
	t := c.Threshold
	if t == 0 {
		t = DefaultChunkThreshold
	}
	if t < 0 || size < t || size <= 0 {
		return false
	}
	_, refused := c.refused.Load(registry)
	return !refused
}

// Upload sends blob d of size bytes to repo with up (an UploadChunked,
// given the chunk size) when the policy applies. A zero result and no
// error mean the caller sends it in one request: the blob is small, or the
// registry refuses chunks, which is then remembered.
func (c *Chunking) Upload(ctx context.Context, repo name.Repository, d v1.Hash, size int64, up func(...ChunkOption) (UploadResult, error)) (UploadResult, error) {
	if c == nil || !c.Applies(repo.RegistryStr(), size) {
		return 0, nil
	}
	res, err := up(WithChunkSize(c.Size))
	if errors.Is(err, ErrChunkedUnsupported) {
		c.refused.Store(repo.RegistryStr(), true)
		logctx.From(ctx).Info("registry refuses chunked uploads; sending the blob in one request",
			"registry", repo.RegistryStr(), "digest", d.String(), "answer", redact.Text(err.Error()))
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	logctx.From(ctx).Debug("blob uploaded in chunks", "repository", repo.String(), "digest", d.String(), "result", res.String())
	return res, nil
}
