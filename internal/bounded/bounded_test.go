package bounded

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	k := Kind{"a Dockerfile", 1 << 10}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("FROM scratch\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(small, k); err != nil || string(b) != "FROM scratch\n" {
		t.Fatalf("small file: %q %v", b, err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, bytes.Repeat([]byte("x"), 1<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(exact, k); err != nil {
		t.Fatalf("a file of exactly the limit: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 3<<10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(big, k)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != 3<<10+1 || !IsTooLarge(err) {
		t.Fatalf("big file: %v", err)
	}
	for _, want := range []string{big, "3073 bytes", "1 KiB", "of a Dockerfile", "Inputs with bounds"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), k); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	fsys := fstest.MapFS{"a": {Data: []byte("12345")}}
	if _, err := ReadFS(fsys, "a", Kind{"x", 4}); !IsTooLarge(err) {
		t.Errorf("ReadFS over the limit: %v", err)
	}
	// A stream (or a file that grows after its size was taken) stops at the limit.
	if _, err := Read(strings.NewReader("12345"), "stdin", Kind{"x", 4}); !IsTooLarge(err) {
		t.Errorf("Read over the limit: %v", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{17: "17 bytes", 4 << 20: "4 MiB", 512 << 10: "512 KiB", 100<<20 + 5: "100.0 MiB (104857605 bytes)"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
