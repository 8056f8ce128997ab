package layers

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openHostFile reads a file whole, names it in its errors and closes once.
func TestOpenHostFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	want := strings.Repeat("0123456789", 50000)
	must0(t, os.WriteFile(p, []byte(want), 0o644))
	rc, err := openHostFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != want {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(want))
	}
	must0(t, rc.Close())
	if err := rc.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second close: %v, want fs.ErrClosed", err)
	}
	_, err = openHostFile(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v, want a not-exist error naming it", err)
	}
}
