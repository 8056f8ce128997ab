package layers

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dirStatter lstats a walk's paths relative to an open descriptor of their
// directory (fstatat), which a chunk's paths share in runs of siblings:
// the kernel then resolves one name per file instead of the whole path,
// and no FileInfo is allocated per file (see statInfo). On a 100k-file
// tree the stat calls are most of a no-op rebuild.
type dirStatter struct {
	dir string
	fd  int
}

func newDirStatter() *dirStatter { return &dirStatter{fd: -1} }

// lstat fills fi with the stat data of p (a path the walk met as d) and
// returns it.
func (s *dirStatter) lstat(p string, _ fs.DirEntry, fi *statInfo) (fs.FileInfo, error) {
	dir, name := filepath.Split(p)
	if dir != s.dir || s.fd < 0 {
		s.close()
		// O_NOFOLLOW: a directory swapped for a symlink since the walk
		// is an error, never a way out of the tree.
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("opening directory %s: %w", dir, err)
		}
		s.dir, s.fd = dir, fd
	}
	if err := unix.Fstatat(s.fd, name, &fi.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	fi.name = name
	return fi, nil
}

func (s *dirStatter) close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// statInfo is an fs.FileInfo over the stat data fstatat filled in place.
// Sys is the *unix.Stat_t.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *statInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *statInfo) Sys() any           { return &fi.st }

// Mode is the fs.FileMode os.Lstat would give.
func (fi *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// hardlinkOf is the inode of a file with more than one link, or zero.
func hardlinkOf(fi fs.FileInfo) inode {
	switch st := fi.Sys().(type) {
	case *unix.Stat_t:
		if st.Nlink > 1 {
			return inode{uint64(st.Dev), st.Ino}
		}
	case *syscall.Stat_t:
		if st.Nlink > 1 {
			return inode{uint64(st.Dev), st.Ino}
		}
	}
	return inode{}
}
