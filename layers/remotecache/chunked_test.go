package remotecache

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// A layer over the chunk threshold goes to a registry cache in chunks; a
// connection dropped mid-PATCH resumes at the registry's offset, and
// another runner reads back the same verified blob.
func TestRegistryCacheChunkedUpload(t *testing.T) {
	const chunk = 256 << 10
	ctx := context.Background()
	reg := ocitest.StartRegistry(t)
	ref := "docker://" + reg.Ref("ns/cache")
	noise := make([]byte, 1<<20+300<<10) // incompressible: about 6 chunks
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(noise)
	ss := []layers.Spec{&layers.Generated{Name: "big", Files: []layers.GeneratedFile{{Path: "big.bin", Content: noise, Mode: 0o644}}}}
	opts := []Option{
		WithRegistries(&remote.Registries{Retry: remote.Retry{Initial: 10 * time.Millisecond}}),
		WithChunkedUpload(1<<20, chunk),
	}

	a := newCaches(t, nil, ref, opts...)
	built := runner(t, ctx, a, ss)
	if built[0].Size < 1<<20 {
		t.Fatalf("layer has %d bytes, want more than the 1 MiB threshold", built[0].Size)
	}
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, When: func(r *http.Request) bool {
		return strings.HasPrefix(r.Header.Get("Content-Range"), strconv.Itoa(2*chunk)+"-")
	}, DropAfter: chunk / 2})
	if n, err := a.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1 entry", n, err)
	}
	if reg.PendingFaults() != 0 {
		t.Fatalf("the connection was never dropped\n%s", reg)
	}
	var starts []string
	for _, q := range reg.Requests() {
		if q.Kind == ocitest.UploadPatch && q.ContentRange != "" {
			a, _, _ := strings.Cut(q.ContentRange, "-")
			starts = append(starts, a)
		}
	}
	want := "0 262144 524288 524288 786432 1048576 1310720"
	if got := strings.Join(starts, " "); got != want {
		t.Errorf("chunk PATCHes at %s, want %s\n%s", got, want, reg)
	}
	if n := reg.Count(ocitest.UploadStatus); n != 1 {
		t.Errorf("%d upload status requests, want 1\n%s", n, reg)
	}

	b := newCaches(t, []string{ref}, "", opts...)
	got := runner(t, ctx, b, ss)
	if !got[0].Hit || !got[0].Shared || got[0].Digest != built[0].Digest {
		t.Errorf("second runner: hit=%v shared=%v digest %s, want a shared hit with %s", got[0].Hit, got[0].Shared, got[0].Digest, built[0].Digest)
	}
}
