package devfile

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// packArchive makes archive.tar as the registry build does with
// `tar -czvf archive.tar ./a ./b ...`: a gzip-compressed tar (despite the
// name) of the given top-level entries of dir, named "./a", "./a/x", with
// each directory before its contents, which the devfile registry library
// needs when it unpacks (it creates no parent directories). Unlike tar,
// it is deterministic: names sorted, times zero, owner 0:0 without names,
// modes 0755 for directories and executables and 0644 for other files, and
// a gzip header without name or time.
func (r *registry) packArchive(dir string, names []string) ([]byte, error) {
	base, err := r.resolve(dir)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	epoch := time.Unix(0, 0)
	// klauspost's writer stores uint32(ModTime.Unix()) even for the zero
	// time (a date in 2042); the epoch gives the 0 that means "no time".
	zw.ModTime, zw.OS = epoch, 255
	tw := tar.NewWriter(zw)
	var add func(rel string) error
	add = func(rel string) error {
		p := filepath.Join(base, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("reading %s/%s: %w", dir, rel, err)
		}
		// archive/tar writes USTAR when it can, PAX for long names; with a
		// whole-second time neither records more than the name and mode.
		h := &tar.Header{Name: "./" + rel, ModTime: epoch}
		switch m := fi.Mode(); {
		case m.IsDir():
			h.Typeflag, h.Mode, h.Name = tar.TypeDir, 0o755, h.Name+"/"
		case m.IsRegular():
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
			if m&0o111 != 0 {
				h.Mode = 0o755
			}
		case m&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("reading %s/%s: %w", dir, rel, err)
			}
			// A link must stay inside the stack directory: the archive is
			// unpacked elsewhere, and an absolute or escaping link would point
			// at the user's files.
			resolved := path.Join(path.Dir(rel), filepath.ToSlash(target))
			if filepath.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return &fileError{dir + "/" + rel, fmt.Sprintf("is a symlink to %s, outside the stack directory: copy the file instead", target)}
			}
			h.Typeflag, h.Mode, h.Linkname = tar.TypeSymlink, 0o777, target
		default:
			return &fileError{dir + "/" + rel, "is not a regular file, directory or symlink"}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("packing %s/%s: %w", dir, rel, err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("reading %s/%s: %w", dir, rel, err)
			}
			if int64(len(b)) != h.Size {
				return fmt.Errorf("%s/%s changed while it was packed", dir, rel)
			}
			if _, err := tw.Write(b); err != nil {
				return fmt.Errorf("packing %s/%s: %w", dir, rel, err)
			}
		case tar.TypeDir:
			ents, err := os.ReadDir(p)
			if err != nil {
				return fmt.Errorf("reading %s/%s: %w", dir, rel, err)
			}
			for _, e := range ents { // sorted by name
				if err := add(rel + "/" + e.Name()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if err := add(n); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
