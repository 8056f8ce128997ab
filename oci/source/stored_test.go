package source_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/source"
)

// With a store, a registry base is recorded online (the index as served,
// the chosen image's manifest, config and layers, the reference's digest)
// and read back offline with the registry gone: the same image, every blob
// verified; what was not recorded is an error, never the network.
func TestRegistryBaseStore(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	host := strings.TrimPrefix(srv.URL, "http://")
	idx := ocitest.Index(t, 21, 2, 1024, ocitest.AMD64, ocitest.ARM64)
	ref, _ := name.ParseReference(host + "/base:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := "docker://" + host + "/base:1"
	image := func(offline bool, p v1.Platform) (v1.Image, error) {
		t.Helper()
		b, err := source.Parse(spec, source.WithStore(cache, offline))
		if err != nil {
			t.Fatal(err)
		}
		return b.Image(ctx, p)
	}
	online, err := image(false, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if d, ok := cache.Ref("docker://" + ref.Name()); !ok || d != ocitest.Digest(t, idx).String() {
		t.Errorf("recorded %q, %v; want the index's digest %s", d, ok, ocitest.Digest(t, idx))
	}

	offline, err := image(true, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	if ocitest.Digest(t, offline) != ocitest.Digest(t, online) {
		t.Errorf("offline %s, online %s", ocitest.Digest(t, offline), ocitest.Digest(t, online))
	}
	ls, err := offline.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("reading a stored layer: %v", err)
		}
		rc.Close()
	}
	if _, err := image(true, ocitest.ARM64); err == nil {
		t.Error("offline, a platform never recorded was served")
	}
	other, err := source.Parse("docker://"+host+"/other:1", source.WithStore(cache, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), "is not in the cache") {
		t.Errorf("offline, an unrecorded reference: %v", err)
	}

	// A changed byte in a stored layer is refused when the layer is read.
	h, _ := ls[0].Digest()
	p := cache.DownloadPath(h.String())
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := ls[0].Compressed()
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if err == nil || !strings.Contains(err.Error(), h.String()) {
		t.Errorf("a changed layer: %v", err)
	}
	t.Logf("refused: %v", err)
}
