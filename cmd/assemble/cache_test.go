package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// cache du and prune know a namespace no command names: the cache finds it.
func TestCacheCommandsSeeEveryNamespace(t *testing.T) {
	dir := t.TempDir()
	c, err := layers.OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Namespace("widgets").Put("w.json", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	du := mustAssemble(t, dir, "cache", "du").stdout
	for _, want := range []string{`blobs: +0 \(`, `keys: +0 \(`, `downloads: +0 \(`, `widgets: +1 \(7 B\)`, `total: +7 B`} {
		if !regexp.MustCompile(`(?m)^  ` + want).MatchString(du) {
			t.Errorf("cache du: no line matching %q in\n%s", want, du)
		}
	}
	if v := mustAssemble(t, dir, "cache", "verify").stdout; !strings.Contains(v, "cache ok") {
		t.Errorf("cache verify: %s", v)
	}
	if p := mustAssemble(t, dir, "cache", "prune", "--keep-days", "0").stdout; !strings.Contains(p, "removed 1 entries") {
		t.Errorf("cache prune: %s", p)
	}
	if _, ok, _ := c.Namespace("widgets").Get("w.json"); ok {
		t.Error("cache prune --keep-days 0 left the widgets entry")
	}
}

// A build killed mid-layer leaves its temporary file in the cache: cache du
// counts it, and cache prune (with its default 30 days), cache verify --fix
// and the next build remove it at once, its process being gone.
func TestKilledBuildTempFilesAreCleaned(t *testing.T) {
	cache := t.TempDir()
	repo := repoWith(t, "[[image]]\nname = \"app\"\n[[image.layer]]\ndir = \"data\"\n", map[string]string{"data/file": strings.Repeat("content\n", 4096)})
	kill := func() {
		t.Helper()
		killAtHook(t, "layer-write", "--cache-dir", cache, "--progress", "plain", "build", repo, "-o", "oci:"+filepath.Join(t.TempDir(), "l"))
		if du := mustAssemble(t, cache, "cache", "du").stdout; !regexp.MustCompile(`(?m)^  tmp: +1 \([1-9]`).MatchString(du) {
			t.Fatalf("cache du does not count the killed build's layer:\n%s", du)
		}
	}
	tmpLeft := func(after string) {
		t.Helper()
		if du := mustAssemble(t, cache, "cache", "du").stdout; !regexp.MustCompile(`(?m)^  tmp: +0 \(0 B\)`).MatchString(du) {
			t.Errorf("after %s, temporary files remain:\n%s", after, du)
		}
	}

	kill()
	if p := mustAssemble(t, cache, "cache", "prune").stdout; !strings.Contains(p, "removed 1 entries") {
		t.Errorf("cache prune: %s", p)
	}
	tmpLeft("cache prune")

	kill()
	v := assemble(t, cache, "cache", "verify")
	if v.err == nil || !strings.Contains(v.stdout, "temporary file of a process that ended") {
		t.Errorf("cache verify does not report the leftover (%v):\n%s", v.err, v.stdout)
	}
	if v := mustAssemble(t, cache, "cache", "verify", "--fix").stdout; !strings.Contains(v, "removed 1 bad entries") {
		t.Errorf("cache verify --fix: %s", v)
	}
	tmpLeft("cache verify --fix")

	kill()
	mustAssemble(t, cache, "build", repo, "-o", "oci:"+filepath.Join(t.TempDir(), "l"))
	tmpLeft("the next build")
}
