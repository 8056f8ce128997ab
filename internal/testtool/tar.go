package testtool

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// EachTarEntry calls fn for every entry of the tar stream r, in order, with
// the entry's body; a read error fails t.
func EachTarEntry(t testing.TB, r io.Reader, fn func(h *tar.Header, body io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// GzipFile opens the gzip file at path for reading; t's cleanup closes it.
func GzipFile(t testing.TB, path string) *gzip.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// TarLayer closes tw, which wrote to buf, and returns the layer it holds.
func TarLayer(t testing.TB, tw *tar.Writer, buf *bytes.Buffer) v1.Layer {
	t.Helper()
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// StaticBusybox returns Debian's static busybox (/bin/busybox), which
// tests put in images: missing, it skips t (fails it in CI); dynamically
// linked, it fails t.
func StaticBusybox(t testing.TB) []byte {
	t.Helper()
	RequireTool(t, "busybox")
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("file", "-L", "/bin/busybox").Output(); len(out) > 0 && !strings.Contains(string(out), "statically linked") {
		t.Fatalf("/bin/busybox is not static (install busybox-static): %s", out)
	}
	return bb
}
