package layers

import (
	"context"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/logctx"
)

// gitIndex keys a Files tree's clean tracked files by the object IDs in
// git's index instead of reading them. An object ID names the content (git
// hashes "blob <size>\0" and the bytes), so a fresh clone anywhere gives the
// same IDs; the stat data only tells whether the ID still describes the
// file here. Every file git cannot vouch for (untracked, modified, racily
// clean) is read and hashed the same way, so whichever way a file's ID was
// found the key is the same.
type gitIndex struct {
	wt  git.WorkTree
	idx *git.Index
	// rootRel is the repository a Files tree is taken from, relative to
	// the work tree's top ("" for the top itself).
	rootRel string
	// settings are asked for with the work tree (see git.Ask).
	settings git.ConvertSettings
}

// openGitIndex returns the index of the work tree root lies in, or nil
// when there is none or it cannot be trusted as a whole (a split index
// keeps entries in another file; a sparse index keeps directories): then
// every file is read, as outside git.
func openGitIndex(ctx context.Context, root string) *gitIndex {
	log := logctx.From(ctx)
	facts := git.AskIn(ctx, root) // a build has asked already, for its annotations
	wt, err := facts.WorkTree()
	if err != nil {
		return nil
	}
	if git.HashSize(wt.ObjectFormat) == 0 {
		log.Debug("files: unknown git object format, reading every file", "format", wt.ObjectFormat)
		return nil
	}
	idx, err := readIndexOnce(wt)
	if err != nil {
		// A missing index (a new repository) or one being rewritten.
		log.Debug("files: not using the git index, reading every file", "err", err)
		return nil
	}
	for _, ext := range []string{"link", "sdir"} {
		if idx.Has(ext) {
			log.Debug("files: git index has a split or sparse index extension, reading every file", "extension", ext)
			return nil
		}
	}
	if !within(wt.Top, root) {
		log.Debug("files: repository outside its git work tree's top, reading every file", "root", root, "top", wt.Top)
		return nil
	}
	rootRel := relTo(wt.Top, root)
	if rootRel == "." {
		rootRel = ""
	}
	return &gitIndex{wt: wt, idx: idx, rootRel: rootRel, settings: facts.ConvertSettings(wt)}
}

// indexes keeps the indexes read in this process, so that the files
// layers of one build over one repository parse its index once. An entry
// holds while the index file is the same (size, mtime, inode).
var indexes struct {
	sync.Mutex
	m map[indexFile]*git.Index
}

type indexFile struct {
	path  string
	size  int64
	mtime time.Time
	ino   uint64
}

func readIndexOnce(wt git.WorkTree) (*git.Index, error) {
	p := filepath.Join(wt.GitDir, "index")
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	k := indexFile{path: p, size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = st.Ino
	}
	indexes.Lock()
	defer indexes.Unlock()
	if idx, ok := indexes.m[k]; ok {
		return idx, nil
	}
	idx, err := wt.ReadIndex()
	if err != nil {
		return nil, err
	}
	if indexes.m == nil {
		indexes.m = map[indexFile]*git.Index{}
	}
	clear(indexes.m) // one repository at a time is what a build reads
	indexes.m[k] = idx
	return idx, nil
}

// oid returns the object ID of the file name in the directory dir (the
// repository's dir, slash-separated, "." for itself) when git's index
// vouches for it, st being its stat data. hint is where in the index to
// look first (see git.Index.LookupNear); oid moves it on.
func (g *gitIndex) oid(dir, name string, st *git.FileStat, hint *int) (string, bool) {
	switch {
	case dir == ".":
		dir = g.rootRel
	case g.rootRel != "":
		dir = g.rootRel + "/" + dir
	}
	e, next, ok := g.idx.LookupIn(dir, name, *hint)
	*hint = next
	if !ok || !g.idx.CleanStat(&e, *st) {
		return "", false
	}
	return e.OID, true
}

// trusted reports whether the IDs hold for the bytes on disk: no
// attribute or setting makes git store other bytes than the file has.
// seen are the .gitattributes files the walk met (tracked or not); the
// index lists the tracked ones elsewhere, and top's ancestors up to the
// work tree's top may hold more.
func (g *gitIndex) trusted(ctx context.Context, top string, seen []string) bool {
	log := logctx.From(ctx)
	files := append([]string(nil), seen...)
	for i := range g.idx.Len() {
		if p := g.idx.Path(i); path.Base(p) == ".gitattributes" {
			full := filepath.Join(g.wt.Top, filepath.FromSlash(p))
			if _, err := os.Lstat(full); err != nil {
				// git would fall back to the index's copy, unread here.
				log.Debug("files: a tracked .gitattributes is not in the work tree, reading every file", "path", full)
				return false
			}
			files = append(files, full)
		}
	}
	for d := top; within(g.wt.Top, d); d = filepath.Dir(d) {
		files = append(files, filepath.Join(d, ".gitattributes"))
		if d == g.wt.Top {
			break
		}
	}
	if converts, why := g.settings.Converts(files); converts {
		log.Debug("files: git may convert content, reading every file", "why", why)
		return false
	}
	return true
}

// blobSum hashes content as git hashes a blob in objectFormat. In a sha1
// repository that is SHA-1, without the collision detection git's own
// hashing has: the content git vouches for has been through git (which
// refuses a known collision attack when it receives or adds objects),
// and what is read here is the user's own work tree.
func blobSum(objectFormat string) func(Entry, []byte) (string, error) {
	return func(e Entry, buf []byte) (string, error) {
		h := git.NewHash(objectFormat)
		h.Write([]byte("blob " + strconv.FormatInt(e.Size, 10) + "\x00"))
		if err := copyContent(h, e, buf); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
}
