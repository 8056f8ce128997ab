package layers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// walkDir is one open directory of a files walk: its names are listed with
// getdents and its entries stat'ed with fstatat relative to it, so the
// kernel resolves one name per file instead of the whole path, and no
// DirEntry or FileInfo is allocated per file (see statInfo). On a
// 100k-file tree these calls are most of a no-op rebuild.
type walkDir struct {
	path string
	fd   int
}

// openWalkDir opens the directory p. O_NOFOLLOW: a directory swapped for a
// symlink since its parent was listed is an error, never a way out of the
// tree.
func openWalkDir(p string) (*walkDir, error) {
	for {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
		return &walkDir{path: p, fd: fd}, nil
	}
}

// dirent is a name a directory lists and what getdents says of its type.
type dirent struct {
	name string
	typ  direntType
	key  uint64 // see sortNames
}

type direntType uint8

const (
	direntUnknown direntType = iota // the file system does not say: stat it
	direntDir
	direntOther
)

// listScratch is a worker's buffers for listing directories, reused.
type listScratch struct {
	buf   []byte // getdents' records
	names []byte
	spans []nameSpan
}

type nameSpan struct {
	start, end int
	typ        direntType
}

// list appends the directory's names but "." and ".." to out, unsorted.
// The names share one string per call.
func (d *walkDir) list(sc *listScratch, out []dirent) ([]dirent, error) {
	if sc.buf == nil {
		sc.buf = make([]byte, 32<<10)
	}
	names, spans := sc.names[:0], sc.spans[:0]
	for {
		n, err := unix.Getdents(d.fd, sc.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return out, &fs.PathError{Op: "readdirent", Path: d.path, Err: err}
		}
		if n <= 0 {
			break
		}
		for off := 0; off+19 <= n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(sc.buf[off+16:]))
			if reclen < 19 || off+reclen > n {
				return out, fmt.Errorf("reading %s: malformed directory entry", d.path)
			}
			rec := sc.buf[off : off+reclen]
			off += reclen
			name := rec[19:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if binary.NativeEndian.Uint64(rec) == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			t := direntOther
			switch rec[18] {
			case unix.DT_DIR:
				t = direntDir
			case unix.DT_UNKNOWN:
				t = direntUnknown
			}
			spans = append(spans, nameSpan{len(names), len(names) + len(name), t})
			names = append(names, name...)
		}
	}
	all := string(names)
	for _, s := range spans {
		out = append(out, dirent{name: all[s.start:s.end], typ: s.typ})
	}
	sc.names, sc.spans = names, spans
	return out, nil
}

// lstat fills fi with the stat data of the directory's entry name and
// returns it.
func (d *walkDir) lstat(name string, fi *statInfo) (fs.FileInfo, error) {
	for {
		err := fstatat(d.fd, name, fi)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		fi.name = name
		return fi, nil
	}
}

func (d *walkDir) close() { unix.Close(d.fd) }

// statInfo is an fs.FileInfo over the stat data fstatat filled in place.
// Sys is the *unix.Stat_t.
type statInfo struct {
	name  string
	st    unix.Stat_t
	cname []byte // the name NUL-terminated, for fstatat
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
