package layers

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/moby/patternmatcher"
	"golang.org/x/sync/errgroup"
)

type inode struct{ dev, ino uint64 }

// filesWalk is one walk of a Files tree. Directories are read in parallel,
// each by one worker that lists it and stats its kept entries relative to
// it (see walkDir): on a large tree these calls are most of a no-op
// rebuild's time. The result is then taken in the order a serial walk
// (filepath.WalkDir's: depth first, names sorted) would give, so hard
// links and the first error are told as that walk would tell them.
type filesWalk struct {
	f                        *Files
	ctx                      context.Context
	root, top, dest          string
	ignore, exclude, include *patternmatcher.PatternMatcher
	links                    map[inode]string // first path of each hard-linked inode
	workers                  errgroup.Group
	entries                  []Entry
	// git, when the tree is in a git work tree, names clean tracked files:
	// oids is aligned with entries; gitattributes lists the attribute
	// files met, which may make the IDs describe other bytes. The index
	// is read while the tree is (see run).
	git           *gitIndex
	oids          []string
	mu            sync.Mutex // guards gitattributes
	gitattributes []string
}

// dirNode is one directory the walk read: the entries it records, in
// name order, with the directories walked into among them.
type dirNode struct {
	relRoot string // the directory, relative to the repository
	entries []Entry
	stats   []git.FileStat // aligned with entries, for git's index
	oids    []string       // aligned with entries, in a git work tree
	links   []linkAt       // the hard-linked files among entries
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
}

var walkScratchPool = sync.Pool{New: func() any { return new(walkScratch) }}

// run reads the tree below top and takes its entries in walk order. Git's
// index (from openIndex, which finds and parses it) is read meanwhile,
// and the clean tracked files' object IDs taken from it after.
func (w *filesWalk) run(openIndex func() *gitIndex) error {
	gitc := make(chan *gitIndex, 1)
	go func() { gitc <- openIndex() }()
	w.workers.SetLimit(runtime.GOMAXPROCS(0))
	top := &dirNode{relRoot: relTo(w.root, w.top)}
	w.readDir(top, w.top, ".", top.relRoot)
	_ = w.workers.Wait()
	var nodes []*dirNode
	n := top.count(&nodes)
	if w.git = <-gitc; w.git != nil {
		w.lookUp(nodes)
		w.oids = make([]string, 0, n)
	}
	w.entries = make([]Entry, 0, n)
	return w.take(top)
}

// lookUp takes the object IDs of the nodes' clean tracked files from git's
// index, on a few workers.
func (w *filesWalk) lookUp(nodes []*dirNode) {
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	for k := range workers {
		g.Go(func() error {
			for i := k; i < len(nodes); i += workers {
				n := nodes[i]
				n.oids = make([]string, len(n.entries))
				hint := -1
				for j := range n.entries {
					if n.stats[j].Regular {
						n.oids[j], _ = w.git.oid(n.relRoot, path.Base(n.entries[j].Path), &n.stats[j], &hint)
					}
				}
				n.stats = nil
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
	defer d.close()
	s := walkScratchPool.Get().(*walkScratch)
	defer walkScratchPool.Put(s)
	s.ents, err = d.list(&s.list, s.ents[:0])
	if err != nil {
		n.err = fmt.Errorf("reading %s: %w", dir, err)
		return
	}
	slices.SortFunc(s.ents, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	n.entries = make([]Entry, 0, len(s.ents))
	n.stats = make([]git.FileStat, 0, len(s.ents))
	for _, de := range s.ents {
		walk, err := w.child(n, d, de, relTop, relRoot, &s.info)
		if err != nil {
			n.err = err // the walk stops at the first error
			return
		}
		if walk {
			sub := &dirNode{relRoot: join(relRoot, de.name)}
			n.subs = append(n.subs, subDir{at: len(n.entries), n: sub})
			w.schedule(sub, join(dir, de.name), join(relTop, de.name), join(relRoot, de.name))
		}
	}
}

// child filters the name de of the directory d and records it in n,
// described, when the layer keeps it. It returns whether to walk into it.
// Paths are built only where needed: on a large tree, a string per file
// fewer is memory the kernel need not fault in.
func (w *filesWalk) child(n *dirNode, d *walkDir, de dirent, relTop, relRoot string, info *statInfo) (bool, error) {
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
	e, link, st, err := w.describeOne(d, de.name, relTop, info)
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
	n.stats = append(n.stats, st)
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

// count is how many entries n and the directories below it record; it
// appends them all to nodes.
func (n *dirNode) count(nodes *[]*dirNode) int {
	*nodes = append(*nodes, n)
	c := len(n.entries)
	for _, s := range n.subs {
		c += s.n.count(nodes)
	}
	return c
}

// take appends n's entries in walk order: the first error, hard links to
// the first path of their inode.
func (w *filesWalk) take(n *dirNode) error {
	subs, links := n.subs, n.links
	for i := 0; i <= len(n.entries); i++ {
		for len(subs) > 0 && subs[0].at == i {
			if err := w.take(subs[0].n); err != nil {
				return err
			}
			subs = subs[1:]
		}
		if i == len(n.entries) {
			break
		}
		e := n.entries[i]
		if len(links) > 0 && links[0].i == i {
			e = w.hardlink(e, links[0].k)
			links = links[1:]
		}
		w.entries = append(w.entries, e)
		if w.git != nil {
			oid := n.oids[i]
			if e.Type != TypeFile {
				oid = ""
			}
			w.oids = append(w.oids, oid)
		}
	}
	return n.err
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

// describeOne stats the entry name of d (in relTop below the top
// directory) into fi; for a regular file it returns the stat data git's
// index is checked against.
func (w *filesWalk) describeOne(d *walkDir, name, relTop string, fi *statInfo) (Entry, inode, git.FileStat, error) {
	info, err := d.lstat(name, fi)
	if err != nil {
		return Entry{}, inode{}, git.FileStat{}, fmt.Errorf("reading %s: %w", join(d.path, name), err)
	}
	dest := w.imagePath(relTop, name)
	if !info.Mode().IsRegular() {
		e, err := w.f.entry(w.root, join(d.path, name), info, dest)
		return e, inode{}, git.FileStat{}, err
	}
	// HostEntry's, with an Open that keeps the directory's path and the
	// name (shared strings) rather than a path of its own.
	dir := d.path
	e := Entry{Path: dest, Type: TypeFile, Mode: HostFileMode(info.Mode()), UID: w.f.UID, GID: w.f.GID, Size: info.Size(),
		Open: func() (io.ReadCloser, error) { return openHostFile(join(dir, name)) }}
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
