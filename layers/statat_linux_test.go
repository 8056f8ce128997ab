package layers

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The fstatat FileInfo says what os.Lstat says of every kind of entry a
// walk meets, and hard links are told the same way; the getdents listing
// is os.ReadDir's.
func TestWalkDirMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	file, exe, sub := filepath.Join(dir, "f"), filepath.Join(dir, "x"), filepath.Join(dir, "sub")
	must0(t, os.WriteFile(file, []byte("hello"), 0o644))
	must0(t, os.WriteFile(exe, nil, 0o755))
	must0(t, os.Chmod(exe, 0o755|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	must0(t, os.Mkdir(sub, 0o700))
	must0(t, os.Symlink("f", filepath.Join(dir, "link")))
	must0(t, os.Link(file, filepath.Join(sub, "hard")))
	must0(t, syscall.Mkfifo(filepath.Join(sub, "fifo"), 0o600))
	checkListing(t, dir)
	checkListing(t, sub)
	for _, name := range []string{"f", "x", "sub", "link", "sub/hard", "sub/fifo", "f"} {
		p := filepath.Join(dir, name)
		want, err := os.Lstat(p)
		must0(t, err)
		d, err := openWalkDir(filepath.Dir(p))
		must0(t, err)
		got, err := d.lstat(filepath.Base(p), new(statInfo))
		d.close()
		must0(t, err)
		if got.Name() != want.Name() || got.Mode() != want.Mode() || got.Size() != want.Size() ||
			!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
			t.Errorf("%s: fstatat gives %s %v %d %v, lstat %s %v %d %v", name,
				got.Name(), got.Mode(), got.Size(), got.ModTime(), want.Name(), want.Mode(), want.Size(), want.ModTime())
		}
		if _, ok := got.Sys().(*unix.Stat_t); !ok {
			t.Errorf("%s: Sys is %T", name, got.Sys())
		}
		if hardlinkOf(got) != hardlinkOf(want) {
			t.Errorf("%s: hard link %v, lstat's %v", name, hardlinkOf(got), hardlinkOf(want))
		}
	}
	if fi, err := os.Lstat(file); err != nil || hardlinkOf(fi) == (inode{}) {
		t.Error("a file with two links is not told as a hard link")
	}
	d, err := openWalkDir(dir)
	must0(t, err)
	defer d.close()
	if _, err := d.lstat("gone", new(statInfo)); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v, want not-exist", err)
	}
	if _, err := openWalkDir(filepath.Join(dir, "link")); err == nil {
		t.Error("a symlink opened as a directory to walk")
	}
}

// checkListing compares walkDir's listing of dir, through a buffer that
// takes a few entries at a time, with os.ReadDir's.
func checkListing(t *testing.T, dir string) {
	t.Helper()
	want, err := os.ReadDir(dir)
	must0(t, err)
	d, err := openWalkDir(dir)
	must0(t, err)
	defer d.close()
	got, err := d.list(&listScratch{buf: make([]byte, 64)}, nil)
	must0(t, err)
	slices.SortFunc(got, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	if len(got) != len(want) {
		t.Fatalf("%s: listed %v, os.ReadDir %v", dir, got, want)
	}
	for i, de := range want {
		if got[i].name != de.Name() || (got[i].typ == direntDir) != de.IsDir() {
			t.Errorf("%s: entry %d is %+v, os.ReadDir's %s (dir %v)", dir, i, got[i], de.Name(), de.IsDir())
		}
	}
}

// A walk error is the one a serial walk meets first, whichever worker
// meets it: here the first of two named pipes a layer cannot hold.
func TestFilesWalkFirstError(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/x": "1", "b/x": "2", "c/x": "3"})
	for _, d := range []string{"c", "b"} {
		must0(t, syscall.Mkfifo(filepath.Join(root, d, "pipe"), 0o600))
	}
	for range 5 {
		_, err := (&Files{Root: root}).Entries(context.Background())
		if want := filepath.Join(root, "b", "pipe"); err == nil || !strings.Contains(err.Error(), want+" is a") {
			t.Fatalf("error %v, want one naming %s", err, want)
		}
	}
}
