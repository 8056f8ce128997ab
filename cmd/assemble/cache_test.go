package main

import (
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
