package assembler

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

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

// noContent is a layer whose content cannot be read: only what is kept
// about it answers.
type noContent struct{ v1.Layer }

func (noContent) Uncompressed() (io.ReadCloser, error) { return nil, errors.New("content read") }

// A layer's headers are read once and then answered from the cache, the
// same as reading them.
func TestLayerHeadersKept(t *testing.T) {
	e := probeEnv(t)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarOf(t, map[string]string{
			"usr/share/doc/a/copyright": "x", "usr/bin/.wh.old": "", "opt/.wh..wh..opq": "", "usr/lib/link": "->target",
		}))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := layerHeaders(l)
	if err != nil || len(want) != 4 {
		t.Fatalf("layerHeaders: %v %+v", err, want)
	}
	first, err := e.layerHeadersOf(l)
	if err != nil || !reflect.DeepEqual(first, want) {
		t.Fatalf("first read: %v %+v, want %+v", err, first, want)
	}
	kept, err := e.layerHeadersOf(noContent{l})
	if err != nil || !reflect.DeepEqual(kept, want) {
		t.Errorf("from the cache: %v %+v, want %+v", err, kept, want)
	}
	// An unreadable entry is not an answer: the layer is read.
	id, _ := l.DiffID()
	if err := e.o.cache.Namespace("layer-headers").Put(id.Hex, []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.layerHeadersOf(noContent{l}); err == nil {
		t.Error("an unreadable entry answered")
	}
}

// tarOf is a tar of files (a value starting "->" is a symbolic link).
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		body := files[name]
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}
		if target, ok := strings.CutPrefix(body, "->"); ok {
			h = &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}
			body = ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
