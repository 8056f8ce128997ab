package layers

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// memSpec is a spec over fixed entries, counting how often it is written.
type memSpec struct {
	key     string
	entries []Entry
	written int
}

func (m *memSpec) Key(context.Context) (string, error) { return m.key, nil }
func (m *memSpec) Entries(context.Context) ([]Entry, error) {
	m.written++
	return m.entries, nil
}
func (m *memSpec) Describe() string { return "mem " + m.key }

func newCache(t *testing.T) *Cache {
	t.Helper()
	c, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuildCachesAndIsDeterministic(t *testing.T) {
	ctx := context.Background()
	spec := &memSpec{key: "k1", entries: []Entry{fileEntry("hello.txt", strings.Repeat("hello\n", 1000))}}
	c1, c2 := newCache(t), newCache(t)
	for _, comp := range []Compression{Gzip, Zstd} {
		r1, err := c1.Build(ctx, spec, WithCompression(comp))
		if err != nil {
			t.Fatal(err)
		}
		if r1.Hit {
			t.Fatal("first build was a hit")
		}
		again, err := c1.Build(ctx, spec, WithCompression(comp))
		if err != nil || !again.Hit || again.Digest != r1.Digest {
			t.Fatalf("second build: %+v %v, want a hit with the same digest", again, err)
		}
		r2, err := c2.Build(ctx, spec, WithCompression(comp))
		if err != nil {
			t.Fatal(err)
		}
		if r2.Digest != r1.Digest || r2.DiffID != r1.DiffID {
			t.Fatalf("%s: two caches gave %s and %s", comp.Name, r1.Digest, r2.Digest)
		}
		if r1.MediaType != comp.MediaType() {
			t.Errorf("media type %s, want %s", r1.MediaType, comp.MediaType())
		}
		// The blob decompresses to a tar whose hash is the diffID.
		l := c1.Layer(r1.Descriptor)
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h, err := tar.NewReader(rc).Next()
		if err != nil || h.Name != "hello.txt" {
			t.Fatalf("layer content: %v %v", h, err)
		}
		rc.Close()
	}
	if spec.written != 4 {
		t.Errorf("spec written %d times, want 4 (once per compression per cache)", spec.written)
	}
	gz, _ := c1.Build(ctx, spec, WithCompression(Gzip))
	zs, _ := c1.Build(ctx, spec, WithCompression(Zstd))
	if gz.Key == zs.Key || gz.Digest == zs.Digest {
		t.Error("gzip and zstd layers share a key or digest")
	}
	t1, _ := c1.Build(ctx, spec, WithModTime(time.Unix(1000, 0)))
	if t1.Hit || t1.Digest == gz.Digest {
		t.Error("a different mtime did not change the key and digest")
	}
}

func TestTruncatedOrCorruptBlobIsRebuilt(t *testing.T) {
	ctx := context.Background()
	c := newCache(t)
	spec := &memSpec{key: "k", entries: []Entry{fileEntry("f", strings.Repeat("data", 5000))}}
	r, err := c.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	blob := c.BlobPath(r.Digest)
	if err := os.Truncate(blob, r.Size/2); err != nil {
		t.Fatal(err)
	}
	c2, _ := OpenCache(c.Dir()) // a new process: nothing verified yet
	r2, err := c2.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Hit || r2.Digest != r.Digest {
		t.Fatalf("truncated blob: hit=%v digest=%s, want a rebuild to %s", r2.Hit, r2.Digest, r.Digest)
	}
	fi, _ := os.Stat(blob)
	if fi.Size() != r.Size {
		t.Fatalf("rebuilt blob has %d bytes, want %d", fi.Size(), r.Size)
	}
	// Same size, wrong bytes: also a miss.
	b, _ := os.ReadFile(blob)
	b[len(b)/2] ^= 0xff
	os.WriteFile(blob, b, 0o644)
	c3, _ := OpenCache(c.Dir())
	r3, err := c3.Build(ctx, spec)
	if err != nil || r3.Hit {
		t.Fatalf("corrupt blob: hit=%v err=%v, want a rebuild", r3.Hit, err)
	}
	// verify finds and fixes corruption.
	b, _ = os.ReadFile(blob)
	b[0] ^= 0xff
	os.WriteFile(blob, b, 0o644)
	probs, err := c3.Verify(true)
	if err != nil || len(probs) == 0 {
		t.Fatalf("verify found %v, %v", probs, err)
	}
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Error("verify --fix left the bad blob")
	}
	// A corrupted blob read through Layer fails loudly instead of shipping.
	r4, _ := c3.Build(ctx, spec)
	b, _ = os.ReadFile(blob)
	b[5] ^= 0xff
	os.WriteFile(blob, b, 0o644)
	rc, _ := c3.Layer(r4.Descriptor).Compressed()
	_, err = io.ReadAll(rc)
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("reading a corrupt blob: %v", err)
	}
}

func TestDownloadVerifiesDigest(t *testing.T) {
	ctx := context.Background()
	c := newCache(t)
	write := func(s string) func(context.Context, io.Writer) error {
		return func(_ context.Context, w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	p, d, err := c.Download(ctx, "", write("content"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Download(ctx, d, nil); err != nil {
		t.Fatalf("cached download not found: %v", err)
	}
	if _, _, err := c.Download(ctx, "sha256:"+strings.Repeat("0", 64), write("content")); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("mismatch accepted: %v", err)
	}
	if _, _, err := c.Download(ctx, "sha256:"+strings.Repeat("1", 64), nil); err == nil || !strings.Contains(err.Error(), "not in the cache") {
		t.Fatalf("offline miss: %v", err)
	}
	if err := c.SetRef("http://x/InRelease", d); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Ref("http://x/InRelease"); !ok || got != d {
		t.Fatalf("Ref = %q %v", got, ok)
	}
	os.WriteFile(p, []byte("tampered"), 0o644)
	c2, _ := OpenCache(c.Dir())
	if _, ok := c2.Ref("http://x/InRelease"); ok {
		t.Fatal("a ref to tampered content was trusted")
	}
	if entries, _ := os.ReadDir(filepath.Join(c.Dir(), "tmp")); len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	c := newCache(t)
	r, err := c.Build(ctx, &memSpec{key: "p", entries: []Entry{fileEntry("f", "x")}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Prune(30); err != nil || res.Removed != 0 {
		t.Fatalf("prune of fresh entries removed %d (%v)", res.Removed, err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	os.Chtimes(c.BlobPath(r.Digest), old, old)
	if res, err := c.Prune(30); err != nil || res.Removed != 2 {
		t.Fatalf("prune removed %d (%v), want the old blob and its key", res.Removed, err)
	}
	u, _ := c.Usage()
	if u.Of("blobs").Entries != 0 || u.Of("keys").Entries != 0 {
		t.Fatalf("after prune: %+v", u)
	}
}

func TestCompressionFor(t *testing.T) {
	if c, ok := CompressionFor(types.OCILayerZStd); !ok || c.Name != "zstd" {
		t.Error("zstd media type")
	}
	if _, err := ParseCompression("xz"); err == nil {
		t.Error("xz accepted as a layer compression")
	}
}
