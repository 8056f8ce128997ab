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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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

	once sync.Once
	tree *filesWalk // the walk, its entries by directory; nil for a single file
	key  string     // the git kind's key; "" when the key is the tar's (see keyAt)
	err  error
	// entries are the layer's, listed from the walk when asked for (a
	// no-op rebuild in git never does; see flatten).
	flatOnce sync.Once
	entries  []Entry
	oids     []string // aligned with entries in git (see flatten)

	tarMu   sync.Mutex
	tarKeys map[int64]string // the tar kind's key by mtime (Unix seconds)
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

// Key implements Spec: the key of the layer written with every mtime at
// the Unix epoch (see keyAt).
func (f *Files) Key(ctx context.Context) (string, error) {
	return f.keyAt(ctx, time.Unix(0, 0))
}

// keyAt is the key of the layer written with every mtime at modTime. In a
// git work tree whose index can be trusted it is a digest over every
// entry's path, type, mode, owner, link target and content, a clean
// tracked file's content named by its object ID from git's index, unread
// (see gitIndex); modTime is in the layer's full key already. Anywhere
// else every byte must be read to name the content, and the key is the
// diffID of the layer's own tar: the tar holds exactly what can change the
// layer, and a first build takes the key from the one pass that writes the
// layer instead of reading the tree twice (see Cache.Build).
func (f *Files) keyAt(ctx context.Context, modTime time.Time) (string, error) {
	f.scan(ctx)
	if f.err != nil || f.key != "" {
		return f.key, f.err
	}
	f.flat()
	f.tarMu.Lock()
	defer f.tarMu.Unlock()
	if k, ok := f.tarKeys[modTime.Unix()]; ok {
		return k, nil
	}
	h := sha256.New()
	if err := WriteTar(&ctxWriter{ctx: ctx, w: h}, f.entries, modTime); err != nil {
		return "", err
	}
	k := tarKey(v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))})
	if f.tarKeys == nil {
		f.tarKeys = map[int64]string{}
	}
	f.tarKeys[modTime.Unix()] = k
	return k, nil
}

// tarKey is the spec key of a layer keyed by its tar's diffID. It cannot
// meet the git kind's keys, which start with "sha256:".
func tarKey(diffID v1.Hash) string { return "files-tar:" + diffID.String() }

// keyedByTar reports whether the key is the diffID of the layer's tar
// (the tree is not in a git work tree whose index can be trusted).
func (f *Files) keyedByTar(ctx context.Context) (bool, error) {
	f.scan(ctx)
	return f.err == nil && f.key == "", f.err
}

// sourceID names where the layer is read from and how (the directory and
// every option but the content), for Cache.Build's record of the sources
// it has built.
func (f *Files) sourceID() string {
	root, err := filepath.Abs(f.Root)
	if err != nil {
		root = f.Root
	}
	return fmt.Sprintf("files\x00%s\x00%s\x00%s\x00%q\x00%q\x00%q\x00%d:%d", root, f.Dir, f.dest(), f.Include, f.Exclude, f.Ignore, f.UID, f.GID)
}

// SizeEstimate is the sum of the layer's file sizes, what its tar holds
// but for headers, for progress. It reads the tree when Key or Entries has
// not yet; 0 when that fails.
func (f *Files) SizeEstimate() int64 {
	f.scan(context.Background())
	f.flat()
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
	f.flat()
	return f.entries, f.err
}

func (f *Files) scan(ctx context.Context) {
	f.once.Do(func() {
		var trusted bool
		f.tree, trusted, f.err = f.walk(ctx)
		if f.err == nil && trusted {
			f.key, f.err = f.hash(ctx)
		}
	})
}

// flat lists the entries from the walk, once scan has walked.
func (f *Files) flat() {
	f.flatOnce.Do(func() {
		if f.err == nil && f.tree != nil {
			f.entries, f.oids = f.flatten()
		}
	})
}

// walk reads the tree (or, when the layer is a single file, sets its one
// entry) and tells whether it is in a git work tree whose index can be
// trusted.
func (f *Files) walk(ctx context.Context) (*filesWalk, bool, error) {
	root, top, fi, err := f.locate()
	if err != nil {
		return nil, false, err
	}
	dest, err := CleanPath(f.dest())
	if err != nil {
		return nil, false, fmt.Errorf("destination %q: %w", f.Dest, err)
	}
	w := &filesWalk{f: f, ctx: ctx, root: root, top: top, dest: dest, links: map[inode]string{}}
	if err := w.compile(); err != nil {
		return nil, false, err
	}
	if !fi.IsDir() {
		// A single file: it lands at Dest (a file path) when Dest does not end in "/".
		e, err := f.entry(root, top, fi, dest)
		if err != nil {
			return nil, false, err
		}
		if strings.HasSuffix(f.Dest, "/") {
			e.Path = path.Join(dest, filepath.Base(top))
		}
		f.flatOnce.Do(func() { f.entries = []Entry{e} })
		return nil, false, nil
	}
	if err := w.run(func() *gitIndex { return openGitIndex(ctx, root) }); err != nil {
		return nil, false, err
	}
	return w, w.git != nil && w.git.trusted(ctx, top, w.gitattributes), nil
}

// flatten lists the walk's entries, with the object IDs of the clean
// tracked files aligned (nil outside git): in walk order, then the
// parents of what Include keeps, then Dest itself.
func (f *Files) flatten() ([]Entry, []string) {
	w := f.tree
	entries, oids := w.flatten()
	if w.include != nil {
		entries = withParents(entries, w.dest, f.UID, f.GID)
	}
	if w.dest != "" {
		entries = append(entries, f.destEntry())
	}
	if oids != nil {
		// Entries appended after the walk (directories) have no ID.
		oids = append(oids, make([]string, len(entries)-len(oids))...)
	}
	return entries, oids
}

func (f *Files) destEntry() Entry {
	return Entry{Path: f.tree.dest, Type: TypeDir, Mode: 0o755, UID: f.UID, GID: f.GID}
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

// hash digests the entries, a file's content named by its git object ID,
// taken from the index or else read: as the digests of the directories
// that hold them (see dirNode.digest), most of them taken while the tree
// was walked, in walk order. When Include adds parents after the walk,
// the list is made and its records digested in path order instead.
func (f *Files) hash(ctx context.Context) (string, error) {
	w := f.tree
	format := w.git.wt.ObjectFormat
	if w.include != nil {
		return f.hashList(ctx, format)
	}
	if err := w.readUnknown(ctx, blobSum(format)); err != nil {
		return "", err
	}
	w.digestRest()
	b := fmt.Appendf(nil, "files-by-dir\x00%d:%d\x00git-%s\x00", f.UID, f.GID, format)
	if w.dest != "" {
		d := f.destEntry()
		b = appendRecord(b, &d, "")
	}
	for _, n := range w.nodes {
		b = append(append(append(b, n.relRoot...), 0), n.sum...)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// hashList is hash over the list of entries, their records in path order.
func (f *Files) hashList(ctx context.Context, format string) (string, error) {
	f.flat()
	sums, err := contentSums(ctx, f.entries, f.oids, blobSum(format))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	b := fmt.Appendf(nil, "files\x00%d:%d\x00git-%s\x00", f.UID, f.GID, format)
	for _, i := range sortedOrder(f.entries) {
		if b = appendRecord(b, &f.entries[i], sums[i]); len(b) > 32<<10 {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// appendRecord appends what a git kind's key says of e (sum names a
// file's content): as fmt's "%s\x00%d\x00%o\x00%d:%d\x00%s\x00", then a
// file's size and sum, without fmt's cost per entry.
func appendRecord(b []byte, e *Entry, sum string) []byte {
	b = append(append(b, e.Path...), 0)
	b = append(strconv.AppendUint(b, uint64(e.Type), 10), 0)
	b = append(strconv.AppendUint(b, uint64(e.Mode), 8), 0)
	b = append(strconv.AppendInt(b, int64(e.UID), 10), ':')
	b = append(strconv.AppendInt(b, int64(e.GID), 10), 0)
	b = append(append(b, e.Link...), 0)
	if e.Type == TypeFile {
		b = append(strconv.AppendInt(b, e.Size, 10), 0)
		b = append(append(b, sum...), 0)
	}
	return b
}

// sortedOrder is the permutation that sorts entries by path.
func sortedOrder(entries []Entry) []int {
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	// A walk's order is nearly sorted, which pdqsort makes short work of.
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(entries[i].Path, entries[j].Path) })
	return order
}

// ContentSums returns the hex sha256 of every regular file's content ("" for
// other entries and empty files), computed in parallel: most of a cold
// layer key's cost. A file whose size differs from its entry's is an error.
func ContentSums(ctx context.Context, entries []Entry) ([]string, error) {
	return contentSums(ctx, entries, nil, sha256Sum)
}

// contentSums is ContentSums with sum naming each file's content, except
// where known (when not nil) already has a name for it. Each of a few
// workers reads its files through one buffer.
func contentSums(ctx context.Context, entries []Entry, known []string, sum func(Entry, []byte) (string, error)) ([]string, error) {
	sums := make([]string, len(entries))
	work := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			buf := make([]byte, 64<<10)
			for i := range work {
				s, err := sum(entries[i], buf)
				if err != nil {
					return err
				}
				sums[i] = s
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(work)
		for i, e := range entries {
			if e.Type != TypeFile || e.Size == 0 {
				continue // an empty file is named by its size alone, in either kind of key
			}
			if known != nil && known[i] != "" {
				sums[i] = known[i]
				continue
			}
			select {
			case work <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return sums, nil
}

func sha256Sum(e Entry, buf []byte) (string, error) {
	h := sha256.New()
	if err := copyContent(h, e, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyContent writes e's content to w through buf, checking its size.
func copyContent(w io.Writer, e Entry, buf []byte) error {
	if e.Open == nil {
		return fmt.Errorf("%s: no content", e.Path)
	}
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.Path, err)
	}
	defer rc.Close()
	// Hidden behind a plain Reader, a file cannot choose io.Copy's path
	// (os.File.WriteTo), which allocates a buffer per file.
	n, err := io.CopyBuffer(w, struct{ io.Reader }{rc}, buf)
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.Path, err)
	}
	if n != e.Size {
		return fmt.Errorf("%s changed while it was read (%d bytes, expected %d)", e.Path, n, e.Size)
	}
	return nil
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
