//go:build linux

package run

import (
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/assemble-build/assemble/layers"
)

// fileState is one path as lstat saw it.
type fileState struct {
	mode         uint32 // st_mode: type and permission bits
	uid, gid     int
	size         int64
	mtime, ctime int64 // ns
	ino, nlink   uint64
	link         string
}

func (s *fileState) typ() uint32 { return s.mode & unix.S_IFMT }

// perm is the permission and set-id/sticky bits as an fs.FileMode.
func (s *fileState) perm() fs.FileMode {
	return layers.ModeFromUnix(int64(s.mode))
}

// scanTree lstats every path below root (root itself excluded), keyed by the
// path relative to root. It never follows links or crosses into what the
// caller has not unmounted.
func scanTree(root string) (map[string]*fileState, error) {
	out := map[string]*fileState{}
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		names, err := readDirNames(dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			p, r := strings.TrimSuffix(dir, "/")+"/"+n, n
			if rel != "" {
				r = rel + "/" + n
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return err
			}
			s := &fileState{
				mode: st.Mode, uid: int(st.Uid), gid: int(st.Gid), size: st.Size,
				mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino, nlink: uint64(st.Nlink),
			}
			switch s.typ() {
			case unix.S_IFLNK:
				if s.link, err = os.Readlink(p); err != nil {
					return err
				}
			case unix.S_IFDIR:
				if err := walk(p, r); err != nil {
					return err
				}
			}
			out[r] = s
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	return out, nil
}

// diffTrees compares the tree under root (after) with its state before the
// command (before, with the image's own owners and hashes in base) and
// returns the changes as entries: new and changed paths with every parent
// directory on the way (so a layer never resets a parent's mode or owner),
// whole hard-link groups, and whiteouts for the topmost deleted paths.
func diffTrees(root string, before, after map[string]*fileState, base map[string]*baseInfo) ([]wireEntry, error) {
	root = strings.TrimSuffix(root, "/")
	owner := func(rel string, a *fileState) (int, int) {
		if b := before[rel]; b != nil && a.uid == b.uid && a.gid == b.gid {
			if bi := base[rel]; bi != nil {
				return bi.uid, bi.gid
			}
		}
		return a.uid, a.gid
	}
	emitted := map[string]*wireEntry{}
	emit := func(rel string, a *fileState) {
		if _, ok := emitted[rel]; ok {
			return
		}
		uid, gid := owner(rel, a)
		e := &wireEntry{Path: rel, Mode: a.perm(), UID: uid, GID: gid}
		switch a.typ() {
		case unix.S_IFDIR:
			e.Type = layers.TypeDir
		case unix.S_IFLNK:
			e.Type, e.Link, e.Mode = layers.TypeSymlink, a.link, 0o777
		default:
			e.Type, e.Size = layers.TypeFile, a.size
		}
		if e.Type != layers.TypeSymlink {
			e.Xattrs = readXattrs(root + "/" + rel)
		}
		emitted[rel] = e
	}

	links := map[uint64][]string{}
	for _, rel := range slices.Sorted(maps.Keys(after)) {
		a := after[rel]
		t := a.typ()
		if t != unix.S_IFREG && t != unix.S_IFDIR && t != unix.S_IFLNK {
			// Sockets, pipes and devices have no layer entry type.
			continue
		}
		if t == unix.S_IFREG && a.nlink > 1 {
			links[a.ino] = append(links[a.ino], rel)
		}
		changed, err := hasChanged(root, rel, a, before[rel], base[rel])
		if err != nil {
			return nil, err
		}
		if changed {
			emit(rel, a)
		}
	}
	// A hard link group goes whole, so each link has its target in the layer.
	for _, group := range links {
		touched := false
		for _, rel := range group {
			if _, ok := emitted[rel]; ok {
				touched = true
			}
		}
		if !touched || len(group) < 2 {
			continue
		}
		for i, rel := range group { // sorted: keys were visited in order
			emit(rel, after[rel])
			if i > 0 {
				e := emitted[rel]
				e.Type, e.Link, e.Size, e.Xattrs = layers.TypeHardlink, group[0], 0, nil
			}
		}
	}
	for rel := range before {
		if _, ok := after[rel]; ok {
			continue
		}
		dir := path.Dir(rel)
		if dir == "." {
			emitted[rel] = &wireEntry{Path: rel, Type: layers.TypeWhiteout}
			continue
		}
		if p := after[dir]; p != nil && p.typ() == unix.S_IFDIR {
			emitted[rel] = &wireEntry{Path: rel, Type: layers.TypeWhiteout}
		}
	}
	for _, rel := range slices.Collect(maps.Keys(emitted)) {
		for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
			if _, ok := emitted[dir]; ok {
				break
			}
			if a := after[dir]; a != nil && a.typ() == unix.S_IFDIR {
				emit(dir, a)
			}
		}
	}
	out := make([]wireEntry, 0, len(emitted))
	for _, rel := range slices.Sorted(maps.Keys(emitted)) {
		out = append(out, *emitted[rel])
	}
	return out, nil
}

// hasChanged decides whether one path differs from the base. A file whose
// inode and ctime are unchanged was not touched; one whose size, mtime, mode
// and owner are all the same yet was touched is compared by content.
func hasChanged(root, rel string, a, b *fileState, bi *baseInfo) (bool, error) {
	if b == nil || a.typ() != b.typ() {
		return true, nil
	}
	if a.perm() != b.perm() || a.uid != b.uid || a.gid != b.gid {
		return true, nil
	}
	switch a.typ() {
	case unix.S_IFDIR:
		return false, nil
	case unix.S_IFLNK:
		return a.link != b.link, nil
	}
	if a.ino == b.ino && a.ctime == b.ctime {
		return false, nil
	}
	if a.size != b.size || a.mtime != b.mtime {
		return true, nil
	}
	if bi == nil || bi.hash == nil {
		return true, nil
	}
	sum, err := hashFile(root + "/" + rel)
	if err != nil {
		return false, err
	}
	if sum != *bi.hash {
		return true, nil
	}
	return !maps.Equal(readXattrs(root+"/"+rel), bi.xattrs), nil
}

func hashFile(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// readXattrs returns the extended attributes a layer keeps (keepXattr),
// nil when there are none.
func readXattrs(p string) map[string]string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	var out map[string]string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if !keepXattr(name) {
			continue
		}
		vsz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsz)
		vsz, err = unix.Lgetxattr(p, name, val)
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(val[:vsz])
	}
	return out
}
