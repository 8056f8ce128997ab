package sink_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// brokenLayer serves its first n bytes and then fails, like a source that
// dies mid-copy.
type brokenLayer struct {
	v1.Layer
	n int64
}

var errBroken = errors.New("source went away")

func (b *brokenLayer) Compressed() (io.ReadCloser, error) {
	rc, err := b.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, b.n), errReader{}), rc}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// lyingLayer claims one digest and serves other bytes.
type lyingLayer struct{ v1.Layer }

func (l *lyingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	b[len(b)-1] ^= 1
	return io.NopCloser(bytes.NewReader(b)), nil
}

func withLayer(t *testing.T, base v1.Image, wrap func(v1.Layer) v1.Layer) v1.Image {
	t.Helper()
	l, err := random.Layer(4096, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, wrap(l))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// recProgress records Tracker calls.
type recProgress struct {
	mu    sync.Mutex
	blobs map[string]*recTracker
}

type recTracker struct {
	p            *recProgress
	total, added int64
	done         int
	err          error
	negative     bool
}

func (r *recProgress) Blob(label string, total int64) sinkTracker {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.blobs == nil {
		r.blobs = map[string]*recTracker{}
	}
	t := &recTracker{p: r, total: total}
	r.blobs[label] = t
	return t
}

func (t *recTracker) Add(n int64) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if n < 0 {
		t.negative = true
	}
	t.added += n
}

func (t *recTracker) Done(err error) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	t.done++
	t.err = err
}

// check asserts one complete tracker per layer of img.
func (r *recProgress) check(t *testing.T, imgs ...v1.Image) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[string]int64{}
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Layers {
			want[l.Digest.Algorithm+":"+l.Digest.Hex[:12]] = l.Size
		}
	}
	if len(r.blobs) != len(want) {
		t.Errorf("%d trackers, want %d (one per layer)", len(r.blobs), len(want))
	}
	for label, size := range want {
		tr, ok := r.blobs[label]
		switch {
		case !ok:
			t.Errorf("no tracker for %s", label)
		case tr.total != size || tr.added != size || tr.done != 1 || tr.err != nil || tr.negative:
			t.Errorf("tracker %s: total %d added %d done %d err %v negative %v; want %d bytes done once", label, tr.total, tr.added, tr.done, tr.err, tr.negative, size)
		}
	}
}

// tempFiles lists leftover temporary files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), ".tmp-") {
			left = append(left, p)
		}
		return nil
	})
	return left
}

var amd64 = ocitest.AMD64

type sinkTracker = sink.Tracker

var epoch = time.Unix(0, 0)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
