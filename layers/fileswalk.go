package layers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/moby/patternmatcher"
	"golang.org/x/sync/errgroup"
)

type inode struct{ dev, ino uint64 }

// filesWalk is one walk of a Files tree. Directories are read in parallel,
// each by one worker that lists it and stats its kept entries relative to
// it (see walkDir): on a large tree these calls are most of a no-op
// rebuild's time. The result is then settled in the order a serial walk
// (filepath.WalkDir's: depth first, names sorted) would give, so hard
// links and the first error are told as that walk would tell them. The
// entries stay in the directories that hold them: a key from git's index
// is digested from there (see dirNode.digest), and the flat list a layer is
// written from is made only when asked for (see flatten).
type filesWalk struct {
	f                        *Files
	ctx                      context.Context
	root, top, dest          string
	ignore, exclude, include *patternmatcher.PatternMatcher
	links                    map[inode]string // first path of each hard-linked inode
	workers                  errgroup.Group
	topDir                   *dirNode
	nodes                    []*dirNode // every directory read
	// git, when the tree is in a git work tree, names clean tracked files;
	// gitattributes lists the attribute files met, which may make the IDs
	// describe other bytes. The index is read while the tree is (see
	// run): index is set once it is, and directories read from then on
	// look their files up as they go.
	git           *gitIndex
	index         atomic.Pointer[gitIndex]
	mu            sync.Mutex // guards gitattributes
	gitattributes []string
}

// dirNode is one directory the walk read: the entries it records, in
// name order, with the directories walked into among them.
type dirNode struct {
	relRoot string // the directory, relative to the repository
	dir     string // its path, where its files are opened
	// entries have no Open until flatten gives them one: a no-op
	// rebuild never opens a file, and a closure per file is memory.
	entries []Entry
	stats   []git.FileStat // aligned with entries, for git's index (until looked up)
	oids    []string       // aligned with entries, in a git work tree
	hint    int            // where in git's index to look up the next entry
	paths   pathBuf        // holds the entries' paths
	// sum is the digest of the entries' records in a key from git's
	// index (see digest), nil until taken.
	sum     []byte
	settled bool     // its hard links are settled: digestRest runs after settle
	links   []linkAt // the hard-linked files among entries
	subs    []subDir
	// err stops the walk after everything above (listing the directory
	// failed, or one of its names).
	err error
}

// linkAt is the inode of entries[i], a file with more than one link.
type linkAt struct {
	i int
	k inode
}

// subDir is a directory walked into: its entries come after entries[:at].
type subDir struct {
	at int
	n  *dirNode
}

// walkScratch is a worker's reused buffers.
type walkScratch struct {
	list listScratch
	ents []dirent
	info statInfo
	rec  []byte // records to digest
}

var walkScratchPool = sync.Pool{New: func() any { return new(walkScratch) }}

// run reads the tree below top and settles its entries in walk order.
// Git's index (from openIndex, which finds and parses it) is read
// meanwhile, and the clean tracked files' object IDs taken from it as
// soon as it is (see readDir), or else after.
func (w *filesWalk) run(openIndex func() *gitIndex) error {
	gitc := make(chan *gitIndex, 1)
	go func() {
		g := openIndex()
		w.index.Store(g)
		gitc <- g
	}()
	w.workers.SetLimit(runtime.GOMAXPROCS(0))
	w.topDir = &dirNode{relRoot: relTo(w.root, w.top), dir: w.top}
	w.readDir(w.topDir, w.top, ".", w.topDir.relRoot)
	_ = w.workers.Wait()
	w.topDir.collect(&w.nodes)
	if w.git = <-gitc; w.git != nil {
		w.lookUp()
	}
	return w.settle(w.topDir)
}

// lookUp takes the object IDs of the clean tracked files of the
// directories read before git's index was, on a few workers.
func (w *filesWalk) lookUp() {
	w.eachNode(func(n *dirNode, rec *[]byte) {
		if n.oids != nil {
			return
		}
		n.oids = make([]string, len(n.entries))
		n.hint = -1
		for j := range n.entries {
			n.oids[j] = w.git.oidOf(n, j, &n.stats[j])
		}
		n.stats = nil
		n.digest(rec)
	})
}

// eachNode calls f for each directory read, on a few workers, each with
// a record buffer of its own to reuse.
func (w *filesWalk) eachNode(f func(n *dirNode, rec *[]byte)) {
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	for k := range workers {
		g.Go(func() error {
			var rec []byte
			for i := k; i < len(w.nodes); i += workers {
				f(w.nodes[i], &rec)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// schedule reads dir into n on another worker, or on this one when all
// are busy.
func (w *filesWalk) schedule(n *dirNode, dir, relTop, relRoot string) {
	if !w.workers.TryGo(func() error { w.readDir(n, dir, relTop, relRoot); return nil }) {
		w.readDir(n, dir, relTop, relRoot)
	}
}

// readDir lists dir (relTop and relRoot are its paths relative to the top
// directory and the repository, "." for themselves), keeps what the
// filters keep, stats it and walks into its directories.
func (w *filesWalk) readDir(n *dirNode, dir, relTop, relRoot string) {
	if err := w.ctx.Err(); err != nil {
		n.err = err
		return
	}
	d, err := openWalkDir(dir)
	if err != nil {
		n.err = fmt.Errorf("reading %s: %w", dir, err)
		return
	}
	g := w.index.Load()
	defer d.close()
	s := walkScratchPool.Get().(*walkScratch)
	defer walkScratchPool.Put(s)
	s.ents, err = d.list(&s.list, s.ents[:0])
	if err != nil {
		n.err = fmt.Errorf("reading %s: %w", dir, err)
		return
	}
	sortNames(s.ents)
	n.paths.reset(w.imagePath(relTop, ""), s.ents)
	n.entries = make([]Entry, 0, len(s.ents))
	if g != nil {
		n.oids, n.hint = make([]string, 0, len(s.ents)), -1
	} else {
		n.stats = make([]git.FileStat, 0, len(s.ents))
	}
	for _, de := range s.ents {
		walk, err := w.child(n, d, de, relTop, relRoot, &s.info, g)
		if err != nil {
			n.err = err // the walk stops at the first error
			return
		}
		if walk {
			sub := &dirNode{relRoot: join(relRoot, de.name), dir: join(dir, de.name)}
			n.subs = append(n.subs, subDir{at: len(n.entries), n: sub})
			w.schedule(sub, sub.dir, join(relTop, de.name), sub.relRoot)
		}
	}
	if g != nil {
		n.digest(&s.rec) // while the directory is at hand, when it can be
	}
}

// child filters the name de of the directory d and records it in n,
// described, when the layer keeps it; with git's index g read, its
// object ID too. It returns whether to walk into it. Paths are built only
// where needed: on a large tree, a string per file fewer is memory the
// kernel need not fault in.
func (w *filesWalk) child(n *dirNode, d *walkDir, de dirent, relTop, relRoot string, info *statInfo, g *gitIndex) (bool, error) {
	if relRoot == "." && de.name == ".git" {
		// Never part of a layer: it differs between checkouts. (A linked
		// worktree's .git is a file.)
		return false, nil
	}
	if de.name == ".gitattributes" {
		w.mu.Lock()
		w.gitattributes = append(w.gitattributes, join(d.path, de.name)) // it applies whether or not the layer keeps it
		w.mu.Unlock()
	}
	isDir := de.typ == direntDir
	if de.typ == direntUnknown {
		fi, err := d.lstat(de.name, info)
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", join(d.path, de.name), err)
		}
		isDir = fi.IsDir()
	}
	keep, err := w.keep(d.path, de.name, relTop, relRoot, isDir)
	if err == filepath.SkipDir {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !keep || w.include != nil && isDir {
		// An excluded directory an exclusion may reach into, or one that
		// comes back as a parent of what is included.
		return isDir, nil
	}
	e, link, st, err := w.describeOne(d, de.name, &n.paths, info)
	if err != nil {
		return false, err
	}
	if w.include != nil && e.Type == TypeDir {
		// Listed as a file but a directory now: it comes back as a
		// parent of what is included, as the directories walked into do.
		return false, nil
	}
	if link != (inode{}) {
		n.links = append(n.links, linkAt{i: len(n.entries), k: link})
	}
	n.entries = append(n.entries, e)
	if g != nil {
		n.oids = append(n.oids, g.oidOf(n, len(n.entries)-1, &st))
	} else {
		n.stats = append(n.stats, st)
	}
	// A directory replaced by a file since it was listed is not walked into.
	return isDir && e.Type == TypeDir, nil
}

// imagePath is where the name in the directory relTop (relative to the
// top directory) lands in the image.
func (w *filesWalk) imagePath(relTop, name string) string {
	switch {
	case w.dest == "":
		return join(relTop, name)
	case relTop == ".":
		return w.dest + "/" + name
	}
	return w.dest + "/" + relTop + "/" + name
}

// pathBuf makes the image paths of a directory's entries (a prefix and a
// name) in one buffer, sized for them all: an allocation per directory
// rather than per file, and fewer objects for the collector to mark.
// Appending never changes the bytes a path already holds; were the buffer
// to move, the paths made keep the old one.
type pathBuf struct {
	prefix string
	buf    []byte
}

// reset starts a buffer for the paths prefix + name of ents' names.
func (p *pathBuf) reset(prefix string, ents []dirent) {
	n := 0
	for _, de := range ents {
		n += len(prefix) + len(de.name)
	}
	p.prefix, p.buf = prefix, make([]byte, 0, n)
}

// path returns prefix + name.
func (p *pathBuf) path(name string) string {
	start := len(p.buf)
	p.buf = append(append(p.buf, p.prefix...), name...)
	if len(p.buf) == start {
		return ""
	}
	return unsafe.String(&p.buf[start], len(p.buf)-start)
}

// join is path.Join for a clean base and one name, without its cleaning.
func join(base, name string) string {
	if base == "." {
		return name
	}
	if strings.HasSuffix(base, "/") {
		return base + name
	}
	return base + "/" + name
}

// collect appends n and the directories below it to nodes.
func (n *dirNode) collect(nodes *[]*dirNode) {
	*nodes = append(*nodes, n)
	for _, s := range n.subs {
		s.n.collect(nodes)
	}
}

// settle goes through n in walk order, turning hard links into links to
// the first path of their inode, and returns the first error.
func (w *filesWalk) settle(n *dirNode) error {
	subs := n.subs
	for _, l := range n.links {
		for ; len(subs) > 0 && subs[0].at <= l.i; subs = subs[1:] {
			if err := w.settle(subs[0].n); err != nil {
				return err
			}
		}
		n.entries[l.i] = w.hardlink(n.entries[l.i], l.k)
	}
	for _, s := range subs {
		if err := w.settle(s.n); err != nil {
			return err
		}
	}
	return n.err
}

// flatten lists the settled entries in walk order, regular files given
// their Open, with the object IDs from git's index aligned (nil outside
// git).
func (w *filesWalk) flatten() ([]Entry, []string) {
	n := 0
	for _, d := range w.nodes {
		n += len(d.entries)
	}
	entries := make([]Entry, 0, n)
	var oids []string
	if w.git != nil {
		oids = make([]string, 0, n)
	}
	w.take(w.topDir, &entries, &oids)
	return entries, oids
}

func (w *filesWalk) take(n *dirNode, entries *[]Entry, oids *[]string) {
	subs := n.subs
	for i := range n.entries {
		for ; len(subs) > 0 && subs[0].at == i; subs = subs[1:] {
			w.take(subs[0].n, entries, oids)
		}
		*entries = append(*entries, n.opened(i))
		if w.git != nil {
			oid := n.oids[i]
			if n.entries[i].Type != TypeFile {
				oid = "" // a hard link now
			}
			*oids = append(*oids, oid)
		}
	}
	for _, s := range subs {
		w.take(s.n, entries, oids)
	}
}

// opened is n's entry i, given an Open when it is a regular file: one
// that keeps the directory's path and the name (shared strings) rather
// than a path of its own.
func (n *dirNode) opened(i int) Entry {
	e := n.entries[i]
	if e.Type == TypeFile && e.Open == nil {
		dir, name := n.dir, path.Base(e.Path)
		e.Open = func() (io.ReadCloser, error) { return openHostFile(join(dir, name)) }
	}
	return e
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

// describeOne stats the entry name of d into fi, its image path made in
// paths; for a regular file it returns the stat data git's index is
// checked against.
func (w *filesWalk) describeOne(d *walkDir, name string, paths *pathBuf, fi *statInfo) (Entry, inode, git.FileStat, error) {
	info, err := d.lstat(name, fi)
	if err != nil {
		return Entry{}, inode{}, git.FileStat{}, fmt.Errorf("reading %s: %w", join(d.path, name), err)
	}
	dest := paths.path(name)
	if !info.Mode().IsRegular() {
		e, err := w.f.entry(w.root, join(d.path, name), info, dest)
		return e, inode{}, git.FileStat{}, err
	}
	// HostEntry's, but for Open (see dirNode.opened).
	e := Entry{Path: dest, Type: TypeFile, Mode: HostFileMode(info.Mode()), UID: w.f.UID, GID: w.f.GID, Size: info.Size()}
	st, _ := git.StatOf(info)
	return e, hardlinkOf(info), st, nil
}

// relTo is p relative to base (a directory p is in), slash-separated.
func relTo(base, p string) string {
	if p == base {
		return "."
	}
	if rest, ok := strings.CutPrefix(p, base); ok && (strings.HasSuffix(base, "/") || strings.HasPrefix(rest, "/")) {
		return filepath.ToSlash(strings.TrimPrefix(rest, "/"))
	}
	return filepath.ToSlash(must(filepath.Rel(base, p)))
}

// keep applies the ignore file, then exclude, then include, to the name
// in dir (relTop and relRoot relative to the top directory and the
// repository). It returns filepath.SkipDir for a skipped directory no
// exclusion reaches into.
func (w *filesWalk) keep(dir, name, relTop, relRoot string, isDir bool) (bool, error) {
	var skip bool
	var err error
	if w.ignore != nil {
		skip, err = skipped(join(relRoot, name), w.ignore, isDir)
	}
	relT := ""
	if w.exclude != nil || w.include != nil {
		relT = join(relTop, name)
	}
	if err == nil && !skip {
		skip, err = skipped(relT, w.exclude, isDir)
	}
	if err != nil {
		return false, fmt.Errorf("matching %s: %w", join(dir, name), err)
	}
	if skip {
		if isDir && !hasExclusions(w.ignore, w.exclude) {
			return false, filepath.SkipDir
		}
		return false, nil
	}
	if w.include != nil && !isDir {
		ok, err := w.include.MatchesOrParentMatches(relT)
		if err != nil {
			return false, fmt.Errorf("matching %s: %w", join(dir, name), err)
		}
		return ok, nil
	}
	return true, nil
}

// hardlink turns the second and later paths of a hard-linked file into
// links to the first.
func (w *filesWalk) hardlink(e Entry, k inode) Entry {
	if k == (inode{}) {
		return e
	}
	if first, ok := w.links[k]; ok {
		return Entry{Path: e.Path, Type: TypeHardlink, Link: first, Mode: e.Mode, UID: e.UID, GID: e.GID}
	}
	w.links[k] = e.Path
	return e
}

// readUnknown names the content of the regular files git's index does
// not vouch for (untracked, modified, racily clean) with sum, reading them
// in parallel, as their object IDs.
func (w *filesWalk) readUnknown(ctx context.Context, sum func(Entry, []byte) (string, error)) error {
	var (
		entries []Entry
		at      []*string
	)
	for _, n := range w.nodes {
		for i := range n.entries {
			if e := &n.entries[i]; e.Type == TypeFile && e.Size > 0 && n.oids[i] == "" {
				entries, at = append(entries, n.opened(i)), append(at, &n.oids[i])
			}
		}
	}
	sums, err := contentSums(ctx, entries, nil, sum)
	if err != nil {
		return err
	}
	for i, s := range sums {
		*at[i] = s
	}
	return nil
}

// sortNames sorts a directory's names as strings.Compare does, most
// compared by their first eight bytes as one number: a name's first bytes
// mostly tell it apart ("f00012.txt"), and a large tree has hundreds of
// thousands of names to sort.
func sortNames(ents []dirent) {
	for i := range ents {
		var k [8]byte
		copy(k[:], ents[i].name) // a shorter name sorts first: no name holds a NUL
		ents[i].key = binary.BigEndian.Uint64(k[:])
	}
	slices.SortFunc(ents, func(a, b dirent) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
}

// digest sets n.sum, the digest of the records of n's entries in a key
// from git's index (see appendRecord), made in rec, when nothing is left
// to change them: every regular file is named (git's index vouches for it
// or it has been read) and no hard link is left to settle (see settle).
func (n *dirNode) digest(rec *[]byte) {
	if n.err != nil || len(n.links) > 0 && !n.settled {
		return
	}
	b := (*rec)[:0]
	for i := range n.entries {
		e, sum := &n.entries[i], n.oids[i]
		switch {
		case e.Type != TypeFile:
		case e.Size == 0:
			sum = "" // an empty file is named by its size alone, as contentSums names it
		case sum == "":
			return // to be read
		}
		b = appendRecord(b, e, sum)
	}
	s := sha256.Sum256(b)
	n.sum, *rec = s[:], b
}

// digestRest digests the directories whose digests were not taken while
// the tree was walked, on a few workers.
func (w *filesWalk) digestRest() {
	w.eachNode(func(n *dirNode, rec *[]byte) {
		if n.sum == nil {
			n.settled = true
			n.digest(rec)
		}
	})
}

// oidOf is the object ID of n's entry i when git's index vouches for it,
// st being its stat data; "" when the file must be read.
func (g *gitIndex) oidOf(n *dirNode, i int, st *git.FileStat) string {
	if !st.Regular {
		return ""
	}
	oid, _ := g.oid(n.relRoot, path.Base(n.entries[i].Path), st, &n.hint)
	return oid
}
