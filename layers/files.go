package layers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sync/errgroup"
)

// Files is a layer of repository files: the tree under Root/Dir, filtered,
// placed under Dest, owned by UID:GID. Modes are normalised to what git
// keeps (0644, or 0755 when any execute bit is set; directories 0755), so
// the umask and the checkout never change the layer.
type Files struct {
	// Root is the repository: no file or symlink may lead outside it.
	Root string
	// Dir is the directory to copy, relative to Root ("" or "." for all of it).
	Dir string
	// Dest is the image directory the tree lands in ("/app").
	Dest string
	// Include, when set, keeps only paths (relative to Dir) matching one of
	// these patterns (.dockerignore syntax), and their parents.
	Include []string
	// Exclude drops paths (relative to Dir) matching these patterns.
	Exclude []string
	// Ignore are patterns relative to Root, as read from .dockerignore or
	// .containerignore (see ReadIgnoreFile).
	Ignore []string
	// UID and GID own every entry.
	UID, GID int

	once    sync.Once
	entries []Entry
	key     string
	err     error
}

// ReadIgnoreFile reads root's .containerignore, or else its .dockerignore,
// as buildah does. It returns the file's name ("" when there is none).
func ReadIgnoreFile(root string) (patterns []string, name string, err error) {
	for _, n := range []string{".containerignore", ".dockerignore"} {
		p := filepath.Join(root, n)
		data, err := ReadIgnoreLink(root, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", p, err)
		}
		return pats, p, nil
	}
	return nil, "", nil
}

// ReadIgnoreLink reads the ignore file p. When p is a symbolic link it is
// read only if it leads inside root (the context it filters): a link out
// of it is an error, since a build must not read the host's files. A
// missing file (or a dangling link) is fs.ErrNotExist.
func ReadIgnoreLink(root, p string) ([]byte, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		rr, err := filepath.EvalSymlinks(root)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if !within(rr, real) {
			return nil, fmt.Errorf("%s is a symbolic link to %s, outside %s: replace it with the file itself or a link inside %s", p, real, root, root)
		}
		p = real
	}
	data, err := bounded.ReadFile(p, bounded.IgnoreFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return data, nil
}

// Describe implements Spec.
func (f *Files) Describe() string {
	dir := f.Dir
	if dir == "" {
		dir = "."
	}
	return fmt.Sprintf("files %s -> %s", dir, f.dest())
}

func (f *Files) dest() string {
	if f.Dest == "" {
		return "/"
	}
	return f.Dest
}

// Key implements Spec: a digest over every entry's path, type, mode, owner,
// link target and content.
func (f *Files) Key(ctx context.Context) (string, error) {
	f.scan(ctx)
	return f.key, f.err
}

// SizeEstimate is the sum of the layer's file sizes, what its tar holds
// but for headers, for progress. It reads the tree when Key or Entries has
// not yet; 0 when that fails.
func (f *Files) SizeEstimate() int64 {
	f.scan(context.Background())
	var n int64
	for _, e := range f.entries {
		if e.Type == TypeFile {
			n += e.Size
		}
	}
	return n
}

// Entries implements Spec.
func (f *Files) Entries(ctx context.Context) ([]Entry, error) {
	f.scan(ctx)
	return f.entries, f.err
}

func (f *Files) scan(ctx context.Context) {
	f.once.Do(func() {
		f.entries, f.err = f.walk(ctx)
		if f.err == nil {
			f.key, f.err = f.hash(ctx)
		}
	})
}

func (f *Files) walk(ctx context.Context) ([]Entry, error) {
	root, top, fi, err := f.locate()
	if err != nil {
		return nil, err
	}
	dest, err := CleanPath(f.dest())
	if err != nil {
		return nil, fmt.Errorf("destination %q: %w", f.Dest, err)
	}
	w := &filesWalk{f: f, ctx: ctx, root: root, top: top, dest: dest, links: map[inode]string{}}
	if err := w.compile(); err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		// A single file: it lands at Dest (a file path) when Dest does not end in "/".
		e, err := f.entry(root, top, fi, dest)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(f.Dest, "/") {
			e.Path = path.Join(dest, filepath.Base(top))
		}
		return []Entry{e}, nil
	}
	if err := filepath.WalkDir(top, w.visit); err != nil {
		return nil, err
	}
	entries := w.entries
	if w.include != nil {
		entries = withParents(entries, dest, f.UID, f.GID)
	}
	if dest != "" {
		entries = append(entries, Entry{Path: dest, Type: TypeDir, Mode: 0o755, UID: f.UID, GID: f.GID})
	}
	return entries, nil
}

// locate resolves the repository root and the file or directory to copy,
// which may be a symlink as long as it stays inside the repository.
func (f *Files) locate() (root, top string, fi fs.FileInfo, err error) {
	root, err = filepath.Abs(f.Root)
	if err != nil {
		return "", "", nil, fmt.Errorf("repository %s: %w", f.Root, err)
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	dirRel, err := CleanPath(filepath.ToSlash(f.Dir))
	if err != nil {
		return "", "", nil, fmt.Errorf("layer directory %q: %w", f.Dir, err)
	}
	top = filepath.Join(root, filepath.FromSlash(dirRel))
	fi, err = os.Lstat(top)
	if err != nil {
		return "", "", nil, fmt.Errorf("layer directory %s: %w (check the path in the layer's `dir`)", top, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(top)
		if err != nil || !within(root, real) {
			return "", "", nil, fmt.Errorf("layer directory %s is a symlink that leads outside the repository %s", top, root)
		}
		top = real
		if fi, err = os.Stat(top); err != nil {
			return "", "", nil, err
		}
	}
	return root, top, fi, nil
}

type inode struct{ dev, ino uint64 }

// filesWalk is one walk of a Files tree.
type filesWalk struct {
	f                        *Files
	ctx                      context.Context
	root, top, dest          string
	ignore, exclude, include *patternmatcher.PatternMatcher
	links                    map[inode]string // first path of each hard-linked inode
	entries                  []Entry
}

// compile builds the ignore, exclude and include matchers.
func (w *filesWalk) compile() error {
	var err error
	if w.ignore, err = matcher(w.f.Ignore); err != nil {
		return fmt.Errorf("ignore file patterns: %w", err)
	}
	if w.exclude, err = matcher(w.f.Exclude); err != nil {
		return fmt.Errorf("exclude patterns: %w", err)
	}
	if w.include, err = matcher(w.f.Include); err != nil {
		return fmt.Errorf("include patterns: %w", err)
	}
	return nil
}

// visit is the filepath.WalkDir callback: filter p, then record its entry.
func (w *filesWalk) visit(p string, d fs.DirEntry, walkErr error) error {
	if walkErr != nil {
		return fmt.Errorf("reading %s: %w", p, walkErr)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if p == w.top {
		return nil
	}
	relTop := filepath.ToSlash(must(filepath.Rel(w.top, p)))
	relRoot := filepath.ToSlash(must(filepath.Rel(w.root, p)))
	if relRoot == ".git" {
		return filepath.SkipDir // never part of a layer: it differs between checkouts
	}
	keep, err := w.keep(p, relRoot, relTop, d.IsDir())
	if err != nil || !keep {
		return err
	}
	info, err := d.Info()
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	e, err := w.f.entry(w.root, p, info, path.Join(w.dest, relTop))
	if err != nil {
		return err
	}
	if e.Type == TypeFile {
		e = w.hardlink(e, info)
	}
	if w.include != nil && e.Type == TypeDir {
		return nil // directories come back as parents of what is included
	}
	w.entries = append(w.entries, e)
	return nil
}

// keep applies the ignore file, then exclude, then include. It returns
// filepath.SkipDir for a skipped directory no exclusion reaches into.
func (w *filesWalk) keep(p, relRoot, relTop string, isDir bool) (bool, error) {
	skip, err := skipped(relRoot, w.ignore, isDir)
	if err == nil && !skip {
		skip, err = skipped(relTop, w.exclude, isDir)
	}
	if err != nil {
		return false, fmt.Errorf("matching %s: %w", p, err)
	}
	if skip {
		if isDir && !hasExclusions(w.ignore, w.exclude) {
			return false, filepath.SkipDir
		}
		return false, nil
	}
	if w.include != nil && !isDir {
		ok, err := w.include.MatchesOrParentMatches(relTop)
		if err != nil {
			return false, fmt.Errorf("matching %s: %w", p, err)
		}
		return ok, nil
	}
	return true, nil
}

// hardlink turns the second and later paths of a hard-linked file into
// links to the first.
func (w *filesWalk) hardlink(e Entry, info fs.FileInfo) Entry {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink <= 1 {
		return e
	}
	k := inode{uint64(st.Dev), st.Ino}
	if first, ok := w.links[k]; ok {
		return Entry{Path: e.Path, Type: TypeHardlink, Link: first, Mode: e.Mode, UID: e.UID, GID: e.GID}
	}
	w.links[k] = e.Path
	return e
}

// entry turns one file of the repository into a layer entry.
func (f *Files) entry(root, p string, info fs.FileInfo, dest string) (Entry, error) {
	e, ok, err := HostEntry(p, info)
	if err != nil {
		return Entry{}, fmt.Errorf("reading symlink %s: %w", p, err)
	}
	if !ok {
		return Entry{}, fmt.Errorf("%s is a %s, which a layer cannot hold: remove it or exclude it (.dockerignore or the layer's exclude)", p, info.Mode().Type())
	}
	if e.Type == TypeSymlink && !LinkInside(root, p, e.Link, AllowAbsoluteLinks()) {
		return Entry{}, fmt.Errorf("symlink %s points to %s, outside the repository %s: replace it with the file itself or a relative link to a path inside the repository", p, e.Link, root)
	}
	e.Path, e.UID, e.GID = dest, f.UID, f.GID
	return e, nil
}

func (f *Files) hash(ctx context.Context) (string, error) {
	sorted := append([]Entry(nil), f.entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	sums, err := ContentSums(ctx, sorted)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "files\x00%d:%d\x00", f.UID, f.GID)
	for i, e := range sorted {
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%d:%d\x00%s\x00", e.Path, e.Type, e.Mode, e.UID, e.GID, e.Link)
		if e.Type == TypeFile {
			fmt.Fprintf(h, "%d\x00%s\x00", e.Size, sums[i])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// ContentSums returns the hex sha256 of every regular file's content ("" for
// other entries and empty files), computed in parallel: most of a cold
// layer key's cost. A file whose size differs from its entry's is an error.
func ContentSums(ctx context.Context, entries []Entry) ([]string, error) {
	sums := make([]string, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, e := range entries {
		if e.Type != TypeFile || e.Size == 0 {
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			sum, err := contentSum(e)
			sums[i] = sum
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return sums, nil
}

func contentSum(e Entry) (string, error) {
	if e.Open == nil {
		return "", fmt.Errorf("%s: no content", e.Path)
	}
	rc, err := e.Open()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", e.Path, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", e.Path, err)
	}
	if n != e.Size {
		return "", fmt.Errorf("%s changed while it was read (%d bytes, expected %d)", e.Path, n, e.Size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withParents(entries []Entry, dest string, uid, gid int) []Entry {
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Path] = true
	}
	for _, e := range entries {
		for d := path.Dir(e.Path); d != "." && d != "/" && d != dest && strings.HasPrefix(d, dest); d = path.Dir(d) {
			if seen[d] {
				break
			}
			seen[d] = true
			entries = append(entries, Entry{Path: d, Type: TypeDir, Mode: 0o755, UID: uid, GID: gid})
		}
	}
	return entries
}

func matcher(patterns []string) (*patternmatcher.PatternMatcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	return patternmatcher.New(patterns)
}

func skipped(rel string, m *patternmatcher.PatternMatcher, isDir bool) (bool, error) {
	if m == nil {
		return false, nil
	}
	return m.MatchesOrParentMatches(rel)
}

func hasExclusions(ms ...*patternmatcher.PatternMatcher) bool {
	for _, m := range ms {
		if m != nil && m.Exclusions() {
			return true
		}
	}
	return false
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

func must(s string, err error) string {
	if err != nil {
		return ""
	}
	return s
}
