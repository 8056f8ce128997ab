package dockerfile

import (
	"context"
	"os"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/assemble-build/assemble/layers"
)

// countingStore counts what the tree asks of its listing store.
type countingStore struct {
	s          ListingStore
	hits, puts int
}

func (c *countingStore) Get(key string) ([]byte, bool, error) {
	b, ok, err := c.s.Get(key)
	if ok {
		c.hits++
	}
	return b, ok, err
}

func (c *countingStore) Put(key string, data []byte) error {
	c.puts++
	return c.s.Put(key, data)
}

// A layer's listing is kept in the cache's listings namespace by diffID and
// read back from there by the next tree.
func TestListingCache(t *testing.T) {
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ns := cache.Namespace("listings")
	store := &countingStore{s: ns}
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var out []string
		tr := newTree(context.Background())
		tr.listings = store
		tr.touched = func(p string) { out = append(out, p) }
		if err := tr.sync(img); err != nil {
			t.Fatal(err)
		}
		for _, p := range out {
			if _, _, err := tr.lookup(p, false); err != nil {
				t.Errorf("%s written but not found: %v", p, err)
			}
		}
		sort.Strings(out)
		return out
	}
	first := names()
	if store.puts != 2 || store.hits != 0 {
		t.Fatalf("first sync: %d puts, %d hits; want 2 puts", store.puts, store.hits)
	}
	cf, _ := img.ConfigFile()
	for _, d := range cf.RootFS.DiffIDs {
		if _, err := os.Stat(ns.Path(d.Hex + ".json")); err != nil {
			t.Errorf("listing of %s not in the cache: %v", d, err)
		}
	}
	second := names()
	if store.puts != 2 || store.hits != 2 {
		t.Fatalf("second sync: %d puts, %d hits; want the 2 listings read back", store.puts, store.hits)
	}
	if len(first) != 2 || len(second) != len(first) || first[0] != second[0] || first[1] != second[1] {
		t.Fatalf("files %v from the layers, %v from the listings", first, second)
	}
}
