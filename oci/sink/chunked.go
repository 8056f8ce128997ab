package sink

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/stream"
)

// WithChunkedUpload sets which layers a registry sink uploads in chunks:
// those of at least threshold bytes, in PATCHes of chunkSize bytes, each
// streamed from the layer (memory stays flat) and resumed at the
// registry's offset after a dropped connection. Zero values keep the
// defaults (remote.DefaultChunkThreshold, 1 GiB; remote.DefaultChunkSize,
// 64 MiB); a negative threshold sends every layer in one PATCH, as ggcr does.
func WithChunkedUpload(threshold, chunkSize int64) Option {
	return func(c *config) { c.chunkThreshold, c.chunkSize = threshold, chunkSize }
}

// chunked says whether b goes up in chunks: a layer of known digest and
// size at or above the threshold, to a registry not known to refuse chunks.
func (s *registrySink) chunked(repo name.Repository, b *blob) bool {
	threshold := s.cfg.chunkThreshold
	if threshold == 0 {
		threshold = remote.DefaultChunkThreshold
	}
	if !b.isLayer || threshold < 0 || b.desc.Size < threshold {
		return false
	}
	if _, ok := unmount(b.layer).(*stream.Layer); ok {
		return false
	}
	_, refused := s.noChunks.Load(repo.RegistryStr())
	return !refused
}

// uploadChunked sends a large layer in chunks (remote.UploadChunked) and
// says whether it did. (false, nil): the layer goes through ggcr's
// one-PATCH upload instead: it is small, or the registry refuses chunks,
// which is then remembered for the rest of the push.
func (s *registrySink) uploadChunked(ctx context.Context, repo name.Repository, from *name.Repository, b *blob, pc *progressCounter) (bool, error) {
	if !s.chunked(repo, b) {
		return false, nil
	}
	l := unmount(b.layer)
	cb := remote.ChunkedBlob{
		Digest: b.desc.Digest,
		Size:   b.desc.Size,
		Open:   func(off int64) (io.ReadCloser, error) { return openAt(l, off) },
		Sent:   pc.reached,
	}
	res, err := s.cfg.remote.UploadChunked(ctx, repo, cb, remote.WithChunkSize(s.cfg.chunkSize), remote.WithMountFrom(from))
	if errors.Is(err, remote.ErrChunkedUnsupported) {
		s.noChunks.Store(repo.RegistryStr(), true)
		logctx.From(ctx).Info("registry refuses chunked uploads; sending the layer in one request",
			"registry", repo.RegistryStr(), "digest", b.desc.Digest.String(), "answer", redact.Text(err.Error()))
		return false, nil
	}
	if err != nil {
		return true, err
	}
	logctx.From(ctx).Debug("layer uploaded in chunks", "repository", repo.String(), "digest", b.desc.Digest.String(), "result", res.String())
	return true, nil
}

// mountSource is the repository of a layer's base image when it is in
// repo's registry (a mount there saves the upload), else nil.
func mountSource(l v1.Layer, repo name.Repository) *name.Repository {
	ml, ok := l.(*ggcr.MountableLayer)
	if !ok || ml.Reference.Context().RegistryStr() != repo.RegistryStr() {
		return nil
	}
	from := ml.Reference.Context()
	return &from
}

func unmount(l v1.Layer) v1.Layer {
	if ml, ok := l.(*ggcr.MountableLayer); ok {
		return ml.Layer
	}
	return l
}

// openAt opens a layer's compressed bytes from off on. Layers are read as
// streams (a cache file, a layout or archive entry, a registry download),
// so the bytes before off are read and dropped: that keeps the layer's own
// digest check over the whole blob, at the cost of a re-read after a rare
// failure.
func openAt(l v1.Layer, off int64) (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if _, err := io.CopyN(io.Discard, rc, off); err != nil {
			rc.Close()
			return nil, fmt.Errorf("skipping to byte %d: %w", off, err)
		}
	}
	return rc, nil
}
