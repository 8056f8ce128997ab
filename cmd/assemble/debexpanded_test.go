package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheVerifyChecksExpandedDebs: `cache verify` checks the expanded
// copies of .deb files (layers/deb's deb-expanded namespace), and --fix
// removes a bad one (it is written again from its .deb when needed).
func TestCacheVerifyChecksExpandedDebs(t *testing.T) {
	cache := t.TempDir()
	bad := filepath.Join(cache, "deb-expanded", strings.Repeat("ab", 32))
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not zstd"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := assemble(t, cache, "cache", "verify")
	if v.err == nil || !strings.Contains(v.stdout, "bad: "+bad) {
		t.Errorf("cache verify does not report a bad expanded .deb (%v):\n%s", v.err, v.stdout)
	}
	if v := mustAssemble(t, cache, "cache", "verify", "--fix").stdout; !strings.Contains(v, "removed 1 bad entries") {
		t.Errorf("cache verify --fix: %s", v)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("bad expanded .deb left after --fix: %v", err)
	}
}
