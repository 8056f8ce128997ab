package source_test

import (
	"archive/tar"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/source"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var ctx = context.Background()

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"debian:bookworm":      "docker://debian:bookworm",
		"oci:":                 "missing path",
		"docker:alpine":        "docker://REF",
		"docker://UPPER:1":     "invalid",
		"ftp://x":              `unknown transport "ftp"`,
		"containers-storage:x": "not read by this package",
		"docker-archive:f:@@":  "not a tagged reference",
	} {
		_, err := source.Parse(spec)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", spec)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), spec) || !strings.Contains(err.Error(), "oci-archive:FILE[:TAG]") {
			t.Errorf("Parse(%q) error %q lacks %q, the spec or the accepted forms", spec, err, want)
		}
	}
}

func TestScratch(t *testing.T) {
	b, err := source.Parse("scratch")
	if err != nil {
		t.Fatal(err)
	}
	img, err := b.Image(ctx, ocitest.ARM64)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	mt, _ := img.MediaType()
	m, _ := img.Manifest()
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Variant != "v8" || mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 0 {
		t.Errorf("scratch: config %+v, media type %s, manifest %+v", cf, mt, m)
	}
	raw, _ := img.RawConfigFile()
	if !strings.Contains(string(raw), `"diff_ids":[]`) {
		t.Errorf("config has no empty diff_ids: %s", raw)
	}
	if idx, err := b.Index(ctx); idx != nil || err != nil {
		t.Errorf("Index() = %v, %v", idx, err)
	}
	if _, err := b.Image(ctx, v1.Platform{}); err == nil {
		t.Error("scratch without platform accepted")
	}
}

// writeLayout makes a layout with a single image "one", an index "multi"
// and returns its path and the pieces.
func writeLayout(t *testing.T) (string, v1.Image, v1.ImageIndex) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img := ocitest.Image(t, 1, 2, 256, ocitest.AMD64)
	idx := ocitest.Index(t, 10, 1, 256, ocitest.AMD64, ocitest.ARM64)
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{source.RefNameAnnotation: "one"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{source.RefNameAnnotation: "multi"})); err != nil {
		t.Fatal(err)
	}
	return dir, img, idx
}

func TestOCILayout(t *testing.T) {
	dir, img, idx := writeLayout(t)
	b, err := source.Parse("oci:" + dir + ":one")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Image(ctx, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	if ocitest.Digest(t, got) != ocitest.Digest(t, img) {
		t.Error("oci:DIR:one is not the image written")
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate: %v", err)
	}
	if _, err := b.Image(ctx, ocitest.ARM64); err == nil || !strings.Contains(err.Error(), "linux/amd64") || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Errorf("wrong platform: %v", err)
	}
	if i, err := b.Index(ctx); i != nil || err != nil {
		t.Errorf("Index of an image = %v, %v", i, err)
	}

	b, _ = source.Parse("oci:" + dir + ":multi")
	arm, err := b.Image(ctx, v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := arm.ConfigFile()
	if cf.Architecture != "arm64" {
		t.Errorf("picked %s", cf.Architecture)
	}
	gotIdx, err := b.Index(ctx)
	if err != nil || gotIdx == nil || ocitest.Digest(t, gotIdx) != ocitest.Digest(t, idx) {
		t.Errorf("Index() = %v, %v", gotIdx, err)
	}
	_, err = b.Image(ctx, v1.Platform{OS: "linux", Architecture: "s390x"})
	if err == nil || !strings.Contains(err.Error(), "linux/s390x") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") || !strings.Contains(err.Error(), "oci:"+dir+":multi") {
		t.Errorf("missing platform error: %v", err)
	}

	b, _ = source.Parse("oci:" + dir)
	if _, err := b.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), "multi, one") {
		t.Errorf("ambiguous layout: %v", err)
	}
	b, _ = source.Parse("oci:" + dir + ":nope")
	if _, err := b.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "multi, one") {
		t.Errorf("unknown name: %v", err)
	}
	b, _ = source.Parse("oci:" + t.TempDir())
	if _, err := b.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), "not an OCI layout") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestOCILayoutSingleAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	img := ocitest.Image(t, 3, 1, 128, ocitest.AMD64)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	b, _ := source.Parse("oci:" + dir)
	got, err := b.Image(ctx, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	if ocitest.Digest(t, got) != ocitest.Digest(t, img) {
		t.Error("single unnamed image not found")
	}
	// Corrupt a layer: reading it must fail, not hand out bad bytes.
	m, _ := img.Manifest()
	lp := filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Hex)
	data, _ := os.ReadFile(lp)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(lp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ls, _ := got.Layers()
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt layer read without error: %v", err)
	}
	// A symlinked blob pointing outside the layout is refused.
	cfgPath := filepath.Join(dir, "blobs", "sha256", m.Config.Digest.Hex)
	outside := filepath.Join(t.TempDir(), "cfg")
	raw, _ := os.ReadFile(cfgPath)
	_ = os.WriteFile(outside, raw, 0o644)
	_ = os.Remove(cfgPath)
	if err := os.Symlink(outside, cfgPath); err != nil {
		t.Fatal(err)
	}
	b, _ = source.Parse("oci:" + dir)
	got, err = b.Image(ctx, ocitest.AMD64)
	if err == nil {
		_, err = got.RawConfigFile()
	}
	if err == nil {
		t.Error("symlink escaping the layout was followed")
	}
}

// tarDir writes dir as a plain tar, plus extra raw entries.
func tarDir(t *testing.T, dir string, extra ...*tar.Header) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "img.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, h := range extra {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte(strings.Repeat("x", int(h.Size))))
		}
	}
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOCIArchive(t *testing.T) {
	dir, img, _ := writeLayout(t)
	file := tarDir(t, dir)
	b, err := source.Parse("oci-archive:" + file + ":one")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Image(ctx, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	if ocitest.Digest(t, got) != ocitest.Digest(t, img) {
		t.Error("wrong image from archive")
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate (reads every layer): %v", err)
	}
	b, _ = source.Parse("oci-archive:" + file + ":multi")
	if _, err := b.Image(ctx, ocitest.ARM64); err != nil {
		t.Errorf("index in archive: %v", err)
	}

	for name, hdr := range map[string]*tar.Header{
		"dotdot":   {Name: "../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		"nested":   {Name: "blobs/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		"absolute": {Name: "/etc/evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		"symlink":  {Name: "blobs/escape", Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd", Mode: 0o777},
		"abslink":  {Name: "blobs/abs", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o777},
		"hardlink": {Name: "blobs/hard", Typeflag: tar.TypeLink, Linkname: "../outside", Mode: 0o644},
		"device":   {Name: "blobs/dev", Typeflag: tar.TypeChar, Mode: 0o644},
	} {
		t.Run(name, func(t *testing.T) {
			bad := tarDir(t, dir, hdr)
			b, _ := source.Parse("oci-archive:" + bad + ":one")
			_, err := b.Image(ctx, ocitest.AMD64)
			if err == nil || !strings.Contains(err.Error(), "refusing") || !strings.Contains(err.Error(), bad) {
				t.Errorf("malicious archive: %v", err)
			}
		})
	}

	// A symlink inside the archive (index.json -> real file) is followed.
	idx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := os.Rename(filepath.Join(dir, "index.json"), filepath.Join(dir, "real-index.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real-index.json", filepath.Join(dir, "index.json")); err != nil {
		t.Fatal(err)
	}
	linked := tarDir(t, dir)
	b, _ = source.Parse("oci-archive:" + linked + ":one")
	if _, err := b.Image(ctx, ocitest.AMD64); err != nil {
		t.Errorf("in-archive symlink: %v (index %d bytes)", err, len(idx))
	}
}

func TestDockerArchive(t *testing.T) {
	img := ocitest.Image(t, 5, 2, 256, ocitest.AMD64)
	other := ocitest.Image(t, 6, 1, 256, ocitest.ARM64)
	file := filepath.Join(t.TempDir(), "d.tar")
	a, _ := name.NewTag("app:1")
	o, _ := name.NewTag("other:2")
	if err := tarball.MultiRefWriteToFile(file, map[name.Reference]v1.Image{a: img, o: other}); err != nil {
		t.Fatal(err)
	}
	b, err := source.Parse("docker-archive:" + file + ":app:1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Image(ctx, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	gl, _ := got.Layers()
	wl, _ := img.Layers()
	for i := range wl {
		g, _ := gl[i].Digest()
		w, _ := wl[i].Digest()
		if g != w {
			t.Errorf("layer %d: %s, want %s", i, g, w)
		}
	}
	if _, err := b.Image(ctx, ocitest.ARM64); err == nil || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("platform mismatch: %v", err)
	}
	b, _ = source.Parse("docker-archive:" + file)
	if _, err := b.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), "app:1") || !strings.Contains(err.Error(), "other:2") {
		t.Errorf("ambiguous archive: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.tar")
	f, _ := os.Create(bad)
	tw := tar.NewWriter(f)
	_ = tw.WriteHeader(&tar.Header{Name: "../../x", Typeflag: tar.TypeReg, Mode: 0o644})
	_ = tw.Close()
	f.Close()
	b, _ = source.Parse("docker-archive:" + bad)
	if _, err := b.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("malicious docker archive: %v", err)
	}
}

// blobCounter counts blob GETs reaching the in-process registry.
type blobCounter struct {
	mu   sync.Mutex
	gets []string
	next http.Handler
}

func (b *blobCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		b.mu.Lock()
		b.gets = append(b.gets, r.URL.Path)
		b.mu.Unlock()
	}
	b.next.ServeHTTP(w, r)
}

func TestRegistryBaseIsLazy(t *testing.T) {
	bc := &blobCounter{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(bc)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	idx := ocitest.Index(t, 20, 2, 1024, ocitest.AMD64, ocitest.ARM64)
	ref, _ := name.ParseReference(host + "/base:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	bc.gets = nil

	b, err := source.Parse("docker://" + host + "/base:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := b.Image(ctx, ocitest.ARM64)
	if err != nil {
		t.Fatal(err)
	}
	// Stacking a layer on the base and computing its manifest reads the
	// base's config (small) but never a layer.
	ls, _ := img.Layers()
	next, err := mutate.AppendLayers(img, ls[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := next.Digest(); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	for _, g := range bc.gets {
		for _, l := range m.Layers {
			if strings.HasSuffix(g, l.Digest.String()) {
				t.Errorf("layer blob downloaded: %s", g)
			}
		}
	}
	if _, ok := ls[0].(*remote.MountableLayer); !ok {
		t.Errorf("base layers are %T, not mountable", ls[0])
	}
	gotIdx, err := b.Index(ctx)
	if err != nil || ocitest.Digest(t, gotIdx) != ocitest.Digest(t, idx) {
		t.Errorf("Index() %v", err)
	}
	_, err = b.Image(ctx, v1.Platform{OS: "windows", Architecture: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "windows/amd64") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Errorf("missing platform: %v", err)
	}

	b, _ = source.Parse("docker://" + host + "/missing:1")
	if _, err := b.Image(ctx, ocitest.AMD64); err == nil || !strings.Contains(err.Error(), "missing:1") {
		t.Errorf("missing image: %v", err)
	}
}

func TestRegistryBaseAuthError(t *testing.T) {
	reg := ocitest.StartInProcess(t)
	reg.RequireBasicAuth("user", "pw")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	b, err := source.Parse("docker://" + reg.Ref("private/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Image(ctx, ocitest.AMD64)
	if err == nil || !strings.Contains(err.Error(), "authentication required by "+reg.Host) || !strings.Contains(err.Error(), "podman login "+reg.Host) {
		t.Errorf("error %v", err)
	}
}

// A layer of a layout's image tells its diffID from the config, as a
// registry's does, without being read: here its blob is gone.
func TestOCILayoutDiffIDsFromTheConfig(t *testing.T) {
	dir, img, _ := writeLayout(t)
	b, err := source.Parse("oci:" + dir + ":one")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Image(ctx, ocitest.AMD64)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := got.Layers()
	if err != nil || len(ls) == 0 || len(ls) != len(want.RootFS.DiffIDs) {
		t.Fatalf("%d layers, %v; want %d", len(ls), err, len(want.RootFS.DiffIDs))
	}
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "blobs", d.Algorithm, d.Hex)); err != nil {
			t.Fatal(err)
		}
		if id, err := l.DiffID(); err != nil || id != want.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: diffID %v, %v; want %v", i, id, err, want.RootFS.DiffIDs[i])
		}
	}
}
