package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"

	"github.com/assemble-build/assemble/layers"
)

// copyRequest is a COPY or ADD, its words expanded.
type copyRequest struct {
	add       bool
	text      string
	loc       []parser.Range
	params    instructions.SourcesAndDest
	from      string
	chown     string
	chmod     string
	link      bool
	excludes  []string
	parents   bool
	checksum  string
	unpack    bool
	unpackSet bool
}

func (r copyRequest) verb() string {
	if r.add {
		return "ADD"
	}
	return "COPY"
}

// copier gathers the entries of one COPY or ADD.
type copier struct {
	s        *stage
	req      copyRequest
	t        *tree
	owner    *owner
	mode     *chmod
	excludes *patternmatcher.PatternMatcher
	// entries by path; order keeps the first appearance.
	byPath  map[string]int
	entries []layers.Entry
	// prov maps image paths to repository paths (files from the context).
	prov map[string]string
	// links maps a source file with several names (info.hardLink) to the
	// image path of the first name placed from the current source.
	links map[any]string
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

func isGit(s string) bool {
	return strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") ||
		(isURL(s) && (strings.HasSuffix(strings.SplitN(s, "#", 2)[0], ".git") || strings.Contains(s, ".git#")))
}

func (s *stage) copyInstr(req copyRequest) error {
	verb := req.verb()
	if err := checkCopyRequest(req); err != nil {
		return err
	}
	c, err := s.newCopier(req)
	if err != nil {
		return err
	}
	dest, destRel, destIsDir, err := s.copyDest(req)
	if err != nil {
		return err
	}
	// The destination's links are followed, the last one's too, even
	// dangling (BuildKit resolves it in the stage's root): COPY to a link
	// writes where it points, and the link stays.
	if destRel, err = c.t.rootPath(destRel); err != nil {
		return fmt.Errorf("%s destination %s: %w", verb, req.params.DestPath, err)
	}
	src, fromLabel, err := s.copySource(req)
	if err != nil {
		return err
	}
	items, err := c.gather(src)
	if err != nil {
		return err
	}
	// Several sources, named or matched, are copied one after the other
	// onto the destination, as BuildKit's file op copies them (one copy
	// per source, one per match): into it when it is a directory, else
	// each file replacing the previous one.
	for _, it := range items {
		// BuildKit copies each source (each match of a wildcard) on its
		// own: hard links are kept within one, not across two.
		clear(c.links)
		if err := c.place(src, it, destRel, destIsDir); err != nil {
			return fmt.Errorf("%s %s: %w", verb, it.name(), err)
		}
	}
	return s.finishCopy(c, items, dest, fromLabel)
}

// checkCopyRequest refuses what COPY and ADD do not take.
func checkCopyRequest(req copyRequest) error {
	verb := req.verb()
	if req.checksum != "" {
		if !req.add {
			return errors.New("COPY --checksum: only ADD of a URL takes a checksum")
		}
		if len(req.params.SourcePaths) != 1 || !isURL(req.params.SourcePaths[0]) {
			return errors.New("ADD --checksum needs exactly one http(s) source")
		}
	}
	for _, src := range req.params.SourcePaths {
		switch {
		case isGit(src):
			return fmt.Errorf("%s %s: git sources are not supported; clone the repository into the build context and COPY it", verb, src)
		case isURL(src) && !req.add:
			return fmt.Errorf("COPY %s: COPY takes no URLs (use ADD)", src)
		case isURL(src) && req.from != "":
			return fmt.Errorf("%s --from %s: a URL cannot come from another stage", verb, src)
		}
	}
	if req.link && req.chown != "" && !isNumericOwner(req.chown) {
		return fmt.Errorf("%s --link --chown=%s: names cannot be resolved in a linked layer; use numeric uid[:gid]", verb, req.chown)
	}
	return nil
}

// newCopier parses --chmod, --exclude and --chown and picks the tree the
// entries are placed against.
func (s *stage) newCopier(req copyRequest) (*copier, error) {
	verb := req.verb()
	c := &copier{s: s, req: req, byPath: map[string]int{}, prov: map[string]string{}, links: map[any]string{}}
	var err error
	if c.mode, err = parseChmod(req.chmod); err != nil {
		return nil, err
	}
	if len(req.excludes) > 0 {
		if c.excludes, err = patternmatcher.New(req.excludes); err != nil {
			return nil, fmt.Errorf("%s --exclude: %w", verb, err)
		}
	}
	if req.link {
		c.t = newTree(s.b.ctx) // a linked layer is made on an empty root, then stacked
	} else if c.t, err = s.files(); err != nil {
		return nil, err
	}
	if req.chown != "" {
		o, err := resolveOwner(req.chown, c.t, !s.b.dry())
		if err != nil {
			return nil, fmt.Errorf("%s --chown=%s: %w", verb, req.chown, err)
		}
		c.owner = &o
	}
	return c, nil
}

// copyDest is the destination, absolute (dest) and as an image path
// (destRel), and whether it names a directory.
func (s *stage) copyDest(req copyRequest) (dest, destRel string, destIsDir bool, err error) {
	dest = req.params.DestPath
	destIsDir = dest == "" || dest == "." || strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		wd := s.cf.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	destRel, err = layers.CleanPath(dest)
	if err != nil {
		return "", "", false, fmt.Errorf("%s destination %s: %w", req.verb(), req.params.DestPath, err)
	}
	if destRel == "" {
		destIsDir = true
	}
	return dest, destRel, destIsDir, nil
}

// copySource opens where the sources are read: --from's stage, context or
// image, else the build context (none when every source is a URL).
func (s *stage) copySource(req copyRequest) (src source, fromLabel string, err error) {
	if req.from != "" {
		src, fromLabel, err = s.b.fromSource(req.from, s.idx)
		if err != nil {
			return nil, "", fmt.Errorf("%s --from=%s: %w", req.verb(), req.from, err)
		}
		return src, fromLabel, nil
	}
	if len(req.params.SourcePaths) > 0 && !allURLs(req.params.SourcePaths) {
		h, err := s.b.mainContext()
		if err != nil {
			return nil, "", err
		}
		return h, "", nil
	}
	return nil, "", nil
}

// gather lists what to place: files and directories of the source, URLs,
// heredocs.
func (c *copier) gather(src source) ([]copyItem, error) {
	var items []copyItem
	for _, p := range c.req.params.SourcePaths {
		if isURL(p) {
			items = append(items, copyItem{url: p})
			continue
		}
		if src == nil {
			// Describe without the stage's files: say what it would copy.
			items = append(items, copyItem{path: p, unknown: true})
			continue
		}
		matched, err := c.expand(src, p)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.req.verb(), p, err)
		}
		items = append(items, matched...)
	}
	for _, h := range c.req.params.SourceContents {
		items = append(items, copyItem{heredoc: &h})
	}
	return items, nil
}

// finishCopy reports the step and builds the layer of the gathered
// entries (in a dry run, only reports).
func (s *stage) finishCopy(c *copier, items []copyItem, dest, fromLabel string) error {
	req := c.req
	createdBy := copyHistory(req)
	becomes := fmt.Sprintf("layer: %d entries -> %s", len(c.entries), dest)
	if fromLabel != "" {
		becomes += " (from " + fromLabel + ")"
	}
	unknown := false
	for _, it := range items {
		unknown = unknown || it.unknown || it.url != "" && s.b.dry()
	}
	if unknown {
		what := "copy from " + fromLabel
		if fromLabel == "" {
			what = "download"
		}
		s.b.step(s, req.loc, req.text, "layer: "+what+" -> "+dest)
		return nil
	}
	if len(c.entries) == 0 {
		s.history(createdBy, "", false)
		s.b.step(s, req.loc, req.text, "nothing to copy")
		return nil
	}
	s.b.step(s, req.loc, req.text, becomes)
	if s.b.dry() {
		maps.Copy(s.prov, c.prov)
		return nil
	}
	spec := newEntriesLayer(req.text, c.entries)
	if err := s.buildLayer(spec, createdBy, ""); err != nil {
		return err
	}
	if req.link {
		if s.tree != nil {
			if _, err := s.files(); err != nil {
				return err
			}
		}
	} else {
		c.t.applied++ // the entries were applied while they were placed
	}
	maps.Copy(s.prov, c.prov)
	return nil
}

func allURLs(ps []string) bool {
	for _, p := range ps {
		if !isURL(p) {
			return false
		}
	}
	return true
}

// copyHistory is the history line BuildKit writes for COPY and ADD.
func copyHistory(r copyRequest) string {
	var b strings.Builder
	b.WriteString(r.verb())
	if r.parents {
		b.WriteString(" --parents")
	}
	if r.chown != "" {
		b.WriteString(" --chown=" + r.chown)
	}
	if r.chmod != "" {
		b.WriteString(" --chmod=" + r.chmod)
	}
	for _, s := range r.params.SourcePaths {
		b.WriteString(" " + s)
	}
	for _, h := range r.params.SourceContents {
		b.WriteString(" <<" + h.Path)
	}
	b.WriteString(" " + r.params.DestPath)
	return b.String()
}

// copyItem is one thing to place.
type copyItem struct {
	path    string // in the source, as matched ("dir/a.txt")
	pivot   string // for --parents: the part of path not kept
	url     string
	heredoc *instructions.SourceContent
	unknown bool // describe only
}

func (it copyItem) name() string {
	switch {
	case it.url != "":
		return it.url
	case it.heredoc != nil:
		return "<<" + it.heredoc.Path
	}
	return it.path
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[\\") }

// expand matches a source path (with wildcards) in src.
func (c *copier) expand(src source, p string) ([]copyItem, error) {
	pivot := ""
	pattern := p
	if c.req.parents {
		if a, b, ok := strings.Cut(p, "/./"); ok {
			pivot, pattern = a, path.Join(a, b)
		}
	}
	if rel := path.Clean(strings.TrimPrefix(filepath.ToSlash(pattern), "/")); rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("%s is outside %s (a build can only read its context)", p, src.label())
	}
	clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(pattern)), "/")
	pivotClean := strings.TrimPrefix(path.Clean("/"+pivot), "/")
	if !hasMeta(clean) {
		if _, err := c.statFollow(src, clean); err != nil {
			if isNotExist(err) {
				return nil, fmt.Errorf("not found in %s", src.label())
			}
			return nil, err
		}
		return []copyItem{{path: clean, pivot: pivotClean}}, nil
	}
	var out []string
	if err := globWalk(src, "", strings.Split(clean, "/"), &out); err != nil {
		return nil, err
	}
	items := make([]copyItem, len(out))
	for i, m := range out {
		items[i] = copyItem{path: m, pivot: pivotClean}
	}
	return items, nil
}

// globWalk matches the remaining pattern parts below dir (directories
// followed through symbolic links, as BuildKit resolves wildcards).
func globWalk(src source, dir string, parts []string, out *[]string) error {
	if len(parts) == 0 {
		*out = append(*out, dir)
		return nil
	}
	part := parts[0]
	if !hasMeta(part) {
		next := path.Join(dir, part)
		if _, err := statFollow(src, next); err != nil {
			if isNotExist(err) {
				return nil
			}
			return err
		}
		return globWalk(src, next, parts[1:], out)
	}
	if _, err := path.Match(part, ""); err != nil {
		return fmt.Errorf("bad pattern %q: %w", part, err)
	}
	rdir, err := src.resolve(dir)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	names, err := src.readDir(rdir)
	if err != nil {
		return nil // not a directory: nothing matches below it
	}
	for _, n := range names {
		if ok, _ := path.Match(part, n); ok {
			if err := globWalk(src, path.Join(dir, n), parts[1:], out); err != nil {
				return err
			}
		}
	}
	return nil
}

func statFollow(src source, p string) (info, error) {
	r, err := src.resolve(p)
	if err != nil {
		return info{}, err
	}
	return src.lstat(r)
}

func (c *copier) statFollow(src source, p string) (info, error) { return statFollow(src, p) }

// ownerOf is who owns a copied entry.
func (c *copier) ownerOf(src source, i info) (int, int) {
	if c.owner != nil {
		return c.owner.uid, c.owner.gid
	}
	if src != nil && src.keepOwners() {
		return i.uid, i.gid
	}
	return 0, 0
}

func (c *copier) newDirOwner() (int, int) {
	if c.owner != nil {
		return c.owner.uid, c.owner.gid
	}
	return 0, 0
}

// place puts one item at the destination.
func (c *copier) place(src source, it copyItem, dest string, destIsDir bool) error {
	switch {
	case it.unknown:
		return nil
	case it.heredoc != nil:
		data := []byte(it.heredoc.Data)
		target := c.fileTarget(dest, destIsDir, path.Base(it.heredoc.Path))
		uid, gid := c.newDirOwner()
		e := layers.Entry{Type: layers.TypeFile, Mode: c.mode.apply(0o644, false), UID: uid, GID: gid, Size: int64(len(data)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
		return c.putFile(target, e, "")
	case it.url != "":
		return c.placeURL(it.url, dest, destIsDir)
	}
	resolved, err := src.resolve(it.path)
	if err != nil {
		return err
	}
	i, err := src.lstat(resolved)
	if err != nil {
		if isNotExist(err) {
			return fmt.Errorf("not found in %s", src.label())
		}
		return err
	}
	if i.special {
		return fmt.Errorf("%s is a device, pipe or socket, which a layer cannot hold", it.path)
	}
	if c.excluded(path.Base(it.path)) {
		return nil
	}
	if c.req.parents {
		rel := strings.TrimPrefix(strings.TrimPrefix(it.path, it.pivot), "/")
		target := path.Join(dest, rel)
		if i.isDir() {
			return c.putDir(src, resolved, target, i)
		}
		return c.putSource(src, resolved, i, target)
	}
	if i.isDir() {
		return c.putDir(src, resolved, dest, i)
	}
	if c.req.add && c.unpackLocal() && src != nil {
		ok, err := c.tryUnpack(it.path, func() (io.ReadCloser, error) { return src.open(resolved) }, dest)
		if err != nil || ok {
			return err
		}
	}
	target := c.fileTarget(dest, destIsDir, path.Base(it.path))
	return c.putSource(src, resolved, i, target)
}

func (c *copier) unpackLocal() bool {
	if c.req.unpackSet {
		return c.req.unpack
	}
	return c.req.from == "" // ADD unpacks local archives, not other stages' files
}

func (c *copier) repo(src source, p string) string {
	if src == nil {
		return ""
	}
	r, _ := src.repoPath(p)
	return r
}

func (c *copier) excluded(rel string) bool {
	if c.excludes == nil {
		return false
	}
	m, err := c.excludes.MatchesOrParentMatches(rel)
	return err == nil && m
}

// fileTarget is where a single file lands: inside dest when dest is (or
// names) a directory, else at dest.
func (c *copier) fileTarget(dest string, destIsDir bool, base string) string {
	if destIsDir {
		return path.Join(dest, base)
	}
	if n, _, _ := c.t.lookup(dest, true); n != nil && n.IsDir() {
		return path.Join(dest, base)
	}
	return dest
}

func (c *copier) fileEntry(src source, p string, i info) layers.Entry {
	uid, gid := c.ownerOf(src, i)
	e := layers.Entry{Type: i.typ, UID: uid, GID: gid}
	switch i.typ {
	case layers.TypeSymlink:
		e.Mode, e.Link = 0o777, i.link
	default:
		e.Mode, e.Size = c.mode.apply(i.mode, false), i.size
		e.Open = func() (io.ReadCloser, error) { return src.open(p) }
	}
	return e
}

// add records an entry (a later one replaces an earlier one at the same
// path, as a later source overwrites an earlier file) and applies it to the
// tree, so the next entries are placed against it.
func (c *copier) add(e layers.Entry, repo string) error {
	if strings.HasPrefix(path.Base(e.Path), ".wh.") {
		return fmt.Errorf("%s: names starting with .wh. are whiteouts in a layer and cannot be copied", e.Path)
	}
	if i, ok := c.byPath[e.Path]; ok {
		prev := c.entries[i]
		switch {
		case prev.Type == layers.TypeDir && e.Type == layers.TypeDir:
			return nil
		case prev.Type == layers.TypeDir || e.Type == layers.TypeDir:
			return fmt.Errorf("/%s is both a directory and a file in this copy", e.Path)
		}
		c.entries[i] = e
	} else {
		c.byPath[e.Path] = len(c.entries)
		c.entries = append(c.entries, e)
	}
	if repo != "" {
		c.prov[e.Path] = repo
	}
	return c.t.apply([]layers.Entry{e})
}

// parents adds the directories above a target: existing ones as they are,
// missing ones new.
// Missing ones are made as BuildKit's copy makes them (fsutil's MkdirAll):
// with the mode of an octal --chmod (permission bits only), else 0755, and
// the --chown owner, else root.
func (c *copier) parents(existing []layers.Entry, missing []string) error {
	uid, gid := c.newDirOwner()
	return c.parentsAs(existing, missing, c.mode.newDir(), uid, gid)
}

// parentsAs is parents with the mode and owner of missing directories given.
func (c *copier) parentsAs(existing []layers.Entry, missing []string, mode fs.FileMode, uid, gid int) error {
	for _, e := range existing {
		if _, ok := c.byPath[e.Path]; ok {
			continue
		}
		c.byPath[e.Path] = len(c.entries)
		c.entries = append(c.entries, e)
	}
	for _, m := range missing {
		if err := c.add(layers.Entry{Path: m, Type: layers.TypeDir, Mode: mode, UID: uid, GID: gid}, ""); err != nil {
			return err
		}
	}
	return nil
}

// putSource places file p of src (described by i) at target. A file with
// several names in the source, one of which this copy already placed,
// becomes a hard link to it, as BuildKit's copy keeps hard links (one inode
// and its link count in the image).
func (c *copier) putSource(src source, p string, i info, target string) error {
	e := c.fileEntry(src, p, i)
	first, linked := "", false
	if i.hardLink != nil {
		first, linked = c.links[i.hardLink]
		if j, ok := c.byPath[first]; linked && (!ok || c.entries[j].Type != layers.TypeFile) {
			linked = false // the first name was replaced since
		}
	}
	if linked {
		e = layers.Entry{Type: layers.TypeHardlink, Link: first, Mode: e.Mode, UID: e.UID, GID: e.GID}
	}
	placed, err := c.putFileAt(target, e, c.repo(src, p))
	if err == nil && i.hardLink != nil && !linked {
		c.links[i.hardLink] = placed
	}
	return err
}

// putFile places a file or symlink entry at target: the directories above
// it are followed through links, the last component is replaced.
func (c *copier) putFile(target string, e layers.Entry, repo string) error {
	_, err := c.putFileAt(target, e, repo)
	return err
}

// putFileAt is putFile, returning the image path the entry landed at.
func (c *copier) putFileAt(target string, e layers.Entry, repo string) (string, error) {
	if target == "" {
		return "", errors.New("cannot replace the root directory with a file")
	}
	resolved, existing, missing, err := c.t.place(target)
	if err != nil {
		return "", err
	}
	if n, _, _ := c.t.lookup(resolved, false); n != nil && n.IsDir() {
		return "", fmt.Errorf("cannot replace directory /%s with a file", resolved)
	}
	if err := c.parents(existing, missing); err != nil {
		return "", err
	}
	e.Path = resolved
	return resolved, c.add(e, repo)
}

// putDir copies directory p of src into target (its contents, as Docker
// copies a directory).
func (c *copier) putDir(src source, p, target string, i info) error {
	resolved := ""
	if target != "" {
		n, r, err := c.t.lookup(target, true)
		if err != nil {
			return err
		}
		switch {
		case n != nil && !n.IsDir():
			return fmt.Errorf("cannot copy a directory onto the file /%s", r)
		case n != nil:
			resolved = r
		default:
			var existing []layers.Entry
			var missing []string
			resolved, existing, missing, err = c.t.place(target)
			if err != nil {
				return err
			}
			if err := c.parents(existing, missing); err != nil {
				return err
			}
			// BuildKit copies a directory's contents into a destination it
			// creates as it creates parents (0755 or an octal --chmod's
			// permissions, the --chown owner or root), not with the source
			// directory's mode and owner.
			uid, gid := c.newDirOwner()
			if err := c.add(layers.Entry{Path: resolved, Type: layers.TypeDir, Mode: c.mode.newDir(), UID: uid, GID: gid}, c.repo(src, p)); err != nil {
				return err
			}
		}
	}
	return c.putChildren(src, p, resolved, "")
}

func (c *copier) putChildren(src source, p, target, rel string) error {
	names, err := src.readDir(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	for _, name := range names {
		if err := c.s.b.ctx.Err(); err != nil {
			return err
		}
		cp, crel, ct := path.Join(p, name), path.Join(rel, name), path.Join(target, name)
		if c.excluded(crel) {
			continue
		}
		ci, err := src.lstat(cp)
		if err != nil {
			if isNotExist(err) {
				continue
			}
			return err
		}
		switch {
		case ci.special:
			continue
		case ci.isDir():
			mark := len(c.entries)
			provisional := false
			if ps, ok := src.(interface{ provisional(string) bool }); ok {
				provisional = ps.provisional(cp)
			}
			n, r, err := c.t.lookup(ct, true)
			if err != nil {
				return err
			}
			if n != nil && !n.IsDir() {
				return fmt.Errorf("cannot copy directory %s onto the file /%s", cp, r)
			}
			dst := r
			if n == nil {
				resolved, existing, missing, err := c.t.place(ct)
				if err != nil {
					return err
				}
				if err := c.parents(existing, missing); err != nil {
					return err
				}
				uid, gid := c.ownerOf(src, ci)
				if err := c.add(layers.Entry{Path: resolved, Type: layers.TypeDir, Mode: c.mode.apply(ci.mode, true), UID: uid, GID: gid}, c.repo(src, cp)); err != nil {
					return err
				}
				dst = resolved
			}
			before := len(c.entries)
			if err := c.putChildren(src, cp, dst, crel); err != nil {
				return err
			}
			if provisional && len(c.entries) == before {
				// Ignored, and no exclusion brought anything below it back.
				for _, e := range c.entries[mark:] {
					delete(c.byPath, e.Path)
					delete(c.prov, e.Path)
				}
				c.entries = c.entries[:mark]
				if n == nil {
					c.t.remove(dst)
				}
			}
		default:
			if err := c.putSource(src, cp, ci, ct); err != nil {
				return err
			}
		}
	}
	return nil
}

// fromSource opens the source of COPY --from=NAME: an earlier stage (by
// name or index), a build context, or an image.
func (b *builder) fromSource(from string, current int) (source, string, error) {
	if res, _, _ := b.d.lex.ProcessWord(from, emptyEnv{}); res != from {
		return nil, "", errors.New("variables are not expanded in --from (as in BuildKit); define a stage with FROM ${ARG} and copy from it")
	}
	if src, ok := b.contextFor(from); ok {
		if dir, ok := b.contextDir(src); ok {
			if err := checkDir(dir); err != nil {
				return nil, "", err
			}
			h, err := b.hostSource("build context "+from, dir, nil)
			return h, "build context " + from, err
		}
		if b.dry() {
			return nil, "build context " + from, nil
		}
		s, err := b.imageSourceFor(src)
		return s, "build context " + from, err
	}
	idx := -1
	if n, err := strconv.Atoi(from); err == nil {
		if n < 0 || n >= current {
			return nil, "", fmt.Errorf("stage %d is not defined before this one", n)
		}
		idx = n
	} else if j, ok := b.stageIndex(from, current); ok {
		idx = j
	} else {
		for j := current; j < len(b.d.stages); j++ {
			if b.d.stages[j].Name == strings.ToLower(from) {
				return nil, "", fmt.Errorf("stage %q is defined after this one: a stage can only copy from earlier stages", from)
			}
		}
	}
	if idx >= 0 {
		st, err := b.stage(idx)
		if err != nil {
			return nil, "", err
		}
		label := "stage " + st.label
		if b.dry() {
			return nil, label, nil
		}
		img, err := st.image()
		if err != nil {
			return nil, "", err
		}
		d, err := img.Digest()
		if err != nil {
			return nil, "", err
		}
		if s, ok := b.images[d.String()]; ok {
			return s, label, nil
		}
		s, err := newImageSource(b.ctx, label, img)
		if err != nil {
			return nil, "", err
		}
		b.images[d.String()] = s
		return s, label, nil
	}
	// Not a stage: an image, as BuildKit reads --from=IMAGE.
	if strings.ContainsAny(from, " \t") || from == "" {
		return nil, "", fmt.Errorf("%q is neither a stage nor an image", from)
	}
	var names []string
	for j := 0; j < current; j++ {
		if b.d.stages[j].Name != "" {
			names = append(names, b.d.stages[j].Name)
		}
	}
	ref, _, err := b.baseRef(from)
	if err != nil {
		return nil, "", fmt.Errorf("no stage %q before this one (stages: %s), and not an image name: %w", from, listOrNone(names), err)
	}
	if b.dry() {
		return nil, ref, nil
	}
	s, err := b.imageSourceFor(ref)
	if err != nil {
		return nil, "", fmt.Errorf("no stage %q before this one (stages: %s), and as an image: %w", from, listOrNone(names), err)
	}
	return s, ref, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func (b *builder) imageSourceFor(ref string) (source, error) {
	if s, ok := b.images[ref]; ok {
		return s, nil
	}
	img, err := b.svc.Base(b.ctx, ref, b.platform)
	if err != nil {
		return nil, err
	}
	s, err := newImageSource(b.ctx, ref, img)
	if err != nil {
		return nil, err
	}
	b.images[ref] = s
	return s, nil
}

// mainContext opens the build context with its ignore file: the
// Dockerfile's own (Dockerfile.dockerignore) or the context's
// .containerignore / .dockerignore.
func (b *builder) mainContext() (*hostSource, error) {
	if b.context != nil {
		return b.context, nil
	}
	var patterns []string
	// A symlinked ignore file is read only if it leads inside the context.
	if data, err := layers.ReadIgnoreLink(b.d.contextDir, b.d.abs+".dockerignore"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else if err == nil {
		patterns, err = readIgnore(data)
		if err != nil {
			return nil, fmt.Errorf("reading %s.dockerignore: %w", b.d.abs, err)
		}
	} else {
		patterns, _, err = layers.ReadIgnoreFile(b.d.contextDir)
		if err != nil {
			return nil, err
		}
	}
	h, err := b.hostSource("the build context", b.d.contextDir, patterns)
	if err != nil {
		return nil, err
	}
	b.context = h
	return h, nil
}

// hostSource opens a local directory as a source, closed when the build
// ends.
func (b *builder) hostSource(name, dir string, ignore []string) (*hostSource, error) {
	h, err := newHostSource(name, dir, b.d.root, ignore, b.o.gitModes)
	if err != nil {
		return nil, err
	}
	b.cleanups = append(b.cleanups, func() { h.Close() })
	return h, nil
}

// emptyEnv has no variables (for checking that --from has none).
type emptyEnv struct{}

func (emptyEnv) Get(string) (string, bool) { return "", false }
func (emptyEnv) Keys() []string            { return nil }
