package sink

import (
	"context"

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

// WithSourceRemote sets how layers read from registries are reached again
// from an offset when a chunked upload resumes (a ranged read of the
// source): copy's source side. Default: the sink's own (WithRemote).
func WithSourceRemote(r *remote.Registries) Option { return func(c *config) { c.source = r } }

// uploadChunked sends a large layer in chunks (remote.UploadChunked) and
// says whether it did. (false, nil): the layer goes through ggcr's
// one-PATCH upload instead: it is small or streamed (its size unknown
// until written), or the registry refuses chunks, which is then
// remembered for the rest of the push.
func (s *registrySink) uploadChunked(ctx context.Context, repo name.Repository, from *name.Repository, b *blob, pc *progressCounter) (bool, error) {
	if _, ok := unmount(b.layer).(*stream.Layer); ok || !b.isLayer {
		return false, nil
	}
	src := s.cfg.source
	if src == nil {
		src = s.cfg.remote
	}
	cb := src.LayerBlob(ctx, b.layer, b.desc.Digest, b.desc.Size)
	cb.Sent = pc.reached
	res, err := s.chunks.Upload(ctx, repo, b.desc.Digest, b.desc.Size, func(opts ...remote.ChunkOption) (remote.UploadResult, error) {
		return s.cfg.remote.UploadChunked(ctx, repo, cb, append(opts, remote.WithMountFrom(from))...)
	})
	return res != 0, err
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
