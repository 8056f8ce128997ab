package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/assemble-build/assemble/layers"
)

// downloadsHas reports whether the cache's download store holds content.
func downloadsHas(cache *layers.Cache, content []byte) bool {
	sum := sha256.Sum256(content)
	_, err := os.Stat(filepath.Join(cache.Dir(), "downloads", "sha256", hex.EncodeToString(sum[:])))
	return err == nil
}

func TestRefuseForgedInRelease(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	orig, err := os.ReadFile(filepath.Join(a.root, "dists/testing/InRelease"))
	if err != nil {
		t.Fatal(err)
	}
	// One byte of the signed text changed: the signature no longer matches.
	forged := bytes.Replace(orig, []byte("Origin: Test"), []byte("Origin: Tesu"), 1)
	if bytes.Equal(forged, orig) {
		t.Fatal("forgery did not change anything")
	}
	a.serve("/dists/testing/InRelease", forged)
	c, cache := testClient(t)
	_, err = c.Index(context.Background(), a.source("testing", "amd64"))
	if err == nil || !strings.Contains(err.Error(), "signature check") || !strings.Contains(err.Error(), "/dists/testing/InRelease") {
		t.Fatalf("forged InRelease: %v", err)
	}
	if downloadsHas(cache, forged) {
		t.Error("the forged InRelease was kept in the download store")
	}
	if _, ok := cache.Ref(a.url + "/dists/testing/InRelease"); ok {
		t.Error("a ref to the forged InRelease was recorded")
	}
	assertNothingLeft(t, c)

	// Signed by a key that is not in the keyring.
	other := newTestKey(t)
	var kr bytes.Buffer
	other.Serialize(&kr)
	otherRing := filepath.Join(t.TempDir(), "other.gpg")
	writeFile(t, otherRing, kr.Bytes())
	a.serve("/dists/testing/InRelease", orig)
	src := a.source("testing", "amd64")
	src.Keyring = otherRing
	if _, err := c.Index(context.Background(), src); err == nil || !strings.Contains(err.Error(), "no valid signature") {
		t.Errorf("wrong keyring: %v", err)
	}

	// A correctly signed Release of another suite is refused in its place.
	if _, err := c.Index(context.Background(), Source{Mirror: a.url, Suites: []string{"testing"}, Arch: "amd64", Keyring: a.keyring}); err != nil {
		t.Fatalf("genuine InRelease refused: %v", err)
	}
	a.serve("/dists/stable/InRelease", orig)
	if _, err := c.Index(context.Background(), a.source("stable", "amd64")); err == nil || !strings.Contains(err.Error(), `not "stable"`) {
		t.Errorf("InRelease of another suite: %v", err)
	}
}

func TestReleaseAndDetachedSignature(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	rel, err := os.ReadFile(filepath.Join(a.root, "dists/testing/Release"))
	if err != nil {
		t.Fatal(err)
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, a.entity, bytes.NewReader(rel), nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(a.root, "dists/testing/Release.gpg"), sig.Bytes())
	os.Remove(filepath.Join(a.root, "dists/testing/InRelease"))
	c, cache := testClient(t)
	ix, err := c.Index(context.Background(), a.source("testing", "amd64"))
	if err != nil {
		t.Fatalf("Release + Release.gpg: %v", err)
	}
	if len(ix.Versions("app")) != 1 {
		t.Error("app not indexed")
	}
	// Offline, the cached Release + Release.gpg are enough.
	if _, err := New(cache, WithOffline(true)).Index(context.Background(), a.source("testing", "amd64")); err != nil {
		t.Errorf("offline with cached Release: %v", err)
	}
	// A Release changed after signing is refused.
	writeFile(t, filepath.Join(a.root, "dists/testing/Release"), append(rel, "X-Extra: 1\n"...))
	c2, _ := testClient(t)
	if _, err := c2.Index(context.Background(), a.source("testing", "amd64")); err == nil || !strings.Contains(err.Error(), "signature check") {
		t.Errorf("tampered Release: %v", err)
	}
	assertNothingLeft(t, c2)
}

func TestRefuseTamperedPackagesIndex(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	p := filepath.Join(a.root, "dists/testing/main/binary-amd64/Packages.gz")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	writeFile(t, p, b)
	c, cache := testClient(t)
	_, err := c.Index(context.Background(), a.source("testing", "amd64"))
	if err == nil || !errors.Is(err, layers.ErrDigestMismatch) {
		t.Fatalf("tampered Packages.gz: %v", err)
	}
	if downloadsHas(cache, b) {
		t.Error("the tampered index was kept")
	}
	assertNothingLeft(t, c)
}

func TestRefuseBadDeb(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, cache := testClient(t)
	ctx := context.Background()
	ix, err := c.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]Request{{Name: "app"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The mirror serves another package's bytes for app's .deb.
	wrong, _ := os.ReadFile(filepath.Join(a.root, "pool/main/tool_3.1_amd64.deb"))
	a.serve("/pool/main/app_1.0_amd64.deb", wrong)
	err = c.Fetch(ctx, pkgs)
	if err == nil || !errors.Is(err, layers.ErrDigestMismatch) || !strings.Contains(err.Error(), "app") {
		t.Fatalf("wrong .deb: %v", err)
	}
	// Truncated in transit: the same refusal.
	good, _ := os.ReadFile(filepath.Join(a.root, "pool/main/app_1.0_amd64.deb"))
	a.serve("/pool/main/app_1.0_amd64.deb", good[:len(good)/2])
	if err := c.Fetch(ctx, pkgs); err == nil || !errors.Is(err, layers.ErrDigestMismatch) {
		t.Fatalf("truncated .deb: %v", err)
	}
	if downloadsHas(cache, good[:len(good)/2]) {
		t.Error("the truncated .deb was kept")
	}
	// Layers over it fail the same way, leaving nothing behind.
	specs, err := c.Layers(ctx, pkgs, WithLayerBudget(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := specs[0].Entries(ctx); err == nil || !errors.Is(err, layers.ErrDigestMismatch) {
		t.Errorf("entries over a bad .deb: %v", err)
	}
	assertNothingLeft(t, c)
}

// localDebs writes debs into a directory and returns a client and index for it.
func localIndex(t *testing.T, debs ...testDeb) (*Client, *Index, string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range debs {
		if d.arch == "" {
			d.arch = "amd64"
		}
		writeFile(t, filepath.Join(dir, d.filename()), buildDeb(t, d))
	}
	c, _ := testClient(t)
	ix, err := c.Index(context.Background(), Source{LocalDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return c, ix, dir
}

// unpackErr resolves name and writes its layer, returning the error.
func unpackErr(t *testing.T, c *Client, ix *Index, name string) error {
	t.Helper()
	ctx := context.Background()
	pkgs, err := ix.Resolve([]Request{{Name: name, Where: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs, WithLayerBudget(1))
	if err != nil {
		t.Fatal(err)
	}
	es, err := specs[0].Entries(ctx)
	if err == nil {
		// Consume the entries so staged files are removed, then report.
		extractEntries(es, t.TempDir())
	}
	return err
}

func TestRefuseTruncatedLocalDeb(t *testing.T) {
	c, _, dir := localIndex(t, testDeb{name: "big", version: "1", files: []testFile{{path: "./usr/share/big", body: strings.Repeat("0123456789", 20000)}}, compression: "gz"})
	p := filepath.Join(dir, "big_1_amd64.deb")
	b, _ := os.ReadFile(p)
	// Cut inside data.tar: the control part is still readable, so the
	// package indexes, but unpacking must fail.
	writeFile(t, p, b[:len(b)-200])
	// Rescan so the index holds the truncated file's hash (a local
	// directory is trusted as it is).
	ix, err := c.Index(context.Background(), Source{LocalDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	err = unpackErr(t, c, ix, "big")
	if err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), "big") {
		t.Fatalf("truncated .deb: %v", err)
	}
	assertNothingLeft(t, c)
}

func TestRefuseUnsafeDataPaths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []testFile
		want  string
	}{
		{"dotdot", []testFile{{path: "./usr/../../etc/evil", body: "x"}}, `leaves the image root`},
		{"dotdot-symlink-parent", []testFile{{path: "../evil", body: "x"}}, `leaves the image root`},
		{"absolute", []testFile{{path: "/etc/evil", body: "x"}}, `refusing absolute path`},
		{"through-symlink", []testFile{{path: "./usr/lib/escape", typ: tar.TypeSymlink, link: "/etc"}, {path: "./usr/lib/escape/passwd", body: "root::0:0::/:/bin/sh\n"}}, "refusing to write through a symlink"},
		{"hardlink-outside", []testFile{{path: "./usr/bin/x", typ: tar.TypeLink, link: "../../etc/shadow"}}, "bad target"},
		{"device", []testFile{{path: "./dev/evil", typ: tar.TypeChar}}, "character device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ix, _ := localIndex(t, testDeb{name: "evil", version: "1", files: append([]testFile{{path: "./usr/share/doc/evil/ok", body: "fine"}}, tc.files...)})
			err := unpackErr(t, c, ix, "evil")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "evil") {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			assertNothingLeft(t, c)
		})
	}
}

func TestRefuseConflictingPaths(t *testing.T) {
	c, ix, _ := localIndex(t,
		testDeb{name: "one", version: "1", files: []testFile{{path: "./usr/share/thing/", typ: tar.TypeDir}}},
		testDeb{name: "two", version: "1", fields: "Depends: one\n", files: []testFile{{path: "./usr/share/thing", body: "file"}}},
	)
	err := unpackErr(t, c, ix, "two")
	if err == nil || !strings.Contains(err.Error(), "/usr/share/thing is a dir in one but a file in two") {
		t.Fatalf("dir/file clash: %v", err)
	}
	assertNothingLeft(t, c)
}
