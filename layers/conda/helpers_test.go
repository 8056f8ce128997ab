package conda_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/conda/condatest"
)

const prefix = "/srv/conda/envs/notebook"

func newCache(t testing.TB) *layers.Cache {
	t.Helper()
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// built is a layer written by the cache, with its tar headers.
type built struct {
	res     layers.Result
	headers map[string]*tar.Header
	root    string // the layer unpacked by GNU tar
}

// buildLayer builds spec through the cache (the deterministic writer and
// compressor), closes it, and unpacks the blob with GNU tar.
func buildLayer(t testing.TB, cache *layers.Cache, spec layers.Spec) built {
	t.Helper()
	res, err := cache.Build(context.Background(), spec)
	if c, ok := spec.(io.Closer); ok {
		if cerr := c.Close(); cerr != nil {
			t.Error(cerr)
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", spec.Describe(), err)
	}
	b := built{res: res, headers: map[string]*tar.Header{}, root: t.TempDir()}
	rc, err := cache.Layer(res.Descriptor).Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	cmd := exec.Command(testtool.RequireTool(t, "tar"), "-xpf", "-", "--numeric-owner", "-C", b.root)
	cmd.Stdin = pr
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testtool.EachTarEntry(t, io.TeeReader(rc, pw), func(h *tar.Header, body io.Reader) {
		io.Copy(io.Discard, body)
		b.headers[strings.TrimSuffix(h.Name, "/")] = h
	})
	io.Copy(pw, rc) // the tar's end blocks
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out.String())
	}
	return b
}

// file reads a path below the prefix in the unpacked layer.
func (b built) file(t testing.TB, p string) string {
	t.Helper()
	data, err := os.ReadFile(condatest.PrefixPath(b.root, prefix, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (b built) mode(t testing.TB, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(condatest.PrefixPath(b.root, prefix, p))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// stagingLeft lists what conda layers left in the cache's tmp directory.
func stagingLeft(t testing.TB, cache *layers.Cache) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(cache.Dir(), "tmp"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), "conda-layer-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func mustContain(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}
