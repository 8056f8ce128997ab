package layers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An ignore file that is a symbolic link is read only when it leads inside
// the root it filters.
func TestReadIgnoreFileSymlink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "patterns"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "patterns"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("patterns", filepath.Join(root, ".dockerignore")); err != nil {
		t.Fatal(err)
	}
	if pats, _, err := ReadIgnoreFile(root); err != nil || len(pats) != 1 || pats[0] != "a" {
		t.Errorf("inside: %q, %v", pats, err)
	}
	if err := os.Symlink(filepath.Join(outside, "patterns"), filepath.Join(root, ".containerignore")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadIgnoreFile(root); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("outside: %v, want an error", err)
	}
}
