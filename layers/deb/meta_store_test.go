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

// TestStatusSameFromTheCache: the dpkg status of a set of packages is the
// same whether their metas are in memory, read from the cache (on every
// core), or some built again from the .debs.
func TestStatusSameFromTheCache(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	ctx := context.Background()
	c1, cache := testClient(t)
	ix, err := c1.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := resolveNames(t, ix, nil, []Request{{Name: "app", Where: "test"}})
	if len(pkgs) < 2 {
		t.Fatalf("the test universe resolves to %d packages", len(pkgs))
	}
	if err := c1.Fetch(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	want, err := c1.Status(ctx, pkgs)
	if err != nil || len(want) == 0 {
		t.Fatalf("status: %v", err)
	}
	status := func(c *Client) []byte {
		t.Helper()
		got, err := c.Status(ctx, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := status(c1); string(got) != string(want) {
		t.Errorf("from memory:\n%s\nwant\n%s", got, want)
	}
	if got := status(New(cache, WithOffline(true))); string(got) != string(want) {
		t.Errorf("from the cache:\n%s\nwant\n%s", got, want)
	}
	d, ok := cache.Ref(metaRef(pkgs[len(pkgs)-1].SHA256))
	if !ok {
		t.Fatal("no meta stored")
	}
	if err := os.Remove(c1.downloadPathOf(d)); err != nil {
		t.Fatal(err)
	}
	if got := status(New(cache, WithOffline(true))); string(got) != string(want) {
		t.Errorf("with one meta built again:\n%s\nwant\n%s", got, want)
	}
}
