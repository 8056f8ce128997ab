package sync

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/remote"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// copyChunked copies a large blob in chunks (remote.Chunking decides
// which): HEAD, then a mount from the source repository when both are on
// one registry, else PATCHes streamed from the source. After a dropped
// connection the upload resumes at the destination's offset, and the
// source is read again from there (a ranged GET), so nothing is buffered
// and nothing is sent twice but the chunk in flight. done is false when the
// blob goes through ggcr's one-request upload instead.
func (r *runner) copyChunked(ctx context.Context, src, dst *repoClient, d v1.Descriptor) (done bool, err error) {
	ctx = logctx.With(ctx, r.o.logger)
	cb := remote.ChunkedBlob{
		Digest: d.Digest,
		Size:   d.Size,
		Open: func(off int64) (io.ReadCloser, error) {
			rc, err := src.ep.OpenBlob(ctx, src.repo, d.Digest, d.Size, off)
			if err != nil {
				return nil, err
			}
			return &countingReader{rc: rc, n: &r.stats.bytes}, nil
		},
		Remote: true,
	}
	// Resumes back off as the rounds do: from the retry delay.
	retry := remote.Retry{Initial: max(r.o.retryDelay, time.Millisecond)}
	res, err := r.chunks.Upload(ctx, dst.repo, d.Digest, d.Size, func(opts ...remote.ChunkOption) (remote.UploadResult, error) {
		return dst.ep.UploadChunked(ctx, dst.repo, cb, append(opts, remote.WithMountFrom(&src.repo), remote.WithChunkRetry(retry))...)
	})
	if err != nil {
		return true, r.explain(err, fmt.Sprintf("copying blob %s to", d.Digest), dst.repo.String(), dst)
	}
	switch res {
	case 0:
		return false, nil
	case remote.BlobUploaded:
		r.stats.blobsCopied.Add(1)
	default:
		r.stats.blobsReused.Add(1)
	}
	return true, nil
}
