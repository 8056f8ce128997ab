package deb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestMetaStoredOnce: a second build of the same packages (a new client on
// the same cache, as a new process would be) finds their metas stored and
// does not write them again: each write syncs files and folders, which
// cost more than unpacking a small package.
func TestMetaStoredOnce(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	ctx := context.Background()
	c1, cache := testClient(t)
	build := func(c *Client) []*Package {
		t.Helper()
		ix, err := c.Index(ctx, a.source("testing", "amd64"))
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := ix.Resolve([]Request{{Name: "app", Where: "test"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		specs, err := c.Layers(ctx, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		extractSpecs(t, specs, t.TempDir())
		return pkgs
	}
	pkgs := build(c1)
	refs := filepath.Join(cache.Dir(), "refs")
	before := map[string]os.FileInfo{}
	ents, err := os.ReadDir(refs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(refs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		before[e.Name()] = fi
	}
	for _, p := range pkgs {
		if _, ok := cache.Ref(metaRef(p.SHA256)); !ok {
			t.Fatalf("no meta stored for %s", p.Name)
		}
	}

	// Offline, so that only the metas could be written: the index is read
	// as stored.
	build(New(cache, WithOffline(true)))
	for name, fi := range before {
		now, err := os.Stat(filepath.Join(refs, name))
		if err != nil {
			t.Fatal(err)
		}
		// The inode of a replaced file may be reused: the mtime tells too.
		if !os.SameFile(fi, now) || !fi.ModTime().Equal(now.ModTime()) {
			t.Errorf("ref %s was written again by the second build", name)
		}
	}
	for _, p := range pkgs {
		if _, ok := cache.Ref(metaRef(p.SHA256)); !ok {
			t.Errorf("meta of %s lost", p.Name)
		}
	}
}
