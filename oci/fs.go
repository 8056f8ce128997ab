package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/layers"
)

// FSOption adjusts how FS indexes an image.
type FSOption func(*fsOptions)

type fsOptions struct {
	maxInMemory int64
	budget      int64
	logger      *slog.Logger
	keep        func(name string) bool
}

// WithFSLogger sets where FS logs (default, or nil: slog.Default()).
func WithFSLogger(l *slog.Logger) FSOption { return func(o *fsOptions) { o.logger = l } }

// WithInMemoryFileSize keeps the content of regular files up to n bytes in
// memory while the layers are indexed (default 1 MiB). Larger files are read
// again from their layer when opened, which decompresses the layer up to the
// file: cheap for the small files probing reads, costly for big ones.
// n = 0 keeps no content in memory.
func WithInMemoryFileSize(n int64) FSOption {
	return func(o *fsOptions) { o.maxInMemory = n }
}

// WithMemoryBudget caps the total content kept in memory (default 256 MiB);
// once it is spent, further files are read again from their layer when opened.
// Content superseded by a later layer is given back to the budget.
func WithMemoryBudget(n int64) FSOption {
	return func(o *fsOptions) { o.budget = n }
}

// WithContentOnlyFor keeps in memory only the content of the files whose
// path in the layer (slash-separated, no leading "/" or "./") keep accepts,
// within the size and budget limits: a reader that knows which few files it
// wants spares copying every small file of the image. Other files are read
// again from their layer when opened, as big ones are.
func WithContentOnlyFor(keep func(name string) bool) FSOption {
	return func(o *fsOptions) { o.keep = keep }
}

// ImageFS is the flattened root filesystem of an image, read without
// extracting it. It implements fs.FS, fs.ReadDirFS, fs.ReadFileFS,
// fs.StatFS and fs.ReadLinkFS. Symbolic links resolve inside the image root:
// an absolute target starts at the image root and ".." stops there, as in a
// container. It is safe for concurrent use.
type ImageFS struct {
	layers []v1.Layer
	tree   *Tree
	opts   fsOptions
}

var (
	_ fs.ReadDirFS  = (*ImageFS)(nil)
	_ fs.ReadFileFS = (*ImageFS)(nil)
	_ fs.StatFS     = (*ImageFS)(nil)
	_ fs.ReadLinkFS = (*ImageFS)(nil)
)

// FS indexes img's layers in one pass and returns its flattened root: layers
// applied in order, whiteouts (.wh.<name>) and opaque directories
// (.wh..wh..opq) honoured as the OCI image spec describes. An entry with an
// absolute path or a ".." component is an error, as is a hard link to a path
// that does not exist.
func FS(img v1.Image, opts ...FSOption) (*ImageFS, error) {
	o := fsOptions{maxInMemory: 1 << 20, budget: 256 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading image layers: %w", err)
	}
	f := &ImageFS{layers: layers, tree: NewTree(WithTreeLogger(o.logger)), opts: o}
	for i, l := range layers {
		if err := f.indexLayer(i, l); err != nil {
			d, _ := l.Digest()
			return nil, fmt.Errorf("layer %d (%s): %w", i, d, err)
		}
	}
	return f, nil
}

// indexLayer reads a layer's headers, keeping the content of small files
// while the budget lasts, and applies them to the tree.
func (f *ImageFS) indexLayer(idx int, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	// The whole layer is read before it is applied, because its whiteouts
	// hide only what the layers below hold, wherever they sit in the stream.
	var pending []LayerEntry
	var kept int64
	tr := tar.NewReader(rc)
	for ordinal := 0; ; ordinal++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		name, err := layers.CleanEntryName(hdr.Name)
		if err != nil {
			return err
		}
		e := LayerEntry{Header: hdr, Name: name, Ordinal: ordinal}
		if hdr.Typeflag == tar.TypeLink {
			if e.LinkName, err = layers.CleanEntryName(hdr.Linkname); err != nil {
				return fmt.Errorf("%s: hard link: %w", hdr.Name, err)
			}
		}
		if isRegular(hdr.Typeflag) && hdr.Size <= f.opts.maxInMemory && f.tree.used+kept+hdr.Size <= f.opts.budget &&
			(f.opts.keep == nil || f.opts.keep(name)) {
			e.Data = make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, e.Data); err != nil {
				return fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
			kept += hdr.Size
		}
		pending = append(pending, e)
	}
	return f.tree.ApplyLayer(idx, pending)
}

func isRegular(t byte) bool {
	return t == tar.TypeReg || t == tar.TypeGNUSparse
}

// lookup resolves an fs.FS name for op.
func (f *ImageFS) lookup(op, name string, follow bool) (*Node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, _, err := f.tree.resolve(name, follow, false)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: errno(err)}
	}
	return n, nil
}

// errno reduces a walk error to its errno, as fs.PathError carries it.
func errno(err error) error {
	var we *walkError
	if errors.As(err, &we) {
		return we.errno
	}
	return err
}

// Open implements fs.FS. Symbolic links are followed inside the image.
func (f *ImageFS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	info := &fsInfo{n: n, name: path.Base(name)}
	if n.Mode.IsDir() {
		return &fsDir{info: info, entries: dirEntries(n)}, nil
	}
	return &fsFile{fsys: f, info: info}, nil
}

// ReadFile implements fs.ReadFileFS.
func (f *ImageFS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: syscall.EISDIR}
	}
	if n.content == nil {
		return nil, nil
	}
	if n.content.data != nil {
		return bytes.Clone(n.content.data), nil
	}
	rc, err := f.openContent(n.content)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS: entries sorted by name, symbolic links
// reported as links.
func (f *ImageFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	return dirEntries(n), nil
}

// Stat implements fs.StatFS, following symbolic links.
func (f *ImageFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return &fsInfo{n: n, name: path.Base(name)}, nil
}

// Lstat implements fs.ReadLinkFS: a symbolic link is described, not followed.
func (f *ImageFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return &fsInfo{n: n, name: path.Base(name)}, nil
}

// ReadLink implements fs.ReadLinkFS: the target of the link at name, as
// stored (links in the directories above name are followed).
func (f *ImageFS) ReadLink(name string) (string, error) {
	n, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.Mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	return n.Link, nil
}

// Resolve returns the path name leads to once every symbolic link is
// followed inside the image ("usr/bin/python3" -> "usr/bin/python3.11").
func (f *ImageFS) Resolve(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: fs.ErrInvalid}
	}
	_, p, err := f.tree.resolve(name, true, false)
	if err != nil {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: errno(err)}
	}
	if p == "" {
		p = "."
	}
	return p, nil
}

// LinkKey identifies a regular file's content: paths with equal keys are
// hard links to one file (one inode once the image is extracted).
type LinkKey struct{ c *fsContent }

// HardLink returns the key of the regular file at name (links in the
// directories above name followed, not name itself) and whether another
// path of the image is a hard link to the same file.
func (f *ImageFS) HardLink(name string) (LinkKey, bool) {
	n, err := f.lookup("lstat", name, false)
	if err != nil || n.content == nil || !n.Mode.IsRegular() {
		return LinkKey{}, false
	}
	return LinkKey{n.content}, n.content.refs > 1
}

// openContent reads a file that was not kept in memory by streaming its
// layer again up to it.
func (f *ImageFS) openContent(c *fsContent) (io.ReadCloser, error) {
	if c.data != nil {
		return io.NopCloser(bytes.NewReader(c.data)), nil
	}
	rc, err := f.layers[c.layer].Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("opening layer %d: %w", c.layer, err)
	}
	tr := tar.NewReader(rc)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err != nil {
			rc.Close()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading layer %d again for %s: %w", c.layer, c.name, err)
		}
		if i == c.ordinal {
			if hdr.Name != c.name || hdr.Size != c.size {
				rc.Close()
				return nil, fmt.Errorf("layer %d changed between reads: entry %d is %s, not %s", c.layer, i, hdr.Name, c.name)
			}
			return struct {
				io.Reader
				io.Closer
			}{tr, rc}, nil
		}
	}
}

func dirEntries(n *Node) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for name, c := range n.children {
		out = append(out, &fsInfo{n: c, name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// fsInfo is both fs.FileInfo and fs.DirEntry.
type fsInfo struct {
	n    *Node
	name string
}

func (i *fsInfo) Name() string {
	if i.name == "." || i.name == "/" {
		return "."
	}
	return i.name
}

func (i *fsInfo) Size() int64 {
	switch {
	case i.n.content != nil:
		return i.n.content.size
	case i.n.Mode&fs.ModeSymlink != 0:
		return int64(len(i.n.Link))
	}
	return 0
}

func (i *fsInfo) Mode() fs.FileMode          { return i.n.Mode }
func (i *fsInfo) ModTime() time.Time         { return time.Unix(i.n.MTime, 0).UTC() }
func (i *fsInfo) IsDir() bool                { return i.n.Mode.IsDir() }
func (i *fsInfo) Type() fs.FileMode          { return i.n.Mode.Type() }
func (i *fsInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *fsInfo) String() string             { return fs.FormatFileInfo(i) }

// Sys returns a *tar.Header with the entry's type, mode, owner, size and
// link target.
func (i *fsInfo) Sys() any {
	h := &tar.Header{
		Name:     i.name,
		Mode:     layers.UnixMode(i.n.Mode),
		Uid:      i.n.UID,
		Gid:      i.n.GID,
		Size:     i.Size(),
		ModTime:  i.ModTime(),
		Linkname: i.n.Link,
	}
	switch t := i.n.Mode.Type(); {
	case t == fs.ModeDir:
		h.Typeflag = tar.TypeDir
	case t == fs.ModeSymlink:
		h.Typeflag = tar.TypeSymlink
	case t&fs.ModeCharDevice != 0:
		h.Typeflag = tar.TypeChar
	case t == fs.ModeDevice:
		h.Typeflag = tar.TypeBlock
	case t == fs.ModeNamedPipe:
		h.Typeflag = tar.TypeFifo
	default:
		h.Typeflag = tar.TypeReg
	}
	return h
}

type fsFile struct {
	fsys   *ImageFS
	info   *fsInfo
	rc     io.ReadCloser
	closed bool
}

func (f *fsFile) Stat() (fs.FileInfo, error) { return f.info, nil }

func (f *fsFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: fs.ErrClosed}
	}
	if f.rc == nil {
		c := f.info.n.content
		if c == nil {
			return 0, io.EOF // devices and pipes read as empty
		}
		rc, err := f.fsys.openContent(c)
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: err}
		}
		f.rc = rc
	}
	return f.rc.Read(p)
}

func (f *fsFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.info.name, Err: fs.ErrClosed}
	}
	f.closed = true
	if f.rc != nil {
		return f.rc.Close()
	}
	return nil
}

type fsDir struct {
	info    *fsInfo
	entries []fs.DirEntry
	off     int
}

func (d *fsDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *fsDir) Close() error               { return nil }

func (d *fsDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: syscall.EISDIR}
}

// ReadDir implements fs.ReadDirFile.
func (d *fsDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
