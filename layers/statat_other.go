//go:build !linux

package layers

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// walkDir is a directory of a files walk, listed with os.ReadDir and its
// entries stat'ed with os.Lstat outside Linux.
type walkDir struct{ path string }

func openWalkDir(p string) (*walkDir, error) { return &walkDir{path: p}, nil }

type dirent struct {
	name string
	typ  direntType
	key  uint64 // see sortNames
}

type direntType uint8

const (
	direntUnknown direntType = iota
	direntDir
	direntOther
)

// listScratch has nothing to reuse outside Linux.
type listScratch struct{}

func (d *walkDir) list(_ *listScratch, out []dirent) ([]dirent, error) {
	des, err := os.ReadDir(d.path)
	if err != nil {
		return out, err
	}
	for _, de := range des {
		t := direntOther
		if de.IsDir() {
			t = direntDir
		}
		out = append(out, dirent{name: de.Name(), typ: t})
	}
	return out, nil
}

func (d *walkDir) lstat(name string, _ *statInfo) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(d.path, name))
}

func (*walkDir) close() {}

type statInfo struct{}

// hardlinkOf is the inode of a file with more than one link, or zero.
func hardlinkOf(fi fs.FileInfo) inode {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return inode{uint64(st.Dev), st.Ino}
	}
	return inode{}
}
