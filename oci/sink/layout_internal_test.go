package sink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/source"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestIndexJSONReplacedAtomically kills the write at the moment index.json
// would be renamed into place: the previous layout must stay valid.
func TestIndexJSONReplacedAtomically(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	img := ocitest.Image(t, 1, 1, 512, ocitest.AMD64)
	s, err := Parse("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, []Item{{Name: "app:1", Image: img}}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))

	crash := errors.New("killed")
	rename = func(from, to string) error {
		if filepath.Base(to) == "index.json" {
			return crash
		}
		return os.Rename(from, to)
	}
	defer func() { rename = os.Rename }()

	next := ocitest.Append(t, img, 2, 1, 512)
	_, err = s.Write(ctx, []Item{{Name: "app:1", Image: next}, {Name: "app:2", Image: next}})
	if !errors.Is(err, crash) || !strings.Contains(err.Error(), "index.json") {
		t.Fatalf("error %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if !bytes.Equal(before, after) {
		t.Errorf("index.json changed by a failed write")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("previous layout invalid: %v", err)
	}
	m, _ := idx.IndexManifest()
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != ocitest.Digest(t, img) || m.Manifests[0].Annotations[source.RefNameAnnotation] != "app:1" {
		t.Errorf("previous index changed: %+v", m.Manifests)
	}

	// The next successful write completes, reusing the blobs written.
	rename = os.Rename
	if _, err := s.Write(ctx, []Item{{Name: "app:1", Image: next}}); err != nil {
		t.Fatal(err)
	}
	m2, _ := layout.ImageIndexFromPath(dir)
	im, _ := m2.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != ocitest.Digest(t, next) {
		t.Errorf("after retry: %+v", im.Manifests)
	}
}

func TestRefForAndChecks(t *testing.T) {
	if refFor("x", Item{Name: "y"}) != "x" || refFor("", Item{Name: "y"}) != "y" {
		t.Error("refFor")
	}
	if shortDigest(ocitest.Digest(t, ocitest.Image(t, 1, 0, 0, ocitest.AMD64))) == "" {
		t.Error("shortDigest")
	}
}

// Every blob renamed into a layout is made durable, by one sync of
// blobs/sha256, before index.json is renamed over the old one to name it.
func TestBlobRenamesSyncedBeforeIndexJSON(t *testing.T) {
	dir := t.TempDir()
	var events []string
	rename = func(from, to string) error {
		events = append(events, "rename "+filepath.Base(filepath.Dir(to))+"/"+filepath.Base(to))
		return os.Rename(from, to)
	}
	syncDir = func(d string) {
		events = append(events, "sync "+filepath.Base(d))
		atomicfile.SyncDir(d)
	}
	defer func() { rename, syncDir = os.Rename, atomicfile.SyncDir }()
	s, err := Parse("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	img := ocitest.Image(t, 2, 1, 512, ocitest.AMD64)
	if _, err := s.Write(context.Background(), []Item{{Name: "app:1", Image: img}}); err != nil {
		t.Fatal(err)
	}
	blobs, synced := 0, -1
	for i, e := range events {
		switch {
		case e == "sync sha256":
			if synced >= 0 {
				t.Errorf("blobs/sha256 synced twice: %q", events)
			}
			synced = i
		case strings.HasPrefix(e, "rename sha256/"):
			blobs++
			if synced >= 0 {
				t.Errorf("%s after blobs/sha256 was synced: %q", e, events)
			}
		case e == "rename "+filepath.Base(dir)+"/index.json":
			if synced < 0 {
				t.Errorf("index.json renamed before blobs/sha256 was synced: %q", events)
			}
		}
	}
	// Every blob of the layout was put in place by a rename seen above.
	written, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if blobs != len(written) || synced < 0 {
		t.Errorf("%d blob renames for %d blobs, blobs/sha256 synced: %v: %q", blobs, len(written), synced >= 0, events)
	}
}
