package layers

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
)

func fileEntry(path, content string) Entry {
	return Entry{Path: path, Type: TypeFile, Mode: 0o644, Size: int64(len(content)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

type hdr struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	mtime      int64
	uname      string
}

func readTar(t *testing.T, b []byte) []hdr {
	t.Helper()
	var out []hdr
	testtool.EachTarEntry(t, bytes.NewReader(b), func(h *tar.Header, _ io.Reader) {
		out = append(out, hdr{h.Name, h.Linkname, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.Unix(), h.Uname + h.Gname})
	})
	return out
}

func TestWriteTarSortsAddsParentsAndNormalises(t *testing.T) {
	entries := []Entry{
		fileEntry("/usr/bin/tool", "x"),
		{Path: "./etc/link", Type: TypeSymlink, Link: "../usr/bin/tool", Mode: 0o600},
		fileEntry("a.txt", "hello"),
		{Path: "usr/share/gone", Type: TypeWhiteout},
		{Path: "var/opaque", Type: TypeOpaque},
		{Path: "var/opaque", Type: TypeDir, Mode: 0o700},
	}
	var buf bytes.Buffer
	if err := WriteTar(&buf, entries, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	got := readTar(t, buf.Bytes())
	var names []string
	for _, h := range got {
		names = append(names, h.name)
		if h.mtime != 1700000000 {
			t.Errorf("%s: mtime %d, want the fixed time", h.name, h.mtime)
		}
		if h.uname != "" {
			t.Errorf("%s: has user/group names %q", h.name, h.uname)
		}
	}
	want := []string{"a.txt", "etc/", "etc/link", "usr/", "usr/bin/", "usr/bin/tool", "usr/share/", "usr/share/.wh.gone", "var/", "var/opaque/", "var/opaque/.wh..wh..opq"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("entries:\n got %v\nwant %v", names, want)
	}
	for _, h := range got {
		if h.name == "etc/link" && (h.typ != tar.TypeSymlink || h.link != "../usr/bin/tool" || h.mode != 0o777) {
			t.Errorf("symlink kept wrong: %+v", h)
		}
		if h.name == "var/opaque/" && h.mode != 0o700 {
			t.Errorf("explicit directory mode lost: %o", h.mode)
		}
		if h.name == "usr/" && h.mode != 0o755 {
			t.Errorf("synthesised parent mode %o, want 755", h.mode)
		}
	}
}

func TestWriteTarIsDeterministicWhateverTheInputOrder(t *testing.T) {
	a := []Entry{fileEntry("b", "2"), fileEntry("a/x", "1"), {Path: "c", Type: TypeSymlink, Link: "b"}}
	b := []Entry{a[2], a[0], a[1]}
	var x, y bytes.Buffer
	if err := WriteTar(&x, a, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := WriteTar(&y, b, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Fatal("same entries in another order gave different bytes")
	}
}

func TestWriteTarHardlinkTargetComesFirst(t *testing.T) {
	// The content sits on "z" but "a" sorts first: a tar reader needs the
	// target before the link, so roles are swapped.
	entries := []Entry{fileEntry("z", "data"), {Path: "a", Type: TypeHardlink, Link: "z"}, {Path: "m", Type: TypeHardlink, Link: "z"}}
	var buf bytes.Buffer
	if err := WriteTar(&buf, entries, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got := readTar(t, buf.Bytes())
	if got[0].name != "a" || got[0].typ != tar.TypeReg {
		t.Fatalf("first entry %+v, want regular file a", got[0])
	}
	for _, h := range got[1:] {
		if h.typ != tar.TypeLink || h.link != "a" {
			t.Errorf("%s: %+v, want a hard link to a", h.name, h)
		}
	}
}

func TestWriteTarRefusesBadEntries(t *testing.T) {
	cases := map[string][]Entry{
		"leaves the image root":  {fileEntry("../etc/passwd", "x")},
		"appears twice":          {fileEntry("a", "x"), fileEntry("a", "y")},
		"not in the layer":       {{Path: "a", Type: TypeHardlink, Link: "missing"}},
		"reserved for whiteouts": {fileEntry("dir/.wh.sneaky", "")},
		"is below it":            {fileEntry("a", "x"), fileEntry("a/b", "y")},
		"changed while it was read": {{Path: "short", Type: TypeFile, Size: 10,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil }}},
	}
	for want, entries := range cases {
		err := WriteTar(io.Discard, entries, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got error %v", want, err)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"/usr/bin": "usr/bin", "./a//b/": "a/b", "/": "", "a/./b": "a/b"} {
		got, err := CleanPath(in)
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"../x", "a/../../x", "a/..", "a\x00b"} {
		if _, err := CleanPath(bad); err == nil {
			t.Errorf("CleanPath(%q) accepted", bad)
		}
	}
}

// Archives that are not layers choose their order and names; a .wh. name
// is then an ordinary file.
func TestWriteTarArchiveOptions(t *testing.T) {
	entries := func() []Entry {
		return []Entry{fileEntry("a.txt", "1"), fileEntry("a/x", "2"), fileEntry("a!", "3"), fileEntry("b/.wh.odd", "4")}
	}
	for _, tc := range []struct {
		opts []TarOption
		want string
	}{
		{[]TarOption{AsArchive()}, "a/ a! a.txt a/x b/ b/.wh.odd"},
		{[]TarOption{AsArchive(), WithNameOrder()}, "a! a.txt a/ a/x b/ b/.wh.odd"},
		{[]TarOption{AsArchive(), WithTreeOrder(), WithNamePrefix("./")}, "./a/ ./a/x ./a! ./a.txt ./b/ ./b/.wh.odd"},
	} {
		var buf bytes.Buffer
		if err := WriteTar(&buf, entries(), time.Unix(0, 0), tc.opts...); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range readTar(t, buf.Bytes()) {
			names = append(names, h.name)
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	if err := WriteTar(io.Discard, []Entry{fileEntry("b/.wh.odd", "4")}, time.Unix(0, 0)); err == nil {
		t.Error("a layer took a .wh. name")
	}
	if err := WriteTar(io.Discard, []Entry{{Path: "x", Type: TypeWhiteout}}, time.Unix(0, 0), AsArchive()); err == nil {
		t.Error("an archive took a whiteout")
	}
}
