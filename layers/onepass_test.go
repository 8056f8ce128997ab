package layers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
)

// onePassTree writes a tree outside any git work tree (its key is its
// tar's): text, an empty file, a file over the copy buffers, a symlink and
// a hard link.
func onePassTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	writeTree(t, dir, map[string]string{
		"app/main.py":  "print(1)\n",
		"app/empty":    "",
		"data/big.txt": strings.Repeat("assemble writes every layer itself\n", 20000),
		"README":       "one pass\n",
	})
	must0(t, os.Symlink("app/main.py", filepath.Join(dir, "main")))
	must0(t, os.Link(filepath.Join(dir, "README"), filepath.Join(dir, "README.link")))
	return dir
}

// onePass reports whether c would write spec's layer in one pass.
func onePass(t *testing.T, c *Cache, spec Spec, opts ...BuildOption) bool {
	t.Helper()
	_, one, err := c.firstSight(context.Background(), spec, newBuildOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	return one
}

func mustBuild(t *testing.T, c *Cache, spec Spec, opts ...BuildOption) Result {
	t.Helper()
	r, err := c.Build(context.Background(), spec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A tree this cache has never built is written in one pass and keyed by
// what was written; keyed first (a source built before, a fresh cache
// told so, a copy of the tree at another path) it gets the same key and
// blob, for both compressors and any mtime.
func TestOnePassAndKeyFirstGiveOneKeyAndBlob(t *testing.T) {
	dir := onePassTree(t)
	for _, opts := range [][]BuildOption{
		{WithCompression(Zstd)},
		{WithCompression(Gzip), WithModTime(time.Unix(1700000000, 0))},
	} {
		c := newCache(t)
		spec := &Files{Root: dir, Dest: "/app"}
		if !onePass(t, c, spec, opts...) {
			t.Fatal("a source this cache never built: keyed first, want one pass")
		}
		first := mustBuild(t, c, spec, opts...)
		if first.Hit {
			t.Fatal("first build was a hit")
		}
		// Keyed first by the same cache: a hit, the same key.
		again := &Files{Root: dir, Dest: "/app"}
		if onePass(t, c, again, opts...) {
			t.Fatal("a source this cache built: one pass, want the key first")
		}
		if r := mustBuild(t, c, again, opts...); !r.Hit || r.Key != first.Key || r.Descriptor != first.Descriptor {
			t.Errorf("rebuild: %+v, want a hit on %+v", r, first)
		}
		// Keyed first by a fresh cache: the same key, written the same.
		fresh := newCache(t)
		keyed := &Files{Root: dir, Dest: "/app"}
		src, _, err := fresh.firstSight(context.Background(), keyed, newBuildOptions(opts))
		if err != nil {
			t.Fatal(err)
		}
		fresh.sawSource(context.Background(), src)
		r := mustBuild(t, fresh, keyed, opts...)
		if r.Hit || r.Key != first.Key || r.Digest != first.Digest || r.DiffID != first.DiffID || r.Size != first.Size {
			t.Errorf("keyed first: %+v, one pass: %+v", r, first)
		}
		// The same tree at another path, with the warm cache: one pass,
		// which finds its key cached and keeps that entry; then a hit.
		cp := filepath.Join(t.TempDir(), "checkout")
		testtool.CopyTree(t, dir, cp)
		must0(t, os.Remove(filepath.Join(cp, "README.link"))) // CopyTree copies a hard link's content
		must0(t, os.Link(filepath.Join(cp, "README"), filepath.Join(cp, "README.link")))
		moved := &Files{Root: cp, Dest: "/app"}
		if !onePass(t, c, moved, opts...) {
			t.Fatal("a new path: keyed first, want one pass")
		}
		if r := mustBuild(t, c, moved, opts...); r.Key != first.Key || r.Descriptor != first.Descriptor {
			t.Errorf("copy at another path: %+v, want %+v", r, first)
		}
		if r := mustBuild(t, c, &Files{Root: cp, Dest: "/app"}, opts...); !r.Hit || r.Key != first.Key {
			t.Errorf("copy rebuilt: %+v, want a hit", r)
		}
		if ok, err := c.Has(context.Background(), &Files{Root: cp, Dest: "/app"}, opts...); err != nil || !ok {
			t.Errorf("Has: %v %v, want the layer cached", ok, err)
		}
	}
}

// A changed tree built before is keyed first, misses and is written; what
// is stored is found by the next build either way.
func TestOnePassChangedTree(t *testing.T) {
	dir := onePassTree(t)
	c := newCache(t)
	first := mustBuild(t, c, &Files{Root: dir})
	must0(t, os.WriteFile(filepath.Join(dir, "app/main.py"), []byte("print(2)\n"), 0o644))
	changed := mustBuild(t, c, &Files{Root: dir})
	if changed.Hit || changed.Key == first.Key || changed.DiffID == first.DiffID {
		t.Fatalf("changed tree: %+v, first %+v", changed, first)
	}
	if r := mustBuild(t, newCache(t), &Files{Root: dir}); r.Key != changed.Key || r.Digest != changed.Digest {
		t.Errorf("one pass over the changed tree: %+v, keyed first: %+v", r, changed)
	}
	if r := mustBuild(t, c, &Files{Root: dir}); !r.Hit || r.Key != changed.Key {
		t.Errorf("changed tree rebuilt: %+v, want a hit", r)
	}
}

// In a git work tree the key comes from git's index: never one pass.
func TestGitTreeIsKeyedFirst(t *testing.T) {
	dir := checkout(t)
	settle(t, dir)
	if onePass(t, newCache(t), repoFiles(t, dir)) {
		t.Error("a git work tree is written in one pass, want its key from the index first")
	}
}
