//go:build linux

package run

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/assemble-build/assemble/layers"
	securejoin "github.com/cyphar/filepath-securejoin"
)

// baseInfo is what the image says about a materialised path, where the disk
// cannot hold it or the diff needs it later.
type baseInfo struct {
	uid, gid int       // the image's owner (rootless: the disk keeps root)
	hash     *[32]byte // regular files: sha256 of the content
	xattrs   map[string]string
}

// materialiser applies layer tars to a directory as a container runtime
// does: whiteouts and opaque directories hide the layers below, parents
// resolve through symbolic links inside the root, nothing lands outside it.
type materialiser struct {
	root     string
	rootless bool
	base     map[string]*baseInfo // by path relative to root, links resolved
	buf      []byte
}

func newMaterialiser(root string, rootless bool) *materialiser {
	return &materialiser{root: root, rootless: rootless, base: map[string]*baseInfo{}, buf: make([]byte, 256<<10)}
}

func (m *materialiser) rel(host string) string {
	return strings.TrimPrefix(strings.TrimPrefix(host, m.root), "/")
}

func (m *materialiser) applyLayer(r io.Reader) error {
	tr := tar.NewReader(r)
	unpacked := map[string]bool{} // host paths this layer wrote
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		name, err := layers.CleanEntryName(hdr.Name)
		if err != nil {
			return err
		}
		dir, base := path.Split(name)
		if strings.HasPrefix(base, ".wh.") {
			// Whiteouts hide only what lower layers hold.
			d, err := resolveIn(m.root, dir, false, nil)
			if err != nil {
				continue // nothing below to hide
			}
			if base == ".wh..wh..opq" {
				names, _ := readDirNames(d)
				for _, n := range names {
					p := d + "/" + n
					if !keptBelow(unpacked, p) {
						if err := os.RemoveAll(p); err != nil {
							return fmt.Errorf("%s: %w", hdr.Name, err)
						}
					}
				}
				continue
			}
			p := d + "/" + strings.TrimPrefix(base, ".wh.")
			if !unpacked[p] {
				if err := os.RemoveAll(p); err != nil {
					return fmt.Errorf("%s: %w", hdr.Name, err)
				}
			}
			continue
		}
		if name == "" {
			if hdr.Typeflag == tar.TypeDir {
				if err := m.setMeta(m.root, hdr, nil); err != nil {
					return fmt.Errorf("%s: %w", hdr.Name, err)
				}
			}
			continue
		}
		parent, err := m.parentDir(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		target := parent + "/" + base
		unpacked[target] = true
		if err := m.apply(hdr, tr, target); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
}

// keptBelow reports whether p or a path below it was written by the current
// layer, which an opaque marker in the same layer must not hide.
func keptBelow(unpacked map[string]bool, p string) bool {
	if unpacked[p] {
		return true
	}
	for u := range unpacked {
		if strings.HasPrefix(u, p+"/") {
			return true
		}
	}
	return false
}

// parentDir resolves dir inside the root, creating missing directories.
func (m *materialiser) parentDir(dir string) (string, error) {
	p, err := resolveIn(m.root, dir, true, nil)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return p, os.Mkdir(p, 0o755)
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("parent %s is not a directory", m.rel(p))
	}
	return p, nil
}

func (m *materialiser) apply(hdr *tar.Header, tr io.Reader, target string) error {
	if fi, err := os.Lstat(target); err == nil {
		if fi.IsDir() && hdr.Typeflag == tar.TypeDir {
			return m.setMeta(target, hdr, nil)
		}
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	var sum *[32]byte
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil {
			return err
		}
	case tar.TypeReg, tar.TypeGNUSparse:
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.CopyBuffer(io.MultiWriter(f, h), tr, m.buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		sum = new([32]byte)
		h.Sum(sum[:0])
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		lname, err := layers.CleanEntryName(hdr.Linkname)
		if err != nil || lname == "" {
			return fmt.Errorf("hard link to %q: %v", hdr.Linkname, err)
		}
		ldir, lbase := path.Split(lname)
		lparent, err := resolveIn(m.root, ldir, false, nil)
		if err != nil {
			return fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
		}
		old := lparent + "/" + lbase
		if err := os.Link(old, target); err != nil {
			return fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
		}
		// Same inode: same metadata as the target, whatever the header says.
		m.base[m.rel(target)] = m.base[m.rel(old)]
		return nil
	case tar.TypeFifo:
		if err := unix.Mkfifo(target, 0o600); err != nil {
			return err
		}
	default:
		// Devices cannot be made in a user namespace and are never part of
		// what a build reads; the sandbox gives its own /dev.
		return nil
	}
	return m.setMeta(target, hdr, sum)
}

// setMeta applies owner, mode, mtime and extended attributes.
func (m *materialiser) setMeta(target string, hdr *tar.Header, sum *[32]byte) error {
	info := &baseInfo{uid: hdr.Uid, gid: hdr.Gid, hash: sum}
	if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
		// An owner the sandbox's user namespace does not map (rootless maps
		// only root): keep the image's owner on record.
		if !errors.Is(err, syscall.EINVAL) && !(m.rootless && errors.Is(err, syscall.EPERM)) {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears the set-id bits.
		if err := unix.Fchmodat(unix.AT_FDCWD, target, uint32(hdr.Mode&0o7777), 0); err != nil {
			return err
		}
	}
	ts := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !keepXattr(name) {
			continue
		}
		if err := unix.Lsetxattr(target, name, []byte(v), 0); err != nil {
			continue // e.g. a capability rootless cannot set: the diff then reports the file
		}
		if info.xattrs == nil {
			info.xattrs = map[string]string{}
		}
		info.xattrs[name] = v
	}
	m.base[m.rel(target)] = info
	return nil
}

// keepXattr selects the extended attributes a layer carries.
func keepXattr(name string) bool {
	return name == "security.capability" || strings.HasPrefix(name, "user.")
}

// resolveIn returns the host path rel leads to below root, with symbolic
// links resolved as if root were "/" (securejoin: absolute targets restart
// at root and ".." stops there). The directories above that path must
// exist: with mkdirs the missing ones are made (created is told of each),
// else they are an error; a missing last component is returned as is. Only
// for trees no untrusted process is changing.
func resolveIn(root, rel string, mkdirs bool, created func(string)) (string, error) {
	p, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	// SecureJoin passes over missing components and non-directories alike.
	var missing []string
	for d := filepath.Dir(p); len(d) > len(root); d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, d)
			continue
		}
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%s: %w", rel, syscall.ENOTDIR)
		}
		break
	}
	if len(missing) > 0 && !mkdirs {
		return "", &fs.PathError{Op: "lstat", Path: missing[len(missing)-1], Err: fs.ErrNotExist}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return "", err
		}
		if created != nil {
			created(missing[i])
		}
	}
	return p, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// frameReader reads one layer of the framed stream streamLayers writes.
type frameReader struct {
	r    *bufio.Reader
	left uint64
	done bool
}

func (f *frameReader) Read(p []byte) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	if f.left == 0 {
		n, err := binary.ReadUvarint(f.r)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if n == 0 {
			f.done = true
			return 0, io.EOF
		}
		f.left = n
	}
	if uint64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= uint64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
