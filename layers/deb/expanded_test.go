package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/layerstest"
	"github.com/klauspost/compress/zstd"
)

// countingLog returns a logger at debug level and a function counting the
// lines logged so far that contain msg (call it while nothing logs).
func countingLog() (*slog.Logger, func(msg string) int) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return l, func(msg string) int { return strings.Count(buf.String(), msg) }
}

// python3Packages resolves python3 on the Essential set from the shared
// download cache, as TestDebianPython3 does.
func python3Packages(t *testing.T, c *Client) []*Package {
	t.Helper()
	ix := mirrorIndex(t, c, "amd64")
	reqs := ix.EssentialRequest()
	reqs = append(reqs, Request{Name: "python3", Where: "test"})
	pkgs, err := ix.Resolve(reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// layersDigest builds the packages' layers and digests their tar streams.
func layersDigest(t *testing.T, c *Client, pkgs []*Package) string {
	t.Helper()
	ctx := context.Background()
	specs, err := c.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, s := range specs {
		es, err := s.Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := layers.WriteTar(h, es, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestExpandedLayersIdentical: python3's layers are the same built from the
// .deb files with xz(1) (writing the expanded copies), from the expanded
// copies (no .deb decoded), and from the .deb files with the pure-Go decoder.
func TestExpandedLayersIdentical(t *testing.T) {
	testtool.RequireTool(t, "xz")
	cache := layerstest.SharedCache(t)
	log, count := countingLog()
	c := New(cache, WithLogger(log))
	pkgs := python3Packages(t, c)
	ns := ExpandedNamespace(cache)
	forget := func() {
		for _, p := range pkgs {
			if err := os.Remove(ns.Path(p.SHA256)); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
	forget()
	cold := layersDigest(t, c, pkgs)
	for _, p := range pkgs {
		if err := checkExpanded(p.SHA256, mustOpen(t, ns.Path(p.SHA256))); err != nil {
			t.Errorf("%s: expanded copy not kept: %v", p, err)
		}
	}
	const hit = "package read from its expanded copy"
	if n := count(hit); n != 0 {
		t.Fatalf("cold build read %d expanded copies", n)
	}
	warm := layersDigest(t, New(cache, WithLogger(log)), pkgs)
	if n := count(hit); n < len(pkgs) {
		t.Errorf("warm build read %d expanded copies for %d packages", n, len(pkgs))
	}
	forget()
	var pure string
	withoutXZ(t, func() { pure = layersDigest(t, New(cache), pkgs) })
	if cold != warm || cold != pure {
		t.Errorf("python3 layers: from .deb files with xz(1) %s, from expanded copies %s, pure Go %s", cold, warm, pure)
	}
}

func mustOpen(t *testing.T, p string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// TestExpandedCorruptIsMiss: a truncated or altered expanded copy is never
// used: the package is decoded from its .deb again, to the same contents,
// and the copy is rewritten. `cache verify` reports such a copy.
func TestExpandedCorruptIsMiss(t *testing.T) {
	cache, unpack, count, want, entry := bigDeb(t, testDeb{name: "big", version: "1", files: []testFile{
		{path: "./usr/share/big", body: randomText(300000)},
		{path: "./etc/big.conf", body: "x=1\n"},
	}, ctl: map[string]string{"conffiles": "/etc/big.conf\n"}})
	if got := unpack(); got != want {
		t.Fatalf("first unpack %s, want %s", got, want)
	}
	good, err := os.ReadFile(entry)
	if err != nil {
		t.Fatalf("no expanded copy: %v", err)
	}
	damage := map[string][]byte{
		"truncated": good[:len(good)/2],
		"empty":     nil,
		"altered":   bytes.Clone(good),
	}
	damage["altered"][len(good)/2] ^= 0x55
	for what, b := range damage {
		if err := os.WriteFile(entry, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if problems, err := cache.Verify(false); err != nil || len(problems) != 1 || problems[0].Path != entry {
			t.Errorf("%s copy: verify reported %v, %v", what, problems, err)
		}
		misses := count("expanded package unreadable")
		if got := unpack(); got != want {
			t.Errorf("%s copy: unpacked %s, want %s", what, got, want)
		}
		if count("expanded package unreadable") != misses+1 {
			t.Errorf("%s copy: not reported as a miss", what)
		}
		if b, err := os.ReadFile(entry); err != nil || !bytes.Equal(b, good) {
			t.Errorf("%s copy: not rewritten (%v)", what, err)
		}
		hits := count("package read from its expanded copy")
		if got := unpack(); got != want || count("package read from its expanded copy") != hits+1 {
			t.Errorf("%s copy: the rewritten copy is not used", what)
		}
	}
	if problems, err := cache.Verify(false); err != nil || len(problems) != 0 {
		t.Errorf("verify of intact copies: %v, %v", problems, err)
	}
}

// TestExpandedEntropyCodedIsRead: entries are written with literals not
// entropy coded; one written before, entropy coded, is still read, to the
// same contents, and not rewritten.
func TestExpandedEntropyCodedIsRead(t *testing.T) {
	_, unpack, count, want, entry := bigDeb(t, testDeb{name: "big", version: "1", files: []testFile{
		{path: "./usr/share/big", body: randomText(300000)},
		{path: "./usr/share/small", body: "small"},
	}})
	if got := unpack(); got != want {
		t.Fatalf("first unpack %s, want %s", got, want)
	}
	written, err := os.ReadFile(entry)
	if err != nil {
		t.Fatalf("no expanded copy: %v", err)
	}
	// The same content, entropy coded as entries were written before.
	dec, err := zstd.NewReader(bytes.NewReader(written))
	if err != nil {
		t.Fatal(err)
	}
	content, err := io.ReadAll(dec)
	dec.Close()
	if err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	enc, err := zstd.NewWriter(&old, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old.Bytes(), written) {
		t.Fatal("the entry was written entropy coded")
	}
	if err := os.WriteFile(entry, old.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	hits := count("package read from its expanded copy")
	if got := unpack(); got != want || count("package read from its expanded copy") != hits+1 {
		t.Errorf("entropy-coded copy: unpacked %s (want %s), read from the copy: %v", got, want, count("package read from its expanded copy") == hits+1)
	}
	if b, err := os.ReadFile(entry); err != nil || !bytes.Equal(b, old.Bytes()) {
		t.Errorf("entropy-coded copy rewritten (%v)", err)
	}
}

// TestExpandedNotKeptForBadDeb: a .deb whose sha256 is not the index's
// leaves no expanded copy.
func TestExpandedNotKeptForBadDeb(t *testing.T) {
	deb := buildDeb(t, testDeb{name: "big", version: "1", files: []testFile{{path: "./usr/share/big", body: randomText(1000)}}})
	p := &Package{Name: "big", Version: "1", Architecture: "amd64", SHA256: strings.Repeat("ab", 32)}
	debFile, cache := debAndCache(t, "big", deb)
	c := New(cache)
	if _, err := c.unpack(debFile, p, newStager(t.TempDir(), "t", newMemBudget(1<<20))); err == nil {
		t.Fatal("a .deb with the wrong sha256 was unpacked")
	}
	if _, err := os.Stat(ExpandedNamespace(cache).Path(p.SHA256)); !os.IsNotExist(err) {
		t.Errorf("expanded copy of a bad .deb: %v", err)
	}
}

// TestExpandedNotKeptForTwoDataMembers: an entry holds one data.tar, so a
// .deb with two (which readDeb reads both of) is not kept expanded: its
// copy would lose the second.
func TestExpandedNotKeptForTwoDataMembers(t *testing.T) {
	deb := buildDeb(t, testDeb{name: "two", version: "1", files: []testFile{{path: "./usr/share/two", body: randomText(1000)}}})
	at := bytes.Index(deb, []byte("data.tar.xz"))
	if at < 0 {
		t.Fatal("no data.tar.xz member")
	}
	deb = append(deb, deb[at:]...) // the last member again
	sum := sha256.Sum256(deb)
	p := &Package{Name: "two", Version: "1", Architecture: "amd64", SHA256: hex.EncodeToString(sum[:])}
	debFile, cache := debAndCache(t, "two", deb)
	_, _ = New(cache).unpack(debFile, p, newStager(t.TempDir(), "t", newMemBudget(1<<20)))
	if _, err := os.Stat(ExpandedNamespace(cache).Path(p.SHA256)); !os.IsNotExist(err) {
		t.Errorf("expanded copy of a .deb with two data.tar members: %v", err)
	}
}

// debAndCache writes deb as NAME.deb in a directory of the test's own and
// opens an empty cache.
// bigDeb builds d (named big, version 1) into a cache of its own, and
// gives the cache, an unpack of it through a Cache logging to count (the
// digest of what it unpacked), the digest a plain unpack gives, and the
// path of its expanded copy.
func bigDeb(t *testing.T, d testDeb) (*layers.Cache, func() string, func(string) int, string, string) {
	t.Helper()
	deb := buildDeb(t, d)
	sum := sha256.Sum256(deb)
	p := &Package{Name: "big", Version: "1", Architecture: "amd64", SHA256: hex.EncodeToString(sum[:])}
	debFile, cache := debAndCache(t, "big", deb)
	log, count := countingLog()
	c := New(cache, WithLogger(log))
	unpack := func() string {
		t.Helper()
		dc, err := c.unpack(debFile, p, newStager(t.TempDir(), "t", newMemBudget(1<<20)))
		if err != nil {
			t.Fatal(err)
		}
		return contentsDigest(t, dc)
	}
	return cache, unpack, count, unpackDigest(t, deb, "big_1_amd64.deb"), ExpandedNamespace(cache).Path(p.SHA256)
}

func debAndCache(t *testing.T, name string, deb []byte) (string, *layers.Cache) {
	t.Helper()
	debFile := filepath.Join(t.TempDir(), name+".deb")
	if err := os.WriteFile(debFile, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return debFile, cache
}
