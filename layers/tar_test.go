package layers

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
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

// TestCleanPathFastPath: a path taken as clean as it is is exactly what
// cleaning it gives, and every other path is cleaned (or refused) as before.
func TestCleanPathFastPath(t *testing.T) {
	slow := func(p string) (string, bool) {
		if strings.ContainsRune(p, 0) {
			return "", false
		}
		for _, part := range strings.Split(strings.ReplaceAll(p, "\\", "/"), "/") {
			if part == ".." {
				return "", false
			}
		}
		return strings.TrimPrefix(path.Clean("/"+p), "/"), true
	}
	parts := []string{"a", ".", "..", "", ".a", "a.", "..a", "a..", ".wh..wh..opq", "a\\b", "\x00", "é"}
	var paths []string
	for _, a := range parts {
		paths = append(paths, a, "/"+a, a+"/")
		for _, b := range parts {
			paths = append(paths, a+"/"+b, a+"//"+b, "./"+a+"/"+b)
			for _, c := range parts {
				paths = append(paths, a+"/"+b+"/"+c)
			}
		}
	}
	fast := 0
	for _, p := range paths {
		want, ok := slow(p)
		got, err := CleanPath(p)
		if ok != (err == nil) || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q (ok %v)", p, got, err, want, ok)
		}
		if isCleanPath(p) {
			fast++
			if want != p {
				t.Errorf("isCleanPath(%q) but it cleans to %q", p, want)
			}
		}
	}
	if fast == 0 {
		t.Fatal("no path took the fast path")
	}
}

// TestOrdersAgreeWithTheirDefinitions: the stream orders, compared without
// building names, agree with their definitions on every pair of a set of
// paths chosen to share prefixes: a directory's name is its path and "/",
// and tree order is path order with "/" below every other byte.
func TestOrdersAgreeWithTheirDefinitions(t *testing.T) {
	var es []Entry
	for _, p := range []string{"a", "a!", "a.txt", "a/x", "a/x/y", "a/x.y", "ab", "a/", "b"} {
		p = strings.TrimSuffix(p, "/")
		es = append(es, Entry{Path: p, Type: TypeFile}, Entry{Path: p, Type: TypeDir})
	}
	name := func(e *Entry) string {
		if e.Type == TypeDir {
			return e.Path + "/"
		}
		return e.Path
	}
	tree := func(s string) string { return strings.ReplaceAll(s, "/", "\x00") }
	var byName, byTree tarConfig
	WithNameOrder()(&byName)
	WithTreeOrder()(&byTree)
	for i := range es {
		for j := range es {
			a, b := &es[i], &es[j]
			if got, want := byName.cmp(a, b), strings.Compare(name(a), name(b)); got != want {
				t.Errorf("name order of %q, %q: %d, want %d", name(a), name(b), got, want)
			}
			if got, want := byTree.cmp(a, b), strings.Compare(tree(a.Path), tree(b.Path)); got != want {
				t.Errorf("tree order of %q, %q: %d, want %d", a.Path, b.Path, got, want)
			}
		}
	}
}

// TestTarReaderAnyReadSize: the stream is the same bytes whatever the size
// of the reads that take it, headers, long names and PAX records split
// across reads included, and the same as WriteTar writes.
func TestTarReaderAnyReadSize(t *testing.T) {
	long := strings.Repeat("d/", 80) + "file"
	entries := func() []Entry {
		return []Entry{
			fileEntry("a.txt", "hello"),
			fileEntry(long, strings.Repeat("x", 3000)),
			fileEntry("big", strings.Repeat("0123456789", 10000)),
			fileEntry("empty", ""),
			{Path: "cap", Type: TypeFile, Mode: 0o755, Size: 1, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("c")), nil },
				Xattrs: map[string]string{"security.capability": strings.Repeat("\x01", 20)}},
			{Path: "l", Type: TypeSymlink, Link: long},
		}
	}
	var want bytes.Buffer
	if err := WriteTar(&want, entries(), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	// The long name needs records before its header, as the capability does.
	var names []string
	for _, h := range readTar(t, want.Bytes()) {
		names = append(names, h.name)
	}
	if !slices.Contains(names, long) || !bytes.Contains(want.Bytes(), []byte("SCHILY.xattr.security.capability")) {
		t.Fatalf("the stream has no long name or no PAX record: %q", names)
	}
	for _, size := range []int{1, 7, 511, 512, 513, 4096, 1 << 20} {
		tr, err := NewTarReader(entries(), time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		buf := make([]byte, size)
		for {
			n, err := tr.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read size %d: %v", size, err)
			}
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("read size %d: %d bytes differ from WriteTar's %d", size, got.Len(), want.Len())
		}
	}
}

// TestTarReaderErrors: a file that shrank, or cannot be opened, stops the
// stream with its name; Close closes a file abandoned part way.
func TestTarReaderErrors(t *testing.T) {
	shrunk := Entry{Path: "shrunk", Type: TypeFile, Mode: 0o644, Size: 10,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("short")), nil }}
	gone := Entry{Path: "gone", Type: TypeFile, Mode: 0o644, Size: 1,
		Open: func() (io.ReadCloser, error) { return nil, fs.ErrNotExist }}
	for _, tc := range []struct {
		e    Entry
		want string
	}{
		{shrunk, "shrunk changed while it was read: expected 10 bytes, got 5"},
		{gone, "opening gone: file does not exist"},
	} {
		err := WriteTar(io.Discard, []Entry{tc.e}, time.Unix(0, 0))
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
	closed := false
	big := Entry{Path: "big", Type: TypeFile, Mode: 0o644, Size: 1 << 20, Open: func() (io.ReadCloser, error) {
		return closeFunc{Reader: bytes.NewReader(make([]byte, 1<<20)), close: func() { closed = true }}, nil
	}}
	tr, err := NewTarReader([]Entry{big}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Read(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if !closed {
		t.Error("Close left the file being read open")
	}
	if _, err := tr.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close")
	}
}

type closeFunc struct {
	io.Reader
	close func()
}

func (c closeFunc) Close() error { c.close(); return nil }
