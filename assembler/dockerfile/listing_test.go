package dockerfile

import (
	"bytes"
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
		if _, err := os.Stat(ns.Path(d.Hex + listingExt)); err != nil {
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

// A listing reads back as it was written; a damaged one is refused, so
// the tree reads the layer instead.
func TestListingEncoding(t *testing.T) {
	in := []listed{
		{Name: "etc", Type: '5', Mode: 0o755},
		{Name: "etc/passwd", Type: '0', Mode: 0o644, Content: []byte("root:x:0:0::/root:/bin/sh\n")},
		{Name: "bin/sh", Type: '2', Mode: 0o777, UID: 1000, GID: 50, Link: "busybox"},
		{Name: "tmp", Type: '5', Mode: 0o1777, UID: -1},
	}
	b := encodeListing(in)
	hdrs, contents, err := decodeListing(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdrs) != len(in) {
		t.Fatalf("%d entries back, want %d", len(hdrs), len(in))
	}
	for i, e := range in {
		h := hdrs[i]
		got := listed{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Link: h.Linkname, Content: contents[i]}
		if got.Name != e.Name || got.Type != e.Type || got.Mode != e.Mode || got.UID != e.UID || got.GID != e.GID || got.Link != e.Link || string(got.Content) != string(e.Content) || (e.Content == nil) != (got.Content == nil) {
			t.Errorf("entry %d: %+v, want %+v", i, got, e)
		}
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0), []byte(`[{"n":"etc"}]`), b[:len(listingMagic)+1]} {
		if _, _, err := decodeListing(bad); err == nil {
			t.Errorf("decodeListing(%q) took damaged data", bad)
		}
	}
}
