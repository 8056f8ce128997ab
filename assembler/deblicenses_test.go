package assembler

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/attest"
)

// privateCache is a cache of its own whose download store is the shared
// test cache's, linked: layers are written afresh, packages not fetched.
func privateCache(t *testing.T) *layers.Cache {
	t.Helper()
	shared := testtool.CacheDir(t)
	dir, err := os.MkdirTemp(filepath.Dir(shared), "deblicenses-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, ns := range []string{"downloads", "refs"} {
		err := filepath.WalkDir(filepath.Join(shared, ns), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(shared, p)
			dst := filepath.Join(dir, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.Link(p, dst)
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	c, err := layers.OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The licenses the deb layers noted while they were written are those the
// image's copyright files give; with the notes gone (an older cache, a
// shared cache's layers) the image is read and gives the same.
func TestRecordedLicensesMatchTheImage(t *testing.T) {
	ctx := context.Background()
	cache := privateCache(t)
	o, err := makeOptions([]Option{WithCache(cache)})
	if err != nil {
		t.Fatal(err)
	}
	svc := newServices(&plan.Plan{Root: t.TempDir()}, o)
	svc.installed = &installed{}
	img, err := svc.Base(ctx, "deb:bookworm", v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	debs := svc.installed.debs
	fsys, err := oci.FS(img)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, p := range debs {
		if b, err := fs.ReadFile(fsys, "usr/share/doc/"+p.Name+"/copyright"); err == nil && attest.License(b) != "" {
			want[p.Name] = attest.License(b)
		}
	}
	if len(want) < 10 {
		t.Fatalf("only %d licenses in the image: %v", len(want), want)
	}

	got, ok := svc.env.recordedLicenses(img, debs)
	if !ok {
		t.Fatal("the deb: base's layers kept no usable record")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recorded licenses differ from the image's:\n got %v\nwant %v", got, want)
	}
	if got, err := svc.env.licenses(img, debs); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("licenses = %v, %v", got, err)
	}
	if probed(t, cache) {
		t.Error("the image was probed although the layers' records say")
	}

	if err := os.RemoveAll(filepath.Join(cache.Dir(), "deb-licenses")); err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.env.recordedLicenses(img, debs); ok {
		t.Fatal("records answered with the records removed")
	}
	if got, err := svc.env.licenses(img, debs); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("licenses from the image = %v, %v; want %v", got, err, want)
	}
	if !probed(t, cache) {
		t.Error("without records, the image was not probed")
	}
}

// probed reports whether a license probe result is in the cache.
func probed(t *testing.T, cache *layers.Cache) bool {
	t.Helper()
	ents, err := os.ReadDir(cache.Namespace("probes").Dir())
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), "-deb-licenses-") {
			return true
		}
	}
	return false
}

// The fallback probe keeps only copyright files' content in memory.
func TestIsCopyright(t *testing.T) {
	for name, want := range map[string]bool{
		"usr/share/doc/bash/copyright": true, "usr/share/doc/copyright": false, "usr/share/doc//copyright": false,
		"usr/share/doc/a/b/copyright": false, "usr/share/doc/bash/changelog.gz": false, "etc/copyright": false,
	} {
		if got := isCopyright(name); got != want {
			t.Errorf("isCopyright(%q) = %v", name, got)
		}
	}
}
