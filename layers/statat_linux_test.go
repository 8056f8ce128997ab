package layers

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The fstatat FileInfo says what os.Lstat says of every kind of entry a
// walk meets, and hard links are told the same way.
func TestDirStatterMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	file, exe, sub := filepath.Join(dir, "f"), filepath.Join(dir, "x"), filepath.Join(dir, "sub")
	must0(t, os.WriteFile(file, []byte("hello"), 0o644))
	must0(t, os.WriteFile(exe, nil, 0o755))
	must0(t, os.Chmod(exe, 0o755|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	must0(t, os.Mkdir(sub, 0o700))
	must0(t, os.Symlink("f", filepath.Join(dir, "link")))
	must0(t, os.Link(file, filepath.Join(sub, "hard")))
	must0(t, syscall.Mkfifo(filepath.Join(sub, "fifo"), 0o600))
	st := newDirStatter()
	defer st.close()
	for _, name := range []string{"f", "x", "sub", "link", "sub/hard", "sub/fifo", "f"} {
		p := filepath.Join(dir, name)
		want, err := os.Lstat(p)
		must0(t, err)
		got, err := st.lstat(p, nil, new(statInfo))
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
	if _, err := st.lstat(filepath.Join(dir, "gone"), nil, new(statInfo)); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v, want not-exist", err)
	}
}
