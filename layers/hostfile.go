package layers

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// HostEntry describes the host file p, as os.Lstat gave info, as an entry
// with no path and no owner, normalised as repository files are in layers
// and archives: a directory 0755, a regular file 0644 (0755 when any
// execute bit is set) read from p when written, a symlink 0777 with its
// target as written. ok is false for any other kind of file (device, pipe,
// socket), which callers refuse in their own words; err is os.Readlink's.
func HostEntry(p string, info fs.FileInfo) (e Entry, ok bool, err error) {
	switch m := info.Mode(); {
	case m.IsDir():
		return Entry{Type: TypeDir, Mode: 0o755}, true, nil
	case m.IsRegular():
		e = Entry{Type: TypeFile, Mode: HostFileMode(m), Size: info.Size()}
		e.Open = func() (io.ReadCloser, error) { return openHostFile(p) }
		return e, true, nil
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return Entry{}, false, err
		}
		return Entry{Type: TypeSymlink, Mode: 0o777, Link: target}, true, nil
	}
	return Entry{}, false, nil
}

// LinkOption adjusts LinkInside.
type LinkOption func(*linkConfig)

type linkConfig struct{ absolute bool }

// AllowAbsoluteLinks accepts an absolute target that names a path inside
// the root. Without it an absolute target is outside, wherever it points:
// an archive is unpacked elsewhere, where it would name the user's files.
func AllowAbsoluteLinks() LinkOption { return func(c *linkConfig) { c.absolute = true } }

// LinkInside reports whether target, the target of the symlink at host path
// link below root, resolves (lexically, from link's directory) to root or a
// path below it.
func LinkInside(root, link, target string, opts ...LinkOption) bool {
	var cfg linkConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	if filepath.IsAbs(target) {
		return cfg.absolute && within(root, filepath.Clean(target))
	}
	return within(root, filepath.Join(filepath.Dir(link), target))
}
