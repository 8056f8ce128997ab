package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/ctxtime"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Chunked uploads: the distribution spec's "chunked upload" (POST, then
// PATCHes with Content-Range, then PUT ?digest=) and its "upload progress"
// (GET the upload URL for the Range the registry holds). ggcr sends a blob
// in one PATCH, so a connection dropped after 2.9 of 3 GB sends all 3 GB
// again; here a failure costs at most the chunk in flight. Nothing is
// buffered: each PATCH streams its part of the blob from the reader.
const (
	// DefaultChunkThreshold is the blob size from which uploads go in chunks.
	DefaultChunkThreshold int64 = 1 << 30
	// DefaultChunkSize is the size of one PATCH: small enough for proxies
	// that bound request bodies (100 MB is a common limit), large enough
	// that the requests cost nothing beside the bytes.
	DefaultChunkSize int64 = 64 << 20
)

// ErrChunkedUnsupported is returned (wrapped with the registry's answer)
// when a registry refuses PATCH requests with Content-Range: the caller
// sends the blob in one request instead.
var ErrChunkedUnsupported = errors.New("registry refuses chunked uploads")

// ChunkedBlob is a blob to upload in chunks.
type ChunkedBlob struct {
	Digest v1.Hash
	Size   int64
	// Open returns the blob's bytes from offset on. It is called once at
	// the start and again, at the registry's offset, after a failure.
	Open func(offset int64) (io.ReadCloser, error)
	// Sent, if set, is told each position up to which bytes were read for
	// sending; after a resume positions start again at the registry's offset.
	Sent func(pos int64)
	// Remote says the blob is read over the network (from another
	// registry): when its connection fails, Open is called again at the
	// registry's offset, as after a dropped upload, within the same bounds.
	Remote bool
}

// UploadResult says how a blob reached the repository.
type UploadResult int

// Outcomes of UploadChunked.
const (
	BlobUploaded UploadResult = iota + 1 // sent by this call
	BlobExisted                          // the repository had it
	BlobMounted                          // mounted from another repository
)

func (r UploadResult) String() string {
	switch r {
	case BlobUploaded:
		return "uploaded"
	case BlobExisted:
		return "existed"
	case BlobMounted:
		return "mounted"
	}
	return "unknown"
}

type chunkConfig struct {
	size  int64
	from  *name.Repository
	retry Retry
}

// ChunkOption configures UploadChunked.
type ChunkOption func(*chunkConfig)

// WithChunkSize sets the bytes per PATCH (default DefaultChunkSize). A
// registry's OCI-Chunk-Min-Length raises it.
func WithChunkSize(n int64) ChunkOption {
	return func(c *chunkConfig) {
		if n > 0 {
			c.size = n
		}
	}
}

// WithMountFrom asks the registry to mount the blob from repo (the same
// registry) before anything is sent. nil: no mount.
func WithMountFrom(repo *name.Repository) ChunkOption {
	return func(c *chunkConfig) { c.from = repo }
}

// WithChunkRetry bounds the failed attempts in a row (and their backoff) of an
// Endpoint's chunked upload; zero fields keep DefaultRetry's.
func WithChunkRetry(p Retry) ChunkOption {
	return func(c *chunkConfig) { c.retry = p }
}

// UploadChunked puts blob b into repo in chunks: HEAD first (present:
// nothing to send), then a mount when asked, else PATCHes of the chunk
// size. After a dropped connection or a 5xx it asks the registry how much
// it holds and continues from there; a registry that lost the upload gets
// a new one. Failures in a row without progress are bounded by the retry
// policy's attempts. Requests go through the same transport (retries with
// Retry-After, TLS, proxies, redacted logs) and credentials as ggcr's.
func (r *Registries) UploadChunked(ctx context.Context, repo name.Repository, b ChunkedBlob, opts ...ChunkOption) (UploadResult, error) {
	ep, err := r.Endpoint(ctx, repo)
	if err != nil {
		return 0, err
	}
	return ep.UploadChunked(ctx, repo, b, append([]ChunkOption{WithChunkRetry(r.Retry)}, opts...)...)
}

// UploadChunked is Registries.UploadChunked with the endpoint's
// credentials and transport.
func (e Endpoint) UploadChunked(ctx context.Context, repo name.Repository, b ChunkedBlob, opts ...ChunkOption) (UploadResult, error) {
	c := chunkConfig{size: DefaultChunkSize}
	for _, o := range opts {
		o(&c)
	}
	if b.Size <= 0 || b.Open == nil || b.Digest.Algorithm == "" {
		return 0, fmt.Errorf("blob %s: a chunked upload needs a digest, a size and a reader", b.Digest)
	}
	if c.from != nil && c.from.RegistryStr() != repo.RegistryStr() {
		c.from = nil
	}
	scopes := []string{repo.Scope(transport.PushScope)}
	if c.from != nil {
		scopes = append(scopes, c.from.Scope(transport.PullScope))
	}
	client, err := e.client(ctx, repo, scopes...)
	if err != nil {
		return 0, err
	}
	u := &chunkUploader{
		client: client, repo: repo, from: c.from, blob: b, chunk: c.size,
		policy: c.retry.withDefaults(DefaultRetry), sleep: ctxtime.Sleep,
		log: logctx.From(ctx).With("repository", repo.String(), "digest", b.Digest.String()),
		src: &stream{open: b.Open, sent: b.Sent},
	}
	defer u.src.close()
	return u.run(ctx)
}

// chunkUploader is one blob's upload: a small state machine whose steps
// are requests; run retries the failed ones.
type chunkUploader struct {
	client *http.Client
	repo   name.Repository
	from   *name.Repository
	blob   ChunkedBlob
	chunk  int64
	policy Retry
	sleep  func(context.Context, time.Duration) error
	log    *slog.Logger
	src    *stream

	checked    bool   // HEAD done
	mountTried bool   // the mount POST was sent
	loc        string // the upload's URL; "": no upload session
	off        int64  // bytes the registry holds in this session
	patches    int    // PATCHes accepted in this session
	resumed    bool   // this session continued after a failure
	unsure     bool   // a PATCH failed: ask the registry for its offset
	refused    error  // that PATCH was refused (400/416) at off
	committing bool   // a PUT was sent and its answer lost
}

// transient marks a failure worth another attempt; logged: its cause was
// logged already.
type transient struct {
	err    error
	logged bool
}

func (t transient) Error() string { return t.err.Error() }
func (t transient) Unwrap() error { return t.err }

func (u *chunkUploader) run(ctx context.Context) (UploadResult, error) {
	fails, best := 0, int64(0)
	for {
		res, err := u.step(ctx)
		if err == nil {
			if res != 0 {
				return res, nil
			}
			if u.off > best {
				best, fails = u.off, 0
			}
			continue
		}
		var tr transient
		if !errors.As(err, &tr) || ctx.Err() != nil {
			u.abandon(ctx)
			return 0, err
		}
		fails++
		if fails >= u.policy.Attempts {
			u.abandon(ctx)
			return 0, fmt.Errorf("chunked upload gave up after %d failed attempts in a row, with %d of %d bytes accepted: %w",
				fails, u.off, u.blob.Size, tr.err)
		}
		if !tr.logged {
			u.log.Info("blob upload interrupted, resuming", "offset", u.off, "attempt", fails, "error", redact.Text(err.Error()))
		}
		if err := u.sleep(ctx, backoff(u.policy, fails)); err != nil {
			return 0, err
		}
	}
}

// step sends the next request the state calls for. A result other than 0
// ends the upload.
func (u *chunkUploader) step(ctx context.Context) (UploadResult, error) {
	switch {
	case !u.checked:
		exists, err := u.exists(ctx)
		if err != nil || exists {
			return BlobExisted, err
		}
		u.checked = true
		return 0, nil
	case u.committing:
		// The PUT's answer was lost: the blob is there or the PUT is sent again.
		exists, err := u.exists(ctx)
		if err != nil || exists {
			return BlobUploaded, err
		}
		u.committing = false
		return 0, nil
	case u.loc == "":
		mounted, err := u.start(ctx)
		if mounted {
			return BlobMounted, err
		}
		return 0, err
	case u.unsure:
		return 0, u.status(ctx)
	case u.off < u.blob.Size:
		return 0, u.patch(ctx)
	default:
		return u.commit(ctx)
	}
}

func blobURL(repo name.Repository, d v1.Hash) string {
	return (&url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(),
		Path: fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), d)}).String()
}

// do sends req; an error without an answer is transient unless it says
// the destination cannot be reached at all (for PATCH, always: its body
// may be what the connection died of).
func (u *chunkUploader) do(req *http.Request) (*http.Response, error) {
	resp, err := u.client.Do(req)
	if err == nil {
		return resp, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s %s: %w", req.Method, redact.URL(req.URL), ue.Err)
	}
	if req.Context().Err() == nil && (req.Method == http.MethodPatch || ggcrRetryable(err)) {
		return nil, transient{err: err}
	}
	return nil, err
}

// answerError reads a refusal: transient when the status is one retries
// are for (the transport already retried it where it could).
func answerError(resp *http.Response) error {
	err := transport.CheckError(resp)
	if retryableStatus(resp.StatusCode) {
		return transient{err: err}
	}
	return err
}

func (u *chunkUploader) exists(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, blobURL(u.repo, u.blob.Digest), nil)
	if err != nil {
		return false, err
	}
	resp, err := u.do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, answerError(resp)
}

// start opens an upload session (POST), mounting the blob when asked: a
// registry that answers the mount with an upload, or refuses it, gets a
// plain upload as ggcr does.
func (u *chunkUploader) start(ctx context.Context) (mounted bool, err error) {
	q := url.Values{}
	mount := u.from != nil && !u.mountTried
	if mount {
		u.mountTried = true
		q.Set("mount", u.blob.Digest.String())
		q.Set("from", u.from.RepositoryStr())
	}
	target := url.URL{Scheme: u.repo.Scheme(), Host: u.repo.RegistryStr(),
		Path: fmt.Sprintf("/v2/%s/blobs/uploads/", u.repo.RepositoryStr()), RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := u.do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch {
	case mount && resp.StatusCode == http.StatusCreated:
		return true, nil
	case resp.StatusCode != http.StatusAccepted && mount:
		u.log.Debug("mount refused, uploading", "status", resp.StatusCode)
		return u.start(ctx)
	case resp.StatusCode != http.StatusAccepted:
		return false, answerError(resp)
	}
	loc, err := nextLocation(resp, "")
	if err != nil {
		return false, err
	}
	if m, err := strconv.ParseInt(resp.Header.Get("OCI-Chunk-Min-Length"), 10, 64); err == nil && m > u.chunk {
		u.chunk = m
	}
	u.loc, u.off, u.patches, u.resumed, u.unsure, u.refused = loc, 0, 0, false, false, nil
	return false, nil
}

// patch sends the next chunk.
func (u *chunkUploader) patch(ctx context.Context) error {
	n := min(u.chunk, u.blob.Size-u.off)
	body, err := u.src.chunk(u.off, n)
	if err != nil {
		return u.readFailed(err, false)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, u.loc, body)
	if err != nil {
		return err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", u.off, u.off+n-1))
	resp, err := u.do(req)
	body.Close() // the stream is ours again, whatever the transport still holds
	if serr := u.src.failed; serr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return u.readFailed(serr, true)
	}
	if err != nil {
		u.unsure = true
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusNoContent, http.StatusCreated:
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable:
		refusal := transport.CheckError(resp)
		if u.patches == 0 && !u.resumed {
			return fmt.Errorf("%w: %w", ErrChunkedUnsupported, refusal)
		}
		// Out of order by the registry's count, or no chunks at all: its offset says which.
		u.unsure, u.refused = true, refusal
		return transient{err: refusal}
	case http.StatusNotFound:
		return u.lost(transport.CheckError(resp))
	default:
		u.unsure = true
		return answerError(resp)
	}
	loc, err := nextLocation(resp, u.loc)
	if err != nil {
		return err
	}
	end := u.off + n
	if got, ok := parseRange(resp.Header.Get("Range")); ok && got != end && got > u.off && got < end {
		u.log.Info("registry kept part of a chunk", "sent", end, "held", got)
		end = got
	}
	u.loc, u.off = loc, end
	u.patches++
	return nil
}

// readFailed handles a failure to open or read the blob. A remote blob
// whose connection failed is opened again, as a dropped upload is resumed:
// at the registry's offset (sent: a PATCH went out, so the registry is asked
// how much it kept). Anything else (a short or corrupt blob, a local read
// error) ends the upload: reading again would give the same bytes.
func (u *chunkUploader) readFailed(err error, sent bool) error {
	err = fmt.Errorf("reading blob %s: %w", u.blob.Digest, err)
	if !u.blob.Remote || !sourceRetryable(err) {
		return err
	}
	u.src.close()
	u.src.failed = nil
	u.unsure = u.unsure || sent
	return transient{err: err}
}

// sourceRetryable says whether reading a remote blob failed for a reason
// that another try may not meet: the connection, or a busy registry.
func sourceRetryable(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return retryableStatus(te.StatusCode)
	}
	return !errors.Is(err, io.EOF) && ggcrRetryable(err)
}

// lost forgets an upload session the registry no longer knows (it expired,
// or a failed PATCH left it unusable): the next step starts a new one.
func (u *chunkUploader) lost(err error) error {
	u.log.Info("registry lost the upload, starting it again", "offset", u.off, "error", redact.Text(err.Error()))
	u.loc, u.off, u.unsure, u.refused = "", 0, false, nil
	return transient{err: err, logged: true}
}

// status asks the registry how many bytes it holds (the spec's "upload
// progress") after a failed PATCH.
func (u *chunkUploader) status(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.loc, nil)
	if err != nil {
		return err
	}
	resp, err := u.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return u.lost(transport.CheckError(resp))
	case resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK:
		return answerError(resp)
	}
	held, ok := parseRange(resp.Header.Get("Range"))
	switch {
	case !ok || held <= 1:
		// "0-0" is both no byte and one (docker-registry): a new upload is as cheap.
		return u.lost(fmt.Errorf("registry reports %q held", resp.Header.Get("Range")))
	case held > u.blob.Size:
		return fmt.Errorf("registry holds %d bytes of blob %s, which has %d", held, u.blob.Digest, u.blob.Size)
	case u.refused != nil && held == u.off:
		// The refused chunk was in order: the registry takes no more chunks.
		return fmt.Errorf("%w: chunk at byte %d refused: %w", ErrChunkedUnsupported, u.off, u.refused)
	}
	loc, err := nextLocation(resp, u.loc)
	if err != nil {
		return err
	}
	u.log.Info("resuming blob upload at the registry's offset", "offset", held)
	u.loc, u.off, u.unsure, u.refused, u.resumed = loc, held, false, nil, true
	return nil
}

// commit checks that the blob ended where its size says (a local blob that
// changed is caught here, by the reader's digest check) and PUTs the digest.
func (u *chunkUploader) commit(ctx context.Context) (UploadResult, error) {
	if err := u.src.end(u.blob.Size); err != nil {
		return 0, fmt.Errorf("reading blob %s: %w", u.blob.Digest, err)
	}
	target, err := url.Parse(u.loc)
	if err != nil {
		return 0, err
	}
	q := target.Query()
	q.Set("digest", u.blob.Digest.String())
	target.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := u.do(req)
	if err != nil {
		u.committing = true
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusCreated:
		return BlobUploaded, nil
	case resp.StatusCode == http.StatusNotFound:
		return 0, u.lost(transport.CheckError(resp))
	case resp.StatusCode == http.StatusBadRequest && u.resumed:
		// A registry that kept part of a failed PATCH after telling us its
		// offset has a corrupt upload: send it all again.
		return 0, u.lost(transport.CheckError(resp))
	}
	return 0, answerError(resp)
}

// abandon cancels an unfinished upload session (best effort), so that the
// registry frees what it holds.
func (u *chunkUploader) abandon(ctx context.Context) {
	if u.loc == "" || ctx.Err() != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.loc, nil)
	if err != nil {
		return
	}
	if resp, err := u.client.Do(req); err == nil {
		resp.Body.Close()
	}
	u.loc = ""
}

// nextLocation resolves an answer's Location (keep when it has none;
// required when keep is ""), refusing one that leads to another host at a
// private or link-local address, as ggcr does.
func nextLocation(resp *http.Response, keep string) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		if keep == "" {
			return "", fmt.Errorf("%s %s: the registry's answer has no Location header", resp.Request.Method, redact.URL(resp.Request.URL))
		}
		return keep, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("registry sent an invalid Location: %w", err)
	}
	next := resp.Request.URL.ResolveReference(u)
	if h := next.Hostname(); h != resp.Request.URL.Hostname() {
		if ip := net.ParseIP(h); ip != nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast()) {
			return "", fmt.Errorf("registry redirected an upload to a private address %s: refused", h)
		}
	}
	return next.String(), nil
}

// parseRange reads a Range answer ("0-1023", also "bytes=0-1023") as the
// number of bytes held.
func parseRange(v string) (int64, bool) {
	v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "bytes="), "bytes ")
	a, b, ok := strings.Cut(v, "-")
	if !ok || a != "0" {
		return 0, false
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < 0 {
		return 0, false
	}
	return end + 1, true
}
