package git

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An index truncated by another writer while it is mapped is an error,
// not a crash (SIGBUS).
func TestParseMappedTruncatedFile(t *testing.T) {
	dir := gitRepo(t, sample)
	data, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	// Pages enough that the end of the mapping lies past the new end of file.
	big := append(data[:len(data)-20:len(data)-20], make([]byte, 1<<16)...)
	p := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapped, release, err := mapFile(f, int64(len(big)))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := parseMapped(mapped, "sha1"); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("a truncated mapped index: %v, want the fault told as an error", err)
	}
}
