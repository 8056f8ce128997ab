package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// tfEntry is one tar entry of a test layer.
type tfEntry struct {
	name string
	typ  byte
	mode int64
	link string
	body string
	uid  int
}

func tfFile(name, body string) tfEntry {
	return tfEntry{name: name, typ: tar.TypeReg, mode: 0o644, body: body}
}
func tfDir(name string) tfEntry { return tfEntry{name: name, typ: tar.TypeDir, mode: 0o755} }
func tfSymlink(name, target string) tfEntry {
	return tfEntry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func tfHardlink(name, target string) tfEntry {
	return tfEntry{name: name, typ: tar.TypeLink, link: target}
}
func tfWhiteout(name string) tfEntry {
	i := strings.LastIndex(name, "/") + 1
	return tfFile(name[:i]+".wh."+name[i:], "")
}

func tfLayer(t *testing.T, entries ...tfEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), Uid: e.uid, ModTime: time.Unix(1700000000, 0)}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && hdr.Size > 0 {
			t.Fatal(err)
		}
	}
	return testtool.TarLayer(t, tw, &buf)
}

func tfImage(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var tfBigBody = strings.Repeat("0123456789abcdef", 128<<10) // 2 MiB

func tfTestImage(t *testing.T) v1.Image {
	return tfImage(t,
		tfLayer(t,
			tfDir("etc/"),
			tfFile("etc/os-release", "ID=imagetest\n"),
			tfFile("etc/motd", "old\n"),
			tfDir("usr/"), tfDir("usr/bin/"), tfDir("usr/lib/"), tfDir("usr/local/bin/"), tfDir("usr/share/"),
			tfFile("usr/bin/python3.11", "python"),
			tfSymlink("usr/bin/python3", "python3.11"),
			tfSymlink("usr/local/bin/py", "/usr/bin/python3"),
			tfSymlink("usr/share/escape", "../../../../../etc/os-release"),
			tfSymlink("usr/share/abs-escape", "/../../etc/os-release"),
			tfFile("usr/bin/old", "old binary"),
			tfHardlink("usr/bin/oldlink", "usr/bin/old"),
			tfSymlink("usr/bin/oldsym", "old"),
			tfSymlink("lib", "usr/lib"),
			tfFile("usr/lib/libc.so.6", "libc"),
			tfSymlink("loop1", "loop2"),
			tfSymlink("loop2", "/loop1"),
			tfSymlink("self", "./self/x"),
			tfDir("opt/"), tfFile("opt/a", "a"), tfDir("opt/sub/"), tfFile("opt/sub/b", "b"),
			tfDir("d2/"), tfFile("d2/child", "c"),
			tfDir("var/"), tfDir("var/lib/"), tfFile("var/lib/state", "s"),
			tfDir("srv/"), tfFile("srv/x", "x"),
			tfFile("big", tfBigBody),
			tfEntry{name: "etc/shadow", typ: tar.TypeReg, mode: 0o4640, body: "root:*:", uid: 42},
		),
		tfLayer(t,
			tfWhiteout("usr/bin/old"),
			tfFile("opt/z", "z"), // before the marker in the stream: it still survives
			tfFile("opt/.wh..wh..opq", ""),
			tfFile("etc/motd", "new\n"),
			tfFile("d2", "now a file"),
			tfDir("lib/x86_64/"),
			tfFile("lib/x86_64/libm.so.6", "libm"),
			tfWhiteout("var/lib"),
			tfSymlink("srv", "opt"),
		),
	)
}

func TestFSFlatten(t *testing.T) {
	fsys, err := FS(tfTestImage(t))
	if err != nil {
		t.Fatal(err)
	}
	checkFlattenLinks(t, fsys)
	checkFlattenWhiteouts(t, fsys)
	checkFlattenParents(t, fsys)
	checkFlattenMetadata(t, fsys)
}

// tfRead reads name from fsys, failing the test if it cannot.
func tfRead(t *testing.T, fsys *ImageFS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(b)
}

// tfNotExist checks that name is not in fsys.
func tfNotExist(t *testing.T, fsys *ImageFS, name string) {
	t.Helper()
	if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("stat %s: %v, want not found", name, err)
	}
}

// checkFlattenLinks checks replaced files and link resolution in the
// flattened tfTestImage.
func checkFlattenLinks(t *testing.T, fsys *ImageFS) {
	t.Helper()
	// A later layer's file replaces the earlier one.
	if got := tfRead(t, fsys, "etc/motd"); got != "new\n" {
		t.Errorf("etc/motd = %q, want the second layer's", got)
	}
	// Relative and absolute links resolve inside the image.
	if got := tfRead(t, fsys, "usr/bin/python3"); got != "python" {
		t.Errorf("usr/bin/python3 = %q", got)
	}
	if got := tfRead(t, fsys, "usr/local/bin/py"); got != "python" {
		t.Errorf("usr/local/bin/py = %q", got)
	}
	if p, err := fsys.Resolve("usr/local/bin/py"); err != nil || p != "usr/bin/python3.11" {
		t.Errorf("Resolve(usr/local/bin/py) = %q, %v", p, err)
	}
	// ".." cannot climb above the root; the image's file is read, not the host's.
	for _, name := range []string{"usr/share/escape", "usr/share/abs-escape"} {
		if got := tfRead(t, fsys, name); got != "ID=imagetest\n" {
			t.Errorf("%s = %q, want the image's etc/os-release", name, got)
		}
	}
}

// checkFlattenWhiteouts checks whiteouts, opaque directories and replaced
// directories in the flattened tfTestImage.
func checkFlattenWhiteouts(t *testing.T, fsys *ImageFS) {
	t.Helper()
	// Whiteout: the file goes, a hard link to it keeps the content, a
	// symbolic link to it dangles.
	tfNotExist(t, fsys, "usr/bin/old")
	if got := tfRead(t, fsys, "usr/bin/oldlink"); got != "old binary" {
		t.Errorf("hard link after whiteout of its target = %q", got)
	}
	tfNotExist(t, fsys, "usr/bin/oldsym")
	if l, err := fsys.ReadLink("usr/bin/oldsym"); err != nil || l != "old" {
		t.Errorf("ReadLink(usr/bin/oldsym) = %q, %v", l, err)
	}
	if fi, err := fsys.Lstat("usr/bin/oldsym"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat(usr/bin/oldsym) = %v, %v", fi, err)
	}
	// Opaque directory: the lower contents go, the same layer's stay.
	ents, err := fsys.ReadDir("opt")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "z" {
		t.Errorf("opt after opaque marker = %v, want [z]", ents)
	}
	tfNotExist(t, fsys, "opt/sub/b")
	// A directory replaced by a file loses its children.
	if got := tfRead(t, fsys, "d2"); got != "now a file" {
		t.Errorf("d2 = %q", got)
	}
	tfNotExist(t, fsys, "d2/child")
	// A whited-out directory goes with everything below it.
	tfNotExist(t, fsys, "var/lib")
	tfNotExist(t, fsys, "var/lib/state")
	if _, err := fsys.Stat("var"); err != nil {
		t.Errorf("var should remain: %v", err)
	}
}

// checkFlattenParents checks symlinked parents and link loops in the
// flattened tfTestImage.
func checkFlattenParents(t *testing.T, fsys *ImageFS) {
	t.Helper()
	// An entry under a symlinked parent lands in the link's target (usr-merge).
	if got := tfRead(t, fsys, "usr/lib/x86_64/libm.so.6"); got != "libm" {
		t.Errorf("usr/lib/x86_64/libm.so.6 = %q", got)
	}
	if got := tfRead(t, fsys, "lib/x86_64/libm.so.6"); got != "libm" {
		t.Errorf("lib/x86_64/libm.so.6 = %q", got)
	}
	if fi, err := fsys.Lstat("lib"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("lib should stay a symlink: %v, %v", fi, err)
	}
	// A directory replaced by a symlink: listing follows it.
	ents, err := fsys.ReadDir("srv")
	if err != nil || len(ents) != 1 || ents[0].Name() != "z" {
		t.Errorf("ReadDir(srv -> opt) = %v, %v", ents, err)
	}
	// Loops are errors, not hangs.
	for _, name := range []string{"loop1", "self", "loop2/x"} {
		if _, err := fs.ReadFile(fsys, name); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("reading %s: %v, want ELOOP", name, err)
		}
	}
}

// checkFlattenMetadata checks modes, owners and a large file in the
// flattened tfTestImage.
func checkFlattenMetadata(t *testing.T, fsys *ImageFS) {
	t.Helper()
	fi, err := fsys.Stat("etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != fs.ModeSetuid|0o640 || fi.Sys().(*tar.Header).Uid != 42 {
		t.Errorf("etc/shadow: mode %v owner %d", fi.Mode(), fi.Sys().(*tar.Header).Uid)
	}
	if got := tfRead(t, fsys, "big"); got != tfBigBody {
		t.Errorf("big file: %d bytes, want %d", len(got), len(tfBigBody))
	}
}

// TestFSReadAgain reads files that were not kept in memory, streaming their
// layer a second time.
func TestFSReadAgain(t *testing.T) {
	fsys, err := FS(tfTestImage(t), WithInMemoryFileSize(4))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"big": tfBigBody, "etc/os-release": "ID=imagetest\n", "usr/bin/oldlink": "old binary", "etc/motd": "new\n", "opt/z": "z"} {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(b) != want {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(b), err, len(want))
		}
	}
	// Nothing kept at all still works through a small budget.
	fsys, err = FS(tfTestImage(t), WithMemoryBudget(10))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fsys.ReadFile("big"); err != nil || string(b) != tfBigBody {
		t.Errorf("big with a small budget: %d bytes, %v", len(b), err)
	}
}

func TestFSConformance(t *testing.T) {
	img := tfImage(t,
		tfLayer(t, tfDir("etc/"), tfFile("etc/os-release", "ID=x\n"), tfDir("usr/"), tfDir("usr/bin/"),
			tfFile("usr/bin/python3.11", "py"), tfSymlink("usr/bin/python3", "python3.11"), tfFile("gone", "g")),
		tfLayer(t, tfWhiteout("gone"), tfDir("var/lib/dpkg/"), tfFile("var/lib/dpkg/status", "Package: x\n")),
	)
	fsys, err := FS(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "etc/os-release", "usr/bin/python3.11", "usr/bin/python3", "var/lib/dpkg/status"); err != nil {
		t.Fatal(err)
	}
}

func TestFSRejectsEscapes(t *testing.T) {
	for _, e := range []tfEntry{
		tfFile("../evil", "x"),
		tfFile("a/../../evil", "x"),
		tfFile("/etc/passwd", "x"),
		tfHardlink("hl", "../../etc/passwd"),
		tfHardlink("hl", "missing"),
	} {
		_, err := FS(tfImage(t, tfLayer(t, e)))
		if err == nil {
			t.Errorf("entry %s -> %s: no error", e.name, e.link)
		}
	}
	// Nothing in the host root leaks through a link.
	host, err := os.ReadFile("/etc/hostname")
	if err != nil {
		t.Skip("no /etc/hostname on this host")
	}
	fsys, err := FS(tfImage(t, tfLayer(t, tfSymlink("h", "/etc/hostname"), tfSymlink("up", "../../../etc/hostname"))))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"h", "up"} {
		if b, err := fs.ReadFile(fsys, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s read %q (host has %q), %v: want not found", name, b, host, err)
		}
	}
}

// WithContentOnlyFor keeps only the files asked for in memory; the others
// read the same, from their layer again.
func TestFSContentOnlyFor(t *testing.T) {
	fsys, err := FS(tfTestImage(t), WithContentOnlyFor(func(name string) bool { return name == "etc/motd" }))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"etc/motd": true, "etc/os-release": false, "usr/lib/libc.so.6": false} {
		n, err := fsys.lookup("stat", name, true)
		if err != nil {
			t.Fatal(err)
		}
		if kept := n.content.data != nil; kept != want {
			t.Errorf("%s: kept in memory %v, want %v", name, kept, want)
		}
	}
	for name, want := range map[string]string{"etc/motd": "new\n", "etc/os-release": "ID=imagetest\n", "usr/bin/oldlink": "old binary", "lib/libc.so.6": "libc"} {
		if b, err := fsys.ReadFile(name); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}
