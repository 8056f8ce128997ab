package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// fill records two inputs in a fresh cache: one under a URL, one by digest.
func fill(t *testing.T) (*layers.Cache, *layers.InputLog) {
	t.Helper()
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := c.LogInputs()
	ctx := context.Background()
	for i, content := range []string{"signed release text", "a package"} {
		_, d, err := c.Download(ctx, "", func(_ context.Context, w io.Writer) error {
			_, err := io.WriteString(w, content)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := c.SetRef("http://mirror.example/dists/x/InRelease", d); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c, log
}

func TestRoundTrip(t *testing.T) {
	c, log := fill(t)
	file := filepath.Join(t.TempDir(), "b.tar")
	st, err := Write(c, log, file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 2 || st.Names != 1 {
		t.Errorf("wrote %+v, want 2 blobs, 1 name", st)
	}
	into, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), file, into); err != nil {
		t.Fatal(err)
	}
	d, ok := into.Ref("http://mirror.example/dists/x/InRelease")
	if !ok {
		t.Fatal("the imported cache lacks the InRelease ref")
	}
	if b, err := os.ReadFile(into.DownloadPath(d)); err != nil || string(b) != "signed release text" {
		t.Errorf("imported InRelease: %q, %v", b, err)
	}

	// Written twice: the same bytes.
	again := filepath.Join(t.TempDir(), "b.tar")
	if _, err := Write(c, log, again); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(file)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("the same inputs gave different bundles")
	}
}

// rewrite copies the bundle's entries through edit (which may change the
// header and data, or return false to drop the entry) and appends extra.
func rewrite(t *testing.T, file string, edit func(h *tar.Header, data []byte) bool, extra ...*tar.Header) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(t.TempDir(), "edited.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if !edit(h, data) {
			continue
		}
		h.Size = int64(len(data))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(data)
		}
	}
	for _, h := range extra {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// A damaged, truncated, padded or linking bundle is refused, naming what.
func TestRefused(t *testing.T) {
	c, log := fill(t)
	file := filepath.Join(t.TempDir(), "b.tar")
	if _, err := Write(c, log, file); err != nil {
		t.Fatal(err)
	}
	m, _, err := buildManifest(c, log)
	if err != nil {
		t.Fatal(err)
	}
	named := blobName(m.Layers[0].Digest)
	if m.Layers[0].Annotations == nil {
		named = blobName(m.Layers[1].Digest)
	}
	keep := func(*tar.Header, []byte) bool { return true }
	flipped := rewrite(t, file, func(h *tar.Header, d []byte) bool {
		if h.Name == named {
			d[3] ^= 1
		}
		return true
	})
	// Read into the cache that already holds every input: still checked.
	if _, err := Import(context.Background(), flipped, c); err == nil || !strings.Contains(err.Error(), "entry "+named) {
		t.Errorf("a changed byte, read into a cache holding the input: %v", err)
	}
	for _, tc := range []struct {
		name  string
		file  string
		wants []string
	}{
		{"flipped byte", flipped, []string{"entry " + named, "http://mirror.example/dists/x/InRelease", "digest mismatch"}},
		{"missing blob", rewrite(t, file, func(h *tar.Header, _ []byte) bool { return h.Name != named }), []string{"missing", named}},
		{"symlink", rewrite(t, file, keep, &tar.Header{Name: "blobs/sha256/x", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), []string{"entry blobs/sha256/x", "not a regular file"}},
		{"traversal", rewrite(t, file, keep, &tar.Header{Name: "../escape", Typeflag: tar.TypeReg}), []string{"entry ../escape", "not a clean relative path"}},
		{"unlisted blob", rewrite(t, file, keep, &tar.Header{Name: "blobs/sha256/" + strings.Repeat("a", 64), Typeflag: tar.TypeReg}), []string{"does not list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			into, err := layers.OpenCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Import(context.Background(), tc.file, into)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A download the offline build makes again from another (an uncompressed
// Packages index from its .xz) is left out when the bundle carries that
// other one, and kept when it does not (the cache lost it).
func TestDerivedLeftOut(t *testing.T) {
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := c.LogInputs()
	put := func(content string) string {
		_, d, err := c.Download(context.Background(), "", func(_ context.Context, w io.Writer) error {
			_, err := io.WriteString(w, content)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	plain, xz := put("Package: a\n\nPackage: b\n"), put("compressed index")
	c.LogDerived(plain, xz)
	st, err := Write(c, log, filepath.Join(t.TempDir(), "b.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 1 || st.Bytes != int64(len("compressed index")) {
		t.Errorf("wrote %+v, want the compressed index alone", st)
	}
	if err := os.Remove(c.DownloadPath(xz)); err != nil {
		t.Fatal(err)
	}
	st, err = Write(c, log, filepath.Join(t.TempDir(), "b.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 1 || st.Bytes != int64(len("Package: a\n\nPackage: b\n")) {
		t.Errorf("without the compressed index: wrote %+v, want the uncompressed one", st)
	}
}
