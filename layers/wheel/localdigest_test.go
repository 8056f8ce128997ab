package wheel

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assemble-build/assemble/layers"
)

// A wheelhouse file the download store already holds is taken as it is:
// a rebuild does not copy it in again (the stored file keeps its inode),
// and a changed file is stored under its new digest.
func TestFetchLocalFileOnce(t *testing.T) {
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &client{cache: cache, creds: map[string]credential{}}
	whl := filepath.Join(t.TempDir(), "a-1.0-py3-none-any.whl")
	if err := os.WriteFile(whl, []byte("wheel v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := fileLink{Filename: filepath.Base(whl), URL: "file://" + whl, Local: whl}
	fetch := func() (string, string, uint64) {
		t.Helper()
		p, sum, err := c.fetchFile(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return p, sum, fi.Sys().(*syscall.Stat_t).Ino
	}
	p1, sum1, ino1 := fetch()
	p2, sum2, ino2 := fetch()
	if p1 != p2 || sum1 != sum2 || ino1 != ino2 {
		t.Errorf("second fetch: %s %s inode %d, first %s %s inode %d", p2, sum2, ino2, p1, sum1, ino1)
	}
	if err := os.WriteFile(whl, []byte("wheel v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	p3, sum3, _ := fetch()
	if sum3 == sum1 || p3 == p1 {
		t.Errorf("a changed wheelhouse file kept its digest %s", sum3)
	}
	if b, err := os.ReadFile(p3); err != nil || string(b) != "wheel v2" {
		t.Errorf("stored %q, %v", b, err)
	}
}

// A wheelhouse file's digest is remembered with its stat data, as git's
// index remembers a tracked file's: while the stat data holds, the file is
// not read again; any change to it (or a file changed too recently to
// trust its timestamps) is read and hashed.
func TestLocalDigestRemembered(t *testing.T) {
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &client{cache: cache}
	whl := filepath.Join(t.TempDir(), "a-1.0-py3-none-any.whl")
	if err := os.WriteFile(whl, []byte("wheel v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := c.localDigest("", whl); d != hashLocal(whl) || d == "" {
		t.Fatalf("digest %q, want %q", d, hashLocal(whl))
	}
	ns := cache.Namespace(digestsNamespace)
	ents, _ := os.ReadDir(ns.Dir())
	if len(ents) != 1 {
		t.Fatalf("%d entries in %s, want 1", len(ents), ns.Dir())
	}
	// The entry is trusted without reading the file: one naming another
	// digest for the same stat data is believed.
	key := ents[0].Name()
	b, _ := getChecked(ns, key)
	stamp, _, _ := strings.Cut(string(b), "\n")
	fake := "sha256:" + strings.Repeat("0", 64)
	putChecked(cache, ns, key, []byte(stamp+"\n"+fake))
	if d := c.localDigest("", whl); d != fake {
		t.Errorf("digest %q: the remembered one (%s) was not used", d, fake)
	}
	// A torn entry (a crash after the rename, before the data reached the
	// disk) is not believed.
	if err := ns.Put(key, []byte("0000\n"+stamp+"\n"+fake)); err != nil {
		t.Fatal(err)
	}
	if d := c.localDigest("", whl); d != hashLocal(whl) {
		t.Errorf("torn entry: digest %q", d)
	}
	// Rewritten with content of the same size: the stat data differs.
	if err := os.WriteFile(whl, []byte("wheel v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := c.localDigest("", whl); d != hashLocal(whl) {
		t.Errorf("changed file: digest %q, want %q", d, hashLocal(whl))
	}
	if d := c.localDigest("sha256:"+strings.Repeat("1", 64), whl); d != "sha256:"+strings.Repeat("1", 64) {
		t.Errorf("a digest the index gave is not the one asked for: %q", d)
	}

	// A file changed within racyWindow is hashed and not remembered.
	racyWindow = time.Hour
	fresh := filepath.Join(t.TempDir(), "b-1.0-py3-none-any.whl")
	if err := os.WriteFile(fresh, []byte("wheel b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := c.localDigest("", fresh); d != hashLocal(fresh) {
		t.Errorf("racy file: digest %q", d)
	}
	if ents, _ := os.ReadDir(ns.Dir()); len(ents) != 1 {
		t.Errorf("a racy file's digest was remembered: %d entries", len(ents))
	}
}

// A wheel's METADATA is kept under its digest and file name: resolving
// again takes it from there (a memo naming other requirements is believed),
// the same content under another name is read from the wheel, and a torn
// entry is read again.
func TestWheelMetadataRemembered(t *testing.T) {
	house := t.TempDir()
	w := wheelSpec{Name: "alpha", Version: "1.0"}
	whl := filepath.Join(house, w.filename())
	if err := os.WriteFile(whl, w.build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := newCache(t)
	c := &client{cache: cache}
	l := &fileLink{Filename: w.filename(), URL: "file://" + whl, Local: whl}
	m, err := c.metadata(context.Background(), l)
	if err != nil || m.Name != "alpha" || len(m.RequiresDist) != 0 {
		t.Fatalf("metadata %+v, %v", m, err)
	}
	ns := cache.Namespace(metadataNamespace)
	ents, _ := os.ReadDir(ns.Dir())
	if len(ents) != 1 {
		t.Fatalf("%d entries in %s, want 1", len(ents), ns.Dir())
	}
	key := ents[0].Name()
	putChecked(cache, ns, key, []byte("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\nRequires-Dist: beta\n"))
	if m, err := c.metadata(context.Background(), l); err != nil || len(m.RequiresDist) != 1 {
		t.Errorf("the kept METADATA was not used: %+v, %v", m, err)
	}
	if err := ns.Put(key, []byte("torn")); err != nil {
		t.Fatal(err)
	}
	if m, err := c.metadata(context.Background(), l); err != nil || len(m.RequiresDist) != 0 {
		t.Errorf("torn entry: %+v, %v", m, err)
	}
	// Another name for the same bytes is checked against the wheel again.
	other := filepath.Join(house, "beta-1.0-py3-none-any.whl")
	if err := os.Link(whl, other); err != nil {
		t.Fatal(err)
	}
	ol := &fileLink{Filename: filepath.Base(other), URL: "file://" + other, Local: other}
	if _, err := c.metadata(context.Background(), ol); err == nil || !strings.Contains(err.Error(), "another project") {
		t.Errorf("a mislabelled wheel: %v", err)
	}
}

// Resolved through an index's PEP 658 metadata file, a wheel's METADATA is
// not known (that file is the index's word, not the wheel's); installing
// the wheel records the wheel's own.
func TestKnownMetadataFromTheWheelOnly(t *testing.T) {
	ix := newTestIndex(t)
	f := ix.add(t, wheelSpec{Name: "alpha", Version: "1.0"})
	cache := newCache(t)
	r := NewResolver(cache, WithIndexURL(ix.URL()))
	set := resolveOK(t, r, reqsOf(t, "alpha\n"), debianTarget())
	if ix.requested("/files/"+f.filename) != ix.requested("/files/"+f.filename+".metadata") {
		t.Fatal("the wheel was downloaded to resolve: the test wants PEP 658 metadata")
	}
	if _, ok := KnownMetadata(cache, set[0].SHA256, set[0].Filename); ok {
		t.Error("METADATA known from the index's metadata file")
	}
	if _, err := NewLayer(cache, set, debianTarget(), WithDownloader(r)).Entries(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, ok := KnownMetadata(cache, set[0].SHA256, set[0].Filename)
	if !ok || !bytes.Equal(b, wheelMetadataBytes(f.data)) {
		t.Errorf("after the install: %q, %v", b, ok)
	}
}
