package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/patternmatcher"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
)

// source is where COPY reads files: the build context, a local directory
// named as a build context, or an image (an earlier stage or a base).
// Paths are slash-separated and relative to the source's root ("" is the
// root itself).
type source interface {
	// label names the source in messages ("the build context", "stage build").
	label() string
	lstat(p string) (info, error)
	readDir(p string) ([]string, error)
	open(p string) (io.ReadCloser, error)
	// resolve follows every symbolic link in p inside the source.
	resolve(p string) (string, error)
	// keepOwners says whether files keep their owners (images) or become
	// root's (local files, as Docker sends the context).
	keepOwners() bool
	// repoPath is the repository-relative path of p, for local sources.
	repoPath(p string) (string, bool)
}

// info describes one file of a source.
type info struct {
	typ      layers.EntryType
	mode     fs.FileMode // permission and special bits
	uid, gid int
	size     int64
	link     string
	special  bool // device, pipe or socket: not copied
	// hardLink, for a regular file with other names in the source,
	// identifies the file: equal values are hard links to one file.
	hardLink any
}

// inode identifies a host file.
type inode struct{ dev, ino uint64 }

func (i info) isDir() bool { return i.typ == layers.TypeDir }

// hostSource is a directory on disk: the build context (with its ignore
// file) or a build-context directory. Every file is read through an
// os.Root, so no path or link leads a read outside it.
type hostSource struct {
	name string
	root string // absolute, symlinks resolved
	fsys *os.Root
	// rel is root relative to the repository, when it is inside it.
	rel        string
	inRepo     bool
	ignore     *patternmatcher.PatternMatcher
	exclusions bool
	// gitModes are the modes git's index records for the files below
	// root (0644 or 0755), when root is in a git work tree.
	gitModes map[string]fs.FileMode
}

func newHostSource(name, dir, repoRoot string, ignore []string, modes *GitModesMemo) (*hostSource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fsys, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	h := &hostSource{name: name, root: abs, fsys: fsys, gitModes: modes.get(abs)}
	if rr, err := filepath.EvalSymlinks(repoRoot); err == nil {
		if rel, err := filepath.Rel(rr, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			h.rel, h.inRepo = filepath.ToSlash(rel), true
			if h.rel == "." {
				h.rel = ""
			}
		}
	}
	if len(ignore) > 0 {
		m, err := patternmatcher.New(ignore)
		if err != nil {
			fsys.Close()
			return nil, fmt.Errorf("ignore file patterns: %w", err)
		}
		h.ignore, h.exclusions = m, m.Exclusions()
	}
	return h, nil
}

func (h *hostSource) label() string    { return h.name }
func (h *hostSource) keepOwners() bool { return false }

func (h *hostSource) repoPath(p string) (string, bool) {
	if !h.inRepo {
		return "", false
	}
	return path.Join(h.rel, p), true
}

// Close releases the directory handle.
func (h *hostSource) Close() error { return h.fsys.Close() }

// hidden reports whether the ignore file removes p from the context. A
// directory that an exclusion ("!pattern") may reach into stays.
func (h *hostSource) hidden(p string, dir bool) (bool, error) {
	if h.ignore == nil || p == "" {
		return false, nil
	}
	m, err := h.ignore.MatchesOrParentMatches(p)
	if err != nil {
		return false, err
	}
	if m && dir && h.exclusions {
		return false, nil
	}
	return m, nil
}

// provisional reports whether directory p is in the context only because
// an exclusion might bring back something below it: it is dropped when
// nothing below it is.
func (h *hostSource) provisional(p string) bool {
	if h.ignore == nil || !h.exclusions || p == "" {
		return false
	}
	m, err := h.ignore.MatchesOrParentMatches(p)
	return err == nil && m
}

func (h *hostSource) lstat(p string) (info, error) {
	fi, err := h.fsys.Lstat(fsName(p))
	if err != nil {
		return info{}, err
	}
	if hid, err := h.hidden(p, fi.IsDir()); err != nil || hid {
		if err == nil {
			err = fs.ErrNotExist
		}
		return info{}, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return h.info(p, fi)
}

// info describes host file p. Modes are normalised so that the checkout's
// umask never changes a layer: a directory is 0755, a regular file 0644 or
// 0755, as git's index records it, or for a file git does not track (or
// outside a git work tree) from its execute bits (layers.HostFileMode).
// Set-id and sticky bits are dropped: git keeps none. --chmod still wins.
func (h *hostSource) info(p string, fi fs.FileInfo) (info, error) {
	m := fi.Mode()
	var i info
	switch {
	case m.IsDir():
		i.typ, i.mode = layers.TypeDir, 0o755
	case m.IsRegular():
		i.typ, i.size, i.mode = layers.TypeFile, fi.Size(), layers.HostFileMode(m)
		if gm, ok := h.gitModes[p]; ok {
			i.mode = gm
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			i.hardLink = inode{uint64(st.Dev), st.Ino}
		}
	case m&fs.ModeSymlink != 0:
		target, err := h.fsys.Readlink(p)
		if err != nil {
			return info{}, err
		}
		i.typ, i.link, i.mode = layers.TypeSymlink, target, 0o777
	default:
		i.special = true
	}
	return i, nil
}

// GitModesMemo keeps, for the builds of one run, the modes git's index
// records below each local source (gitModes): a plan that builds several
// Dockerfiles with one context (a Domino repository's groups, built once
// while planning and again to publish) asks git once. The run changes no
// file's mode in git's index. Safe for concurrent use; a nil memo keeps
// nothing.
type GitModesMemo struct {
	mu    sync.Mutex
	modes map[string]map[string]fs.FileMode
}

// NewGitModesMemo is an empty memo.
func NewGitModesMemo() *GitModesMemo {
	return &GitModesMemo{modes: map[string]map[string]fs.FileMode{}}
}

// WithGitModesMemo shares m between builds.
func WithGitModesMemo(m *GitModesMemo) Option { return func(o *options) { o.gitModes = m } }

// get is gitModes(dir), asked once per memo; the map is only read.
func (m *GitModesMemo) get(dir string) map[string]fs.FileMode {
	if m == nil {
		return gitModes(dir)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if modes, ok := m.modes[dir]; ok {
		return modes
	}
	modes := gitModes(dir)
	m.modes[dir] = modes
	return modes
}

// gitModes lists the regular files git's index holds below dir (paths
// relative to dir) with the mode git records: 0755 for 100755, else 0644.
// Outside a git work tree (or without git) it is nil.
func gitModes(dir string) map[string]fs.FileMode {
	out, err := git.Output(dir, "ls-files", "--stage", "-z")
	if err != nil {
		return nil
	}
	modes := map[string]fs.FileMode{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		// "<mode> <object> <stage>\t<path>"
		meta, name, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			continue
		}
		switch {
		case bytes.HasPrefix(meta, []byte("100755 ")):
			modes[string(name)] = 0o755
		case bytes.HasPrefix(meta, []byte("100644 ")):
			modes[string(name)] = 0o644
		}
	}
	return modes
}

func (h *hostSource) readDir(p string) ([]string, error) {
	des, err := fs.ReadDir(h.fsys.FS(), fsName(p))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		child := path.Join(p, de.Name())
		hid, err := h.hidden(child, de.IsDir())
		if err != nil {
			return nil, err
		}
		if !hid {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func (h *hostSource) open(p string) (io.ReadCloser, error) { return h.fsys.Open(fsName(p)) }

// resolve follows the symbolic links in p (securejoin, over the source's
// root). A link that leads outside the source is an error (Docker would
// resolve it inside the context; here it is refused so that nothing outside
// is ever read), as is an absolute one.
func (h *hostSource) resolve(p string) (string, error) {
	if escapes("", p) {
		return "", fmt.Errorf("%s leads outside %s", p, h.name)
	}
	r, err := securejoin.SecureJoinVFS(h.root, p, confinedLinks{h})
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(h.root, r)
	if err != nil {
		return "", err
	}
	if rel = filepath.ToSlash(rel); rel == "." {
		rel = ""
	}
	return rel, nil
}

// confinedLinks is the view securejoin resolves through: reading a link
// that would leave the source fails, naming the link, before securejoin
// could clamp it to the root.
type confinedLinks struct{ h *hostSource }

func (c confinedLinks) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }

func (c confinedLinks) Readlink(name string) (string, error) {
	target, err := os.Readlink(name)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(c.h.root, name)
	if err != nil {
		return "", err
	}
	rel = filepath.ToSlash(rel)
	if strings.HasPrefix(target, "/") || escapes(path.Dir(rel), target) {
		return "", fmt.Errorf("%s is a symbolic link to %s, outside %s: replace it with the file or a relative link inside it", rel, target, c.h.name)
	}
	return target, nil
}

// escapes reports whether a relative link target, read in directory dir,
// climbs above the root.
func escapes(dir, target string) bool {
	depth := 0
	if dir != "" && dir != "." {
		depth = len(strings.Split(dir, "/"))
	}
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// imageSource is an image's flattened filesystem.
type imageSource struct {
	name string
	fsys *oci.ImageFS
}

func newImageSource(ctx context.Context, name string, img v1.Image) (*imageSource, error) {
	fsys, err := oci.FS(img, oci.WithFSLogger(logctx.From(ctx)))
	if err != nil {
		return nil, fmt.Errorf("reading the files of %s: %w", name, err)
	}
	return &imageSource{name: name, fsys: fsys}, nil
}

func (s *imageSource) label() string                  { return s.name }
func (s *imageSource) keepOwners() bool               { return true }
func (s *imageSource) repoPath(string) (string, bool) { return "", false }

func fsName(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func (s *imageSource) lstat(p string) (info, error) {
	fi, err := s.fsys.Lstat(fsName(p))
	if err != nil {
		return info{}, err
	}
	h, ok := fi.Sys().(*tar.Header)
	if !ok {
		return info{}, fmt.Errorf("%s: no metadata", p)
	}
	i := info{mode: layers.ModeFromUnix(h.Mode), uid: h.Uid, gid: h.Gid, size: h.Size, link: h.Linkname}
	switch h.Typeflag {
	case tar.TypeDir:
		i.typ = layers.TypeDir
	case tar.TypeReg:
		i.typ = layers.TypeFile
		if k, ok := s.fsys.HardLink(fsName(p)); ok {
			i.hardLink = k
		}
	case tar.TypeSymlink:
		i.typ, i.mode = layers.TypeSymlink, 0o777
	default:
		i.special = true
	}
	return i, nil
}

func (s *imageSource) readDir(p string) ([]string, error) {
	des, err := s.fsys.ReadDir(fsName(p))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	return names, nil
}

func (s *imageSource) open(p string) (io.ReadCloser, error) { return s.fsys.Open(fsName(p)) }

func (s *imageSource) resolve(p string) (string, error) {
	r, err := s.fsys.Resolve(fsName(p))
	if err != nil {
		return "", err
	}
	if r == "." {
		r = ""
	}
	return r, nil
}

// isNotExist reports a missing file, however the source says it.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}
