package sync

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Chunked copies use a 1 MiB threshold and 256 KiB chunks: the code path
// of a 3 GB blob in 64 MiB chunks, with a blob of a few chunks.
const (
	chunkThreshold = 1 << 20
	chunk          = 256 << 10
)

var smallChunks = WithChunkedUpload(chunkThreshold, chunk)

func blobGets(reg *ocitest.Registry, d v1.Hash) (statuses []int) {
	for _, q := range reg.Requests() {
		if q.Kind == ocitest.BlobGet && q.Digest == d.String() {
			statuses = append(statuses, q.Status)
		}
	}
	return statuses
}

// bigImage pushes to src an image with one layer over the threshold
// (about 1.3 MiB: 6 chunks) and one under it.
func bigImage(t *testing.T, src *ocitest.Registry, ref string) (v1.Hash, v1.Descriptor) {
	t.Helper()
	img := ocitest.Image(t, 40, 1, chunkThreshold+300<<10, ocitest.AMD64)
	img = ocitest.Append(t, img, 41, 1, 1000)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	big := m.Layers[0]
	if big.Size < chunkThreshold || big.Size > 6*chunk {
		t.Fatalf("big layer has %d bytes, want 5-6 chunks over the threshold", big.Size)
	}
	return push(t, src.Host+"/"+ref, img), big
}

// TestSyncChunked: a blob over the threshold goes in chunks, byte for
// byte; a connection dropped mid-PATCH resumes at the destination's offset
// with a ranged read of the source; blobs the destination has are not sent
// again, and blobs in the same registry are mounted, not sent.
func TestSyncChunked(t *testing.T) {
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	want, big := bigImage(t, src, "ns/big:1")
	src.Reset()
	dir := t.TempDir()
	cfg, err := LoadConfig("", writeFile(t, dir, "images.yaml", src.Host+"/ns/big:1: "+dst.Host+"/mirror/big\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The third chunk's connection dies half-way, once.
	dst.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: func(r *http.Request) bool {
		return strings.HasPrefix(r.Header.Get("Content-Range"), strconv.Itoa(2*chunk)+"-")
	}, DropAfter: chunk / 2})
	sum, err := Run(context.Background(), cfg, smallChunks, WithRetryDelay(0), WithRetries(0))
	if err != nil || sum.Copied != 1 || sum.BlobsCopied != 3 {
		t.Fatalf("err=%v summary=%+v, want 1 image and 3 blobs copied", err, sum)
	}
	if dst.PendingFaults() != 0 {
		t.Fatalf("the connection was never dropped\n%s", dst)
	}
	wantStarts := slices.Insert(ocitest.ChunkOffsets(big.Size, chunk), 3, 2*chunk)
	if got := dst.ChunkStarts(); !slices.Equal(got, wantStarts) {
		t.Errorf("chunk PATCHes at %v, want %v (resumed at the destination's offset)\n%s", got, wantStarts, dst)
	}
	// ggcr opens the small blobs' uploads with a cross-registry mount request.
	if n, s := dst.Count(ocitest.UploadStart, ocitest.Mount), dst.Count(ocitest.UploadStatus); n != 3 || s != 1 {
		t.Errorf("%d uploads started and %d status requests, want 3 and 1 (nothing started again)\n%s", n, s, dst)
	}
	// The source is read once from the start, then from the resumed offset.
	if got := blobGets(src, big.Digest); !slices.Equal(got, []int{http.StatusOK, http.StatusPartialContent}) {
		t.Errorf("source blob reads answered %v, want a whole read and a ranged one\n%s", got, src)
	}
	if d, ok := headDigest(t, dst.Host+"/mirror/big:1"); !ok || d != want {
		t.Fatalf("destination has %s, want %s", d, want)
	}
	ref, _ := name.ParseReference(dst.Host + "/mirror/big:1")
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateBlobs(img); err != nil {
		t.Errorf("destination blobs: %v", err)
	}

	// Forced again: the manifest is put, the blobs are there already.
	dst.Reset()
	sum, err = Run(context.Background(), cfg, smallChunks, WithRetryDelay(0), WithForce(true))
	if err != nil || sum.BlobsReused != 3 || dst.Count(ocitest.UploadStart, ocitest.Mount, ocitest.UploadPatch) != 0 {
		t.Errorf("forced run: err=%v summary=%+v, want 3 blobs reused and none sent\n%s", err, sum, dst)
	}

	// Within the destination's registry the big blob is mounted.
	cfg, err = LoadConfig("", writeFile(t, dir, "mount.yaml", dst.Host+"/mirror/big:1: "+dst.Host+"/other/big\n"))
	if err != nil {
		t.Fatal(err)
	}
	dst.Reset()
	sum, err = Run(context.Background(), cfg, smallChunks, WithRetryDelay(0))
	if err != nil || sum.BlobsReused != 3 || !slices.Contains(dst.Mounted(), big.Digest.String()) || len(dst.ChunkStarts()) != 0 {
		t.Errorf("same-registry run: err=%v summary=%+v, want 3 blobs mounted\n%s", err, sum, dst)
	}
}

// cutSource cuts the first read of one blob from the source after n bytes,
// as a dropped connection does. It reads PATCH bodies whole before sending
// them, as a proxy that buffers request bodies (nginx's default) does, so
// the PATCH whose body failed never reaches the registry.
type cutSource struct {
	inner http.RoundTripper
	path  string
	n     int64
	cut   bool
}

func (c *cutSource) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := c.inner.RoundTrip(req)
	if err != nil || c.cut || req.Method != http.MethodGet || req.URL.Path != c.path || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	c.cut = true
	resp.Body = &cutBody{rc: resp.Body, left: c.n}
	return resp, nil
}

type cutBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cutBody) Close() error { return b.rc.Close() }

// The source's connection drops in the middle of the big blob: the upload
// resumes at the destination's offset with a ranged read of the source,
// and the copy is whole.
func TestSyncChunkedSourceDrops(t *testing.T) {
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	want, big := bigImage(t, src, "ns/big:1")
	src.Reset()
	cfg, err := LoadConfig("", writeFile(t, t.TempDir(), "images.yaml", src.Host+"/ns/big:1: "+dst.Host+"/mirror/big\n"))
	if err != nil {
		t.Fatal(err)
	}
	cut := &cutSource{inner: http.DefaultTransport, path: "/v2/ns/big/blobs/" + big.Digest.String(), n: 2*chunk + chunk/3}
	sum, err := Run(context.Background(), cfg, smallChunks, WithTransport(cut), WithRetryDelay(0), WithRetries(0))
	if err != nil || sum.Copied != 1 || !cut.cut {
		t.Fatalf("err=%v summary=%+v cut=%v, want the image copied through a cut source", err, sum, cut.cut)
	}
	if got := blobGets(src, big.Digest); !slices.Equal(got, []int{http.StatusOK, http.StatusPartialContent}) {
		t.Errorf("source blob reads answered %v, want a whole read and a ranged one\n%s\n%s", got, src, dst)
	}
	if n := dst.Count(ocitest.UploadStatus); n != 1 {
		t.Errorf("%d upload status requests, want 1\n%s", n, dst)
	}
	// The PATCH whose body failed never arrived: each chunk reached the
	// registry once.
	offsets := ocitest.ChunkOffsets(big.Size, chunk)
	if got := dst.ChunkStarts(); !slices.Equal(got, offsets) {
		t.Errorf("chunk PATCHes at %v, want %v\n%s", got, offsets, dst)
	}
	ref, _ := name.ParseReference(dst.Host + "/mirror/big:1")
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d != want {
		t.Errorf("destination has %s, want %s", d, want)
	}
	if err := validateBlobs(img); err != nil {
		t.Errorf("destination blobs: %v", err)
	}
}
