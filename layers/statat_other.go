//go:build !linux

package layers

import (
	"io/fs"
	"syscall"
)

// dirStatter is os.Lstat through the walk's DirEntry outside Linux.
type dirStatter struct{}

func newDirStatter() *dirStatter { return &dirStatter{} }

func (*dirStatter) lstat(_ string, d fs.DirEntry, _ *statInfo) (fs.FileInfo, error) {
	return d.Info()
}

func (*dirStatter) close() {}

type statInfo struct{}

// hardlinkOf is the inode of a file with more than one link, or zero.
func hardlinkOf(fi fs.FileInfo) inode {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return inode{uint64(st.Dev), st.Ino}
	}
	return inode{}
}
