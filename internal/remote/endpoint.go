package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/internal/verified"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Endpoint is how one repository's blobs are reached outside ggcr's
// Pusher and Puller (chunked uploads, ranged reads): its credentials and
// transport. Registries makes one from its keychain; oci/sync, which keeps
// its own credentials per repository, fills one in itself.
type Endpoint struct {
	Auth      authn.Authenticator // nil: anonymous
	Transport http.RoundTripper   // under authentication; nil: BaseTransport()
	UserAgent string              // "": none added
}

// Endpoint returns repo's endpoint: the keychain's credentials for it
// over the shared transport (retries with Retry-After, TLS, proxies,
// redacted logs).
func (r *Registries) Endpoint(ctx context.Context, repo name.Repository) (Endpoint, error) {
	r.once.Do(r.build)
	kc := r.Keychain
	if kc == nil {
		kc = DefaultKeychain()
	}
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s: reading credentials: %w", repo, err)
	}
	return Endpoint{Auth: auth, Transport: r.rt, UserAgent: "assemble"}, nil
}

// client returns a client holding a token for scopes, built as ggcr's
// writer and reader build theirs.
func (e Endpoint) client(ctx context.Context, repo name.Repository, scopes ...string) (*http.Client, error) {
	rt, auth := e.Transport, e.Auth
	if rt == nil {
		rt = BaseTransport()
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if e.UserAgent != "" {
		rt = transport.NewUserAgent(rt, e.UserAgent)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, rt, scopes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	return &http.Client{Transport: rt}, nil
}

// OpenBlob reads blob d (size bytes) of repo from byte off on: a ranged
// GET, so that resuming the copy of a 3 GB blob at byte 2.9 GB reads
// 100 MB from the source, not 2.9 GB more. From 0, or when the registry
// ignores the Range and sends the whole blob (the bytes before off are then
// read and dropped), the digest and size are checked at EOF; a ranged read
// cannot check them, which the destination does when the upload is
// committed.
func (e Endpoint) OpenBlob(ctx context.Context, repo name.Repository, d v1.Hash, size, off int64) (io.ReadCloser, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm", d)
	}
	client, err := e.client(ctx, repo, repo.Scope(transport.PullScope))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, blobURL(repo, d), nil)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s of %s: %w", d, repo, err)
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		if got, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || got != off {
			resp.Body.Close()
			return nil, fmt.Errorf("reading blob %s of %s from byte %d: the registry sent range %q", d, repo, off, resp.Header.Get("Content-Range"))
		}
		return resp.Body, nil
	case resp.StatusCode == http.StatusOK:
		vr := verified.NewReader(resp.Body, d, size)
		if _, err := io.CopyN(io.Discard, vr, off); err != nil {
			vr.Close()
			return nil, fmt.Errorf("reading blob %s of %s: skipping to byte %d: %w", d, repo, off, err)
		}
		return vr, nil
	}
	defer resp.Body.Close()
	return nil, fmt.Errorf("reading blob %s of %s: %w", d, repo, transport.CheckError(resp, http.StatusOK))
}

// rangeStart reads the first byte of a Content-Range ("bytes 100-199/200").
func rangeStart(v string) (int64, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil && n >= 0
}

// LayerBlob is layer l (digest d, size bytes) as a chunked upload reads
// it: from 0 the layer's own Compressed, which checks its digest as it
// reads; from an offset, after a dropped connection, a ranged read of the
// repository a registry layer came from (a ggcr.MountableLayer: Remote,
// so that its own dropped connections are resumed too), else Compressed
// again with the bytes before the offset read and dropped (a local file:
// cheap, and its digest still checked).
func (r *Registries) LayerBlob(ctx context.Context, l v1.Layer, d v1.Hash, size int64) ChunkedBlob {
	inner := l
	var from *name.Repository
	if ml, ok := l.(*ggcr.MountableLayer); ok {
		inner = ml.Layer
		repo := ml.Reference.Context()
		from = &repo
	}
	open := func(off int64) (io.ReadCloser, error) {
		if off > 0 && from != nil {
			rc, err := r.openRange(ctx, *from, d, size, off)
			if err == nil {
				return rc, nil
			}
			logctx.From(ctx).Info("ranged read of the layer failed; reading it from the start",
				"repository", from.String(), "digest", d.String(), "error", redact.Text(err.Error()))
		}
		return skipTo(inner, off)
	}
	return ChunkedBlob{Digest: d, Size: size, Open: open, Remote: from != nil}
}

func (r *Registries) openRange(ctx context.Context, repo name.Repository, d v1.Hash, size, off int64) (io.ReadCloser, error) {
	ep, err := r.Endpoint(ctx, repo)
	if err != nil {
		return nil, err
	}
	return ep.OpenBlob(ctx, repo, d, size, off)
}

// skipTo opens l's compressed bytes and reads and drops those before off.
func skipTo(l v1.Layer, off int64) (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if _, err := io.CopyN(io.Discard, rc, off); err != nil {
			rc.Close()
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("skipping to byte %d: %w", off, err)
		}
	}
	return rc, nil
}
