package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/assemble-build/assemble/layers"
)

// maxSymlinkHops is the kernel's limit (MAXSYMLINKS): more hops than this is
// a loop.
const maxSymlinkHops = 40

// Tree is a flattened image filesystem held in memory: every path's
// metadata, and the content a reader chose to keep. Layers are applied in
// order as the OCI image spec describes (whiteouts, opaque directories),
// parents resolve through symbolic links as a runtime extracts layers, and
// every lookup stays inside the image root: an absolute link target starts
// at the root and ".." stops there, as in a container.
//
// ImageFS reads an image through a Tree; the Dockerfile frontend keeps one
// per stage to place COPY entries against it. A Tree is not safe for
// concurrent changes.
type Tree struct {
	root    *Node
	lenient bool
	used    int64 // content bytes kept in memory
	log     *slog.Logger
	// Touched, when set, is told of every path a change writes or deletes.
	Touched func(p string)
}

// Node is one path of a Tree.
type Node struct {
	// Mode holds the type bits and layers.ModeBits.
	Mode     fs.FileMode
	UID, GID int
	MTime    int64  // Unix seconds
	Link     string // a symbolic link's target
	content  *fsContent
	children map[string]*Node
}

// IsDir reports whether n is a directory.
func (n *Node) IsDir() bool { return n.Mode.IsDir() }

// Names are the names of a directory's entries, sorted (none for a file).
func (n *Node) Names() []string {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Data is the content of a regular file the tree kept in memory (nil when
// it was not kept). The caller must not change it.
func (n *Node) Data() []byte {
	if n.content == nil {
		return nil
	}
	return n.content.data
}

// fsContent is where a regular file's bytes are: in memory, or the
// ordinal-th header of a layer. Hard links share one.
type fsContent struct {
	size    int64
	data    []byte // nil when not kept
	layer   int
	ordinal int
	name    string // the archive name, checked when the layer is read again
	refs    int
}

// TreeOption adjusts a Tree.
type TreeOption func(*Tree)

// WithLenientHardLinks makes a hard link to a path the tree lacks (or
// cannot reach) a file with the header's metadata, not an error: a tree that only places files against an image need
// not refuse a layer a runtime would.
func WithLenientHardLinks() TreeOption { return func(t *Tree) { t.lenient = true } }

// WithTreeLogger sets where the tree logs (default, or nil: slog.Default()).
func WithTreeLogger(l *slog.Logger) TreeOption { return func(t *Tree) { t.log = l } }

// NewTree returns a tree holding only the root directory.
func NewTree(opts ...TreeOption) *Tree {
	t := &Tree{root: &Node{Mode: fs.ModeDir | 0o755, children: map[string]*Node{}}}
	for _, opt := range opts {
		opt(t)
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	return t
}

// LayerEntry is one tar entry of a layer as a reader hands it to
// ApplyLayer.
type LayerEntry struct {
	Header *tar.Header
	// Name is the entry's root-relative path, checked and cleaned by the
	// reader ("" for the root).
	Name string
	// LinkName is a hard link's target, checked and cleaned likewise.
	LinkName string
	// Ordinal is the entry's index in the layer's stream, for reading its
	// content again.
	Ordinal int
	// Data is the content the reader kept, or nil.
	Data []byte
}

// ApplyLayer applies the entries of the layer-th layer: its whiteouts hide
// what the layers below hold (wherever they sit in the stream), then its
// entries are added.
func (t *Tree) ApplyLayer(layer int, entries []LayerEntry) error {
	for _, e := range entries {
		dir, base := path.Split(e.Name)
		switch {
		case base == ".wh..wh..opq":
			t.Clear(strings.TrimSuffix(dir, "/"))
		case strings.HasPrefix(base, ".wh."):
			t.Remove(dir + strings.TrimPrefix(base, ".wh."))
		}
	}
	for _, e := range entries {
		if strings.HasPrefix(path.Base(e.Name), ".wh.") {
			continue
		}
		if err := t.add(layer, e); err != nil {
			return fmt.Errorf("%s: %w", e.Header.Name, err)
		}
	}
	return nil
}

func (t *Tree) add(layer int, e LayerEntry) error {
	hdr := e.Header
	n := &Node{Mode: layers.ModeFromUnix(hdr.Mode), UID: hdr.Uid, GID: hdr.Gid, MTime: hdr.ModTime.Unix()}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		n.content = &fsContent{size: hdr.Size, data: e.Data, layer: layer, ordinal: e.Ordinal, name: hdr.Name, refs: 1}
		t.used += int64(len(e.Data))
	case tar.TypeDir:
		n.Mode |= fs.ModeDir
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return errors.New("symbolic link with an empty target")
		}
		n.Mode = fs.ModeSymlink | 0o777
		n.Link = hdr.Linkname
	case tar.TypeLink:
		linked, err := t.hardLink(hdr.Linkname, e.LinkName)
		if err != nil {
			return err
		}
		if linked != nil {
			n = linked
		}
	case tar.TypeChar:
		n.Mode |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		n.Mode |= fs.ModeDevice
	case tar.TypeFifo:
		n.Mode |= fs.ModeNamedPipe
	default:
		t.log.Debug("image filesystem: skipping tar entry of unknown type", "name", hdr.Name, "type", hdr.Typeflag)
		return nil
	}
	if e.Name == "" {
		if !n.IsDir() {
			return errors.New("the image root must be a directory")
		}
		t.root.Mode, t.root.UID, t.root.GID, t.root.MTime = n.Mode, n.UID, n.GID, n.MTime
		return nil
	}
	return t.Put(e.Name, n)
}

// hardLink is the node a hard link to target makes: the same inode, so the
// same content and metadata. Lenient, a missing target gives nil (the
// header's own metadata, no content).
func (t *Tree) hardLink(name, target string) (*Node, error) {
	o, err := t.walk(target, false, false)
	if err != nil && !t.lenient {
		return nil, fmt.Errorf("hard link to %s: %w", name, err)
	}
	switch {
	case o == nil && t.lenient:
		return nil, nil
	case o == nil:
		return nil, fmt.Errorf("hard link to %s, which does not exist", name)
	case o.IsDir() && t.lenient:
		return &Node{Mode: o.Mode, UID: o.UID, GID: o.GID, MTime: o.MTime}, nil
	case o.IsDir():
		return nil, fmt.Errorf("hard link to directory %s", name)
	}
	n := &Node{Mode: o.Mode, UID: o.UID, GID: o.GID, MTime: o.MTime, Link: o.Link, content: o.content}
	if n.content != nil {
		n.content.refs++
	}
	return n, nil
}

// ApplyEntries applies the entries of a layer this project wrote, with the
// same result as reading that layer back. A hard link becomes a file with
// its own metadata. The content of the files keep selects (under 1 MiB) is
// read and kept.
func (t *Tree) ApplyEntries(entries []layers.Entry, keep func(p string) bool) error {
	for _, e := range entries {
		p, err := layers.CleanPath(e.Path)
		if err != nil {
			return err
		}
		switch e.Type {
		case layers.TypeWhiteout:
			t.Remove(p)
			continue
		case layers.TypeOpaque:
			t.Clear(p)
			continue
		}
		if p == "" {
			continue
		}
		n, err := entryNode(p, e, keep)
		if err != nil {
			return err
		}
		if err := t.Put(p, n); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func entryNode(p string, e layers.Entry, keep func(p string) bool) (*Node, error) {
	n := &Node{Mode: e.Mode & layers.ModeBits, UID: e.UID, GID: e.GID}
	switch e.Type {
	case layers.TypeDir:
		n.Mode |= fs.ModeDir
	case layers.TypeSymlink:
		n.Mode, n.Link = n.Mode|fs.ModeSymlink, e.Link
	default:
		n.content = &fsContent{size: e.Size, layer: -1, refs: 1}
		if keep != nil && keep(p) && e.Type == layers.TypeFile && e.Open != nil && e.Size < 1<<20 {
			rc, err := e.Open()
			if err != nil {
				return nil, err
			}
			n.content.data, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

func (t *Tree) touch(p string) {
	if t.Touched != nil {
		t.Touched(p)
	}
}

// Put places n at p: the directories above it resolve through symbolic
// links, missing ones are made (0755, root). A directory put on a directory
// keeps its contents and takes the new metadata; anything else replaces
// what was there.
func (t *Tree) Put(p string, n *Node) error {
	t.touch(p)
	dir, base := path.Split(p)
	parent, err := t.walk(dir, true, true)
	if err != nil {
		return err
	}
	if old, ok := parent.children[base]; ok {
		if old.IsDir() && n.IsDir() {
			old.Mode, old.UID, old.GID, old.MTime = n.Mode, n.UID, n.GID, n.MTime
			return nil
		}
		t.release(old)
	}
	if n.IsDir() && n.children == nil {
		n.children = map[string]*Node{}
	}
	parent.children[base] = n
	return nil
}

// Remove deletes p and everything below it (a whiteout); the directories
// above it resolve through links. A missing p is no error.
func (t *Tree) Remove(p string) {
	t.touch(p)
	dir, base := path.Split(p)
	if d, _ := t.walk(dir, true, false); d != nil && d.IsDir() {
		if c, ok := d.children[base]; ok {
			t.release(c)
			delete(d.children, base)
		}
	}
}

// Clear empties directory p (an opaque marker), following links. A marker
// under a path that is not a directory hides nothing.
func (t *Tree) Clear(p string) {
	t.touch(p)
	if d, _ := t.walk(p, true, false); d != nil && d.IsDir() {
		for _, c := range d.children {
			t.release(c)
		}
		d.children = map[string]*Node{}
	}
}

// release gives back the memory of a subtree's content.
func (t *Tree) release(n *Node) {
	if c := n.content; c != nil {
		if c.refs--; c.refs == 0 && c.data != nil {
			t.used -= int64(len(c.data))
			c.data = nil
		}
	}
	for _, ch := range n.children {
		t.release(ch)
	}
}

// Lookup finds p, following the links on the way (and the last one when
// follow is set). It returns the node and its resolved path, or nil and no
// error when p does not exist.
func (t *Tree) Lookup(p string, follow bool) (*Node, string, error) {
	n, resolved, err := t.resolve(p, follow, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	return n, resolved, err
}

// walk is Lookup with create: missing directories are made (the implied
// parents of a layer entry).
func (t *Tree) walk(p string, follow, create bool) (*Node, error) {
	n, _, err := t.resolve(p, follow, create)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, nil
	}
	return n, err
}

// walkError is a lookup that could not go on; it unwraps to the errno.
type walkError struct {
	path  string
	errno syscall.Errno
}

func (e *walkError) Error() string {
	if e.errno == syscall.ENOTDIR {
		return "/" + e.path + " is not a directory"
	}
	return "/" + e.path + ": " + e.errno.Error()
}

func (e *walkError) Unwrap() error { return e.errno }

// resolve is the path walk behind every lookup. Resolution is confined to
// the image: an absolute link target restarts at the image root and ".."
// at the root stays there. It returns the node and its resolved path.
func (t *Tree) resolve(p string, follow, create bool) (*Node, string, error) {
	stack := []*Node{t.root}
	names := []string{}
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
		if !cur.IsDir() {
			return nil, "", &walkError{strings.Join(names, "/"), syscall.ENOTDIR}
		}
		child, ok := cur.children[part]
		if !ok {
			if !create {
				return nil, "", fs.ErrNotExist
			}
			child = &Node{Mode: fs.ModeDir | 0o755, children: map[string]*Node{}}
			cur.children[part] = child
		}
		if child.Mode&fs.ModeSymlink != 0 && (len(parts) > 0 || follow) {
			if hops++; hops > maxSymlinkHops {
				return nil, "", &walkError{path.Join(append(names, part)...), syscall.ELOOP}
			}
			if strings.HasPrefix(child.Link, "/") {
				stack, names = stack[:1], names[:0]
			}
			parts = append(strings.Split(child.Link, "/"), parts...)
			continue
		}
		stack = append(stack, child)
		names = append(names, part)
	}
	return stack[len(stack)-1], strings.Join(names, "/"), nil
}

// Clone copies the tree (a later stage starts from an earlier one's
// files). Kept content is shared: it is never changed in place. Touched is
// not copied.
func (t *Tree) Clone() *Tree {
	return &Tree{root: t.root.clone(map[*fsContent]*fsContent{}), lenient: t.lenient, used: t.used, log: t.log}
}

// clone copies a subtree; hard links keep sharing one content record.
func (n *Node) clone(contents map[*fsContent]*fsContent) *Node {
	c := *n
	if n.content != nil {
		cc, ok := contents[n.content]
		if !ok {
			dup := *n.content
			cc = &dup
			contents[n.content] = cc
		}
		c.content = cc
	}
	if n.children != nil {
		c.children = make(map[string]*Node, len(n.children))
		for k, ch := range n.children {
			c.children[k] = ch.clone(contents)
		}
	}
	return &c
}
