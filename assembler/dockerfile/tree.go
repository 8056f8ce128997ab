package dockerfile

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/layers"
)

// maxLinkHops is the kernel's MAXSYMLINKS: more hops than this is a loop.
const maxLinkHops = 40

// tree is the metadata of a stage's flattened filesystem (no file content,
// except /etc/passwd and /etc/group for --chown and WORKDIR owners). COPY
// needs it to place files as Docker does: into existing directories, through
// symbolic links, keeping the owners and modes of the directories above.
// It is built lazily and brought up to date one layer at a time.
type tree struct {
	root    *node
	applied int // image layers applied so far
	// touched receives every path a layer writes or deletes (for provenance).
	touched func(p string)
	// listings, when set, is a directory of cached layer listings.
	listings string
}

type node struct {
	typ      layers.EntryType // TypeFile, TypeDir or TypeSymlink (others are kept as files)
	mode     fs.FileMode      // permission and special bits
	uid, gid int
	link     string
	content  []byte // etc/passwd and etc/group only
	children map[string]*node
}

func newTree() *tree {
	return &tree{root: &node{typ: layers.TypeDir, mode: 0o755, children: map[string]*node{}}}
}

// keepContent says which files the tree keeps the bytes of.
func keepContent(p string) bool { return p == "etc/passwd" || p == "etc/group" }

// sync applies the image layers the tree has not seen yet.
func (t *tree) sync(img v1.Image) error {
	ls, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading the image's layers: %w", err)
	}
	// The config lists the diffIDs: asking a layer for its own may
	// decompress it (go-containerregistry does for layout layers).
	var diffIDs []v1.Hash
	if cf, err := img.ConfigFile(); err == nil && len(cf.RootFS.DiffIDs) == len(ls) {
		diffIDs = cf.RootFS.DiffIDs
	}
	for i := t.applied; i < len(ls); i++ {
		var diffID v1.Hash
		if diffIDs != nil {
			diffID = diffIDs[i]
		}
		if err := t.applyLayer(ls[i], diffID); err != nil {
			d, _ := ls[i].Digest()
			return fmt.Errorf("reading layer %d (%s): %w", i, d, err)
		}
		t.applied = i + 1
	}
	return nil
}

type pending struct {
	hdr     *tar.Header
	name    string
	content []byte
}

// listed is a layer entry as kept in the listing cache: what the tree uses.
type listed struct {
	Name    string `json:"n"`
	Type    byte   `json:"t"`
	Mode    int64  `json:"m"`
	UID     int    `json:"u"`
	GID     int    `json:"g"`
	Link    string `json:"l,omitempty"`
	Content []byte `json:"c,omitempty"`
}

// listLayer reads a layer's entries, from the listing cache when it has
// them (a layer's listing never changes: it is keyed by the diffID).
func (t *tree) listLayer(l v1.Layer, diffID v1.Hash) ([]pending, error) {
	var cachePath string
	if t.listings != "" && diffID.Hex != "" {
		cachePath = filepath.Join(t.listings, diffID.Hex+".json")
		if b, err := os.ReadFile(cachePath); err == nil {
			var ls []listed
			if json.Unmarshal(b, &ls) == nil {
				out := make([]pending, len(ls))
				for i, e := range ls {
					name, err := layers.CleanPath(e.Name)
					if err != nil {
						return nil, err
					}
					out[i] = pending{hdr: &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID, Linkname: e.Link}, name: name, content: e.Content}
				}
				return out, nil
			}
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var all []pending
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		name, err := layers.CleanPath(hdr.Name)
		if err != nil || strings.HasPrefix(hdr.Name, "/") {
			return nil, fmt.Errorf("layer entry %q: not a relative path inside the image", hdr.Name)
		}
		p := pending{hdr: hdr, name: name}
		if keepContent(name) && hdr.Typeflag == tar.TypeReg && hdr.Size < 1<<20 {
			if p.content, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
		}
		all = append(all, p)
	}
	if cachePath != "" {
		ls := make([]listed, len(all))
		for i, p := range all {
			ls[i] = listed{Name: p.hdr.Name, Type: p.hdr.Typeflag, Mode: p.hdr.Mode, UID: p.hdr.Uid, GID: p.hdr.Gid, Link: p.hdr.Linkname, Content: p.content}
		}
		if b, err := json.Marshal(ls); err == nil {
			writeListing(cachePath, b)
		}
	}
	return all, nil
}

// writeListing stores a listing atomically; a failure only costs a re-read.
func writeListing(path string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".listing-*")
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return
	}
	if f.Close() == nil {
		_ = os.Rename(f.Name(), path)
	}
}

// applyLayer reads one layer's headers: its whiteouts hide what the layers
// below hold, then its entries are added.
func (t *tree) applyLayer(l v1.Layer, diffID v1.Hash) error {
	all, err := t.listLayer(l, diffID)
	if err != nil {
		return err
	}
	for _, p := range all {
		dir, base := path.Split(p.name)
		switch {
		case base == ".wh..wh..opq":
			d := strings.TrimSuffix(dir, "/")
			if n, _, _ := t.lookup(d, true); n != nil && n.typ == layers.TypeDir {
				n.children = map[string]*node{}
			}
			t.touch(d)
		case strings.HasPrefix(base, ".wh."):
			t.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
		}
	}
	for _, p := range all {
		if strings.HasPrefix(path.Base(p.name), ".wh.") || p.name == "" {
			continue
		}
		n := &node{mode: fs.FileMode(p.hdr.Mode) & 0o7777, uid: p.hdr.Uid, gid: p.hdr.Gid, content: p.content}
		switch p.hdr.Typeflag {
		case tar.TypeDir:
			n.typ = layers.TypeDir
		case tar.TypeSymlink:
			n.typ, n.link = layers.TypeSymlink, p.hdr.Linkname
		case tar.TypeLink:
			target, err := layers.CleanPath(p.hdr.Linkname)
			if err != nil {
				return fmt.Errorf("hard link %s: %w", p.hdr.Name, err)
			}
			if o, _, _ := t.lookup(target, false); o != nil {
				c := *o
				n = &c
			} else {
				n.typ = layers.TypeFile
			}
		default:
			n.typ = layers.TypeFile
		}
		if err := t.put(p.name, n); err != nil {
			return fmt.Errorf("%s: %w", p.hdr.Name, err)
		}
	}
	return nil
}

// apply adds entries of a layer this package wrote (the same result as
// reading the layer back).
func (t *tree) apply(entries []layers.Entry) error {
	for _, e := range entries {
		p, err := layers.CleanPath(e.Path)
		if err != nil {
			return err
		}
		switch e.Type {
		case layers.TypeWhiteout:
			t.remove(p)
			continue
		case layers.TypeOpaque:
			if n, _, _ := t.lookup(p, true); n != nil && n.typ == layers.TypeDir {
				n.children = map[string]*node{}
			}
			t.touch(p)
			continue
		}
		if p == "" {
			continue
		}
		n := &node{typ: e.Type, mode: e.Mode & 0o7777, uid: e.UID, gid: e.GID, link: e.Link}
		if e.Type == layers.TypeHardlink {
			n.typ, n.link = layers.TypeFile, ""
		}
		if keepContent(p) && e.Type == layers.TypeFile && e.Open != nil && e.Size < 1<<20 {
			rc, err := e.Open()
			if err != nil {
				return err
			}
			n.content, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		if err := t.put(p, n); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func (t *tree) touch(p string) {
	if t.touched != nil {
		t.touched(p)
	}
}

// put places n at p; parents resolve through symbolic links, as a runtime
// extracts layers, and missing ones are made.
func (t *tree) put(p string, n *node) error {
	t.touch(p)
	dir, base := path.Split(p)
	parent, _, err := t.walk(strings.TrimSuffix(dir, "/"), true, true)
	if err != nil {
		return err
	}
	if old, ok := parent.children[base]; ok && old.typ == layers.TypeDir && n.typ == layers.TypeDir {
		old.mode, old.uid, old.gid = n.mode, n.uid, n.gid
		return nil
	}
	if n.typ == layers.TypeDir && n.children == nil {
		n.children = map[string]*node{}
	}
	parent.children[base] = n
	return nil
}

func (t *tree) remove(p string) {
	t.touch(p)
	dir, base := path.Split(p)
	if parent, _, _ := t.lookup(strings.TrimSuffix(dir, "/"), true); parent != nil && parent.typ == layers.TypeDir {
		delete(parent.children, base)
	}
}

// lookup finds p, following links on the way (and the last one when
// follow is set); nil when it does not exist.
func (t *tree) lookup(p string, follow bool) (*node, string, error) {
	n, resolved, err := t.walk(p, follow, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	return n, resolved, err
}

// walk resolves p inside the image root: an absolute link target restarts
// at the root and ".." stops there. It returns the node and its resolved path.
func (t *tree) walk(p string, follow, create bool) (*node, string, error) {
	stack := []*node{t.root}
	var names []string
	parts := strings.Split(p, "/")
	hops := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack, names = stack[:len(stack)-1], names[:len(names)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		if cur.typ != layers.TypeDir {
			return nil, "", fmt.Errorf("/%s is not a directory", strings.Join(names, "/"))
		}
		child, ok := cur.children[part]
		if !ok {
			if !create {
				return nil, "", fs.ErrNotExist
			}
			child = &node{typ: layers.TypeDir, mode: 0o755, children: map[string]*node{}}
			cur.children[part] = child
		}
		if child.typ == layers.TypeSymlink && (len(parts) > 0 || follow) {
			if hops++; hops > maxLinkHops {
				return nil, "", fmt.Errorf("/%s: too many levels of symbolic links", path.Join(append(names, part)...))
			}
			if strings.HasPrefix(child.link, "/") {
				stack, names = stack[:1], names[:0]
			}
			parts = append(strings.Split(child.link, "/"), parts...)
			continue
		}
		stack = append(stack, child)
		names = append(names, part)
	}
	return stack[len(stack)-1], strings.Join(names, "/"), nil
}

// place resolves where an entry for image path p lands: the directories
// above it are followed through symbolic links. It returns the resolved
// path, the existing directories on the way (as entries that keep their
// owner and mode, since a layer must list the parents of what it holds) and
// the missing ones, which the caller creates.
func (t *tree) place(p string) (resolved string, existing []layers.Entry, missing []string, err error) {
	p, err = layers.CleanPath(p)
	if err != nil {
		return "", nil, nil, err
	}
	if p == "" {
		return "", nil, nil, nil
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	// Walk the parent component by component so the missing tail is known.
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		n, r, err := t.lookup(next, true)
		if err != nil {
			return "", nil, nil, err
		}
		if n == nil {
			// Missing, and so is everything below it.
			cur = next
			missing = append(missing, cur)
			continue
		}
		if n.typ != layers.TypeDir {
			return "", nil, nil, fmt.Errorf("/%s is not a directory", r)
		}
		if len(missing) == 0 {
			existing = append(existing, layers.Entry{Path: r, Type: layers.TypeDir, Mode: n.mode, UID: n.uid, GID: n.gid})
		}
		cur = r
	}
	return path.Join(cur, base), existing, missing, nil
}

// userFile returns etc/passwd or etc/group as the image has it (nil if absent).
func (t *tree) userFile(name string) []byte {
	n, _, _ := t.lookup(name, true)
	if n == nil {
		return nil
	}
	return bytes.Clone(n.content)
}

// clone copies the tree (a later stage starts from an earlier one's files).
func (t *tree) clone() *tree {
	return &tree{root: t.root.clone(), applied: t.applied}
}

func (n *node) clone() *node {
	c := *n
	if n.children != nil {
		c.children = make(map[string]*node, len(n.children))
		for k, ch := range n.children {
			c.children[k] = ch.clone()
		}
	}
	return &c
}
