package assembler

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
)

func sharedCache(t *testing.T) *layers.Cache {
	t.Helper()
	d := os.Getenv("ASSEMBLE_TEST_CACHE")
	if d == "" {
		d = "/var/tmp/assemble-test-cache"
	}
	c, err := layers.OpenCache(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The dpkg status recorded for a deb: base without reading it back is the
// one its layers hold: later Debian layers are resolved against it.
func TestSeededDpkgStatusMatchesTheLayers(t *testing.T) {
	ctx := context.Background()
	o, err := makeOptions([]Option{WithCache(sharedCache(t))})
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Root: t.TempDir()}
	svc := newServices(p, o)
	img, err := svc.Base(ctx, "deb:bookworm", v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := svc.env.dpkgStatus(img)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := oci.FS(img)
	if err != nil {
		t.Fatal(err)
	}
	real, err := fs.ReadFile(fsys, "var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seeded, real) {
		t.Fatalf("seeded status (%d bytes) differs from the image's (%d bytes)", len(seeded), len(real))
	}
	if !bytes.Contains(real, []byte("Package: base-files\n")) {
		t.Fatal("the status lacks base-files")
	}
}
