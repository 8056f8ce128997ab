package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/layers"
)

// unpackUniverse has packages whose files are on both sides of the
// in-memory limit (maxMemFile): hard links to each kind, conffiles of each
// kind, and a file a later package overwrites.
func unpackUniverse() []testDeb {
	big := func(seed string) string { return strings.Repeat(seed+" 0123456789abcdef\n", 8000) } // > 64 KiB
	debs := []testDeb{
		{name: "base-a", version: "1", compression: "xz", files: []testFile{
			{path: "./usr/lib/big.so", body: big("a"), mode: 0o755},
			{path: "./usr/lib/big-link.so", typ: tar.TypeLink, link: "./usr/lib/big.so"},
			{path: "./usr/lib/small.so", body: "small a"},
			{path: "./usr/lib/small-link.so", typ: tar.TypeLink, link: "./usr/lib/small.so"},
			{path: "./usr/share/shared", body: "from base-a"},
			{path: "./usr/share/shared-big", body: big("shared a")},
			{path: "./usr/share/empty", body: ""},
			{path: "./usr/bin/suid", body: "suid", mode: 0o4755},
			{path: "./etc/a-small.conf", body: "x=1\n"},
			{path: "./etc/a-big.conf", body: big("conf")},
			{path: "./usr/share/a-sym", typ: tar.TypeSymlink, link: "../lib/small.so"},
		}, ctl: map[string]string{"conffiles": "/etc/a-small.conf\n/etc/a-big.conf\n"}},
		{name: "base-b", version: "1", fields: "Depends: base-a\n", compression: "gz", files: []testFile{
			{path: "./usr/share/shared", body: big("from base-b")},
			{path: "./usr/share/shared-big", body: "small now"},
			{path: "./usr/share/b", body: "b"},
		}},
		{name: "top", version: "1", fields: "Depends: base-b, mid-1, mid-2, mid-3\n", compression: "zst", files: []testFile{
			{path: "./usr/bin/top", body: "top", mode: 0o755},
		}},
	}
	for i := 1; i <= 3; i++ {
		var files []testFile
		for j := 0; j < 40; j++ {
			files = append(files, testFile{path: fmt.Sprintf("./usr/share/mid-%d/f%02d", i, j), body: strings.Repeat(fmt.Sprintf("mid %d file %d\n", i, j), 1+j*200)})
		}
		debs = append(debs, testDeb{name: fmt.Sprintf("mid-%d", i), version: "1", fields: "Depends: base-a\n", files: files})
	}
	return debs
}

// layerTar writes the layers the client builds for name and returns their
// tar streams' digests.
func layerTar(t *testing.T, c *Client, dir, name string) []string {
	t.Helper()
	ctx := context.Background()
	ix, err := c.Index(ctx, Source{LocalDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]Request{{Name: name, Where: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs, WithLayerBudget(2))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range specs {
		es, err := s.Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if err := layers.WriteTar(h, es, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%x", h.Sum(nil)))
	}
	assertNothingLeft(t, c)
	return out
}

// TestUnpackMemoryAndWorkers checks that neither the number of unpacking
// goroutines nor which files are kept in memory changes a byte of the
// layers, and that the contents are right either way.
func TestUnpackMemoryAndWorkers(t *testing.T) {
	dir := t.TempDir()
	for _, d := range unpackUniverse() {
		d.arch = "amd64"
		writeFile(t, filepath.Join(dir, d.filename()), buildDeb(t, d))
	}
	var want []string
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"serial-disk", []Option{WithUnpackWorkers(1), WithUnpackMemory(0)}},
		{"serial-memory", []Option{WithUnpackWorkers(1)}},
		{"parallel-memory", []Option{WithUnpackWorkers(4)}},
		{"parallel-mixed", []Option{WithUnpackWorkers(3), WithUnpackMemory(20 << 10)}},
		{"default", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := testClient(t, tc.opts...)
			got := layerTar(t, c, dir, "top")
			if len(got) != 2 {
				t.Fatalf("%d layers, want 2", len(got))
			}
			if want == nil {
				want = got
			} else if got[0] != want[0] || got[1] != want[1] {
				t.Errorf("layer digests %v, want %v (as with %s)", got, want, "serial-disk")
			}

			// The contents, through the lead's tar writer and GNU tar.
			c, _ = testClient(t, tc.opts...)
			ix, err := c.Index(context.Background(), Source{LocalDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := ix.Resolve([]Request{{Name: "top", Where: "test"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			specs, err := c.Layers(context.Background(), pkgs, WithLayerBudget(2))
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			extractViaTar(t, specs, root)
			assertNothingLeft(t, c)
			big := func(seed string) string { return strings.Repeat(seed+" 0123456789abcdef\n", 8000) }
			for p, want := range map[string]string{
				"usr/lib/big.so":             big("a"),
				"usr/lib/big-link.so":        big("a"),
				"usr/lib/small-link.so":      "small a",
				"usr/share/a-sym":            "small a",
				"usr/share/shared":           big("from base-b"),
				"usr/share/shared-big":       "small now",
				"usr/share/empty":            "",
				"usr/share/mid-2/f39":        strings.Repeat("mid 2 file 39\n", 1+39*200),
				"usr/share/mid-3/f00":        "mid 3 file 0\n",
				"etc/a-big.conf":             big("conf"),
				"var/lib/dpkg/info/top.list": "/.\n/usr\n/usr/bin\n/usr/bin/top\n",
			} {
				b, err := os.ReadFile(filepath.Join(root, p))
				if err != nil || string(b) != want {
					t.Errorf("%s: %d bytes (%v), want %d bytes", p, len(b), err, len(want))
				}
			}
			for _, l := range [][2]string{{"usr/lib/big.so", "usr/lib/big-link.so"}, {"usr/lib/small.so", "usr/lib/small-link.so"}} {
				a, err1 := os.Stat(filepath.Join(root, l[0]))
				b, err2 := os.Stat(filepath.Join(root, l[1]))
				if err1 != nil || err2 != nil || !os.SameFile(a, b) {
					t.Errorf("%s is not a hard link to %s (%v %v)", l[1], l[0], err1, err2)
				}
			}
			if fi, err := os.Stat(filepath.Join(root, "usr/bin/suid")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
				t.Errorf("usr/bin/suid lost its setuid bit (%v)", err)
			}
			status, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
			if err != nil {
				t.Fatal(err)
			}
			conf := fmt.Sprintf("Conffiles:\n /etc/a-small.conf %x\n /etc/a-big.conf %x\n", md5.Sum([]byte("x=1\n")), md5.Sum([]byte(big("conf"))))
			if !bytes.Contains(status, []byte(conf)) {
				t.Errorf("status lacks %q", conf)
			}
		})
	}
}

// TestUnpackErrorOrder checks that when several packages of a layer are
// bad, the error is the first one's in install order, however the
// goroutines unpacking them are scheduled (the larger, later package is
// started first).
func TestUnpackErrorOrder(t *testing.T) {
	c, ix, _ := localIndex(t,
		testDeb{name: "bad-a", version: "1", files: []testFile{{path: "./dev/evil", typ: tar.TypeChar}}},
		testDeb{name: "bad-b", version: "1", fields: "Depends: bad-a\n", files: []testFile{
			{path: "./usr/share/big", body: strings.Repeat("0123456789", 50000)},
			{path: "/etc/evil", body: "x"},
		}},
		testDeb{name: "bad-c", version: "1", fields: "Depends: bad-b\n", files: []testFile{{path: "./usr/../../evil", body: "x"}}},
	)
	for i := 0; i < 5; i++ {
		err := unpackErr(t, c, ix, "bad-c")
		if err == nil || !strings.Contains(err.Error(), "bad-a") || !strings.Contains(err.Error(), "character device") {
			t.Fatalf("got %v, want bad-a's character device", err)
		}
		assertNothingLeft(t, c)
	}
}
