package layers

import (
	"archive/tar"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// TarOption adapts WriteTar to archives that are not image layers (a
// release tarball, a devfile archive.tar), whose readers expect another
// order or naming. The defaults are what every layer is written with.
type TarOption func(*tarConfig)

type tarConfig struct {
	cmp     func(a, b *Entry) int // nil: the order given
	prefix  string
	format  tar.Format
	archive bool
}

// byPath is the layer order: entries sorted by path.
func byPath(a, b *Entry) int { return strings.Compare(a.Path, b.Path) }

// WithNameOrder sorts entries by the names written, a directory's with its
// trailing slash ("a.txt" before "a/"): git's tree order, as git archive
// writes it.
func WithNameOrder() TarOption {
	return func(c *tarConfig) {
		c.cmp = func(a, b *Entry) int {
			// A directory's name is its path and "/", compared without making it.
			n := min(len(a.Path), len(b.Path))
			if c := strings.Compare(a.Path[:n], b.Path[:n]); c != 0 {
				return c
			}
			for i := n; ; i++ {
				ca, cb := nameByte(a, i), nameByte(b, i)
				if ca != cb || ca < 0 {
					return cmp.Compare(ca, cb)
				}
			}
		}
	}
}

// nameByte is the byte at i of e's name in the stream (-1 past its end).
func nameByte(e *Entry, i int) int {
	switch {
	case i < len(e.Path):
		return int(e.Path[i])
	case i == len(e.Path) && e.Type == TypeDir:
		return '/'
	}
	return -1
}

// WithTreeOrder writes each directory directly followed by its contents,
// siblings sorted by name ("a/", "a/x", "a.txt"), as tar -c walks a tree:
// readers that make no parent directories need it.
func WithTreeOrder() TarOption {
	return func(c *tarConfig) {
		c.cmp = func(a, b *Entry) int { return treeCompare(a.Path, b.Path) }
	}
}

// treeCompare is depth-first order: the path order with "/" below every
// other byte.
func treeCompare(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		switch {
		case ca == cb:
			continue
		case ca == '/':
			return -1
		case cb == '/':
			return 1
		}
		return cmp.Compare(ca, cb)
	}
	return cmp.Compare(len(a), len(b))
}

// WithGivenOrder writes the entries in the order given, for archives whose
// order says something (a docker-archive's images in the order saved).
// Every directory must then come before what is below it.
func WithGivenOrder() TarOption { return func(c *tarConfig) { c.cmp = nil } }

// WithNamePrefix starts every name with prefix ("./" as tar -c . writes).
func WithNamePrefix(prefix string) TarOption { return func(c *tarConfig) { c.prefix = prefix } }

// WithPAX marks every header as PAX: archive/tar then keeps the time as
// given instead of rounding it, and still uses USTAR's layout when no PAX
// record is needed.
func WithPAX() TarOption { return func(c *tarConfig) { c.format = tar.FormatPAX } }

// AsArchive writes a plain archive rather than an image layer: names
// starting with .wh. are ordinary names, and whiteouts are refused.
func AsArchive() TarOption { return func(c *tarConfig) { c.archive = true } }

// WriteTar writes entries to w as a deterministic tar stream: entries sorted
// by path (or as an option says), missing parent directories added (0755,
// root), every time set to modTime, numeric owners only, modes reduced to
// permission and special bits. The same entries always give the same bytes.
func WriteTar(w io.Writer, entries []Entry, modTime time.Time, opts ...TarOption) error {
	tr, err := NewTarReader(entries, modTime, opts...)
	if err != nil {
		return err
	}
	defer tr.Close()
	// w's own ReadFrom is not used: a compressor's may cut its stream where
	// a Write would not (see compressTar).
	_, err = io.CopyBuffer(writerOnly{w}, tr, make([]byte, 256<<10))
	return err
}

type writerOnly struct{ io.Writer }

// TarReader is the stream WriteTar writes, read instead of written: each
// file's content is read from its file straight into the buffer given to
// Read, so a compressor that fills its own buffers through ReadFrom gets
// the tar with no copy between the kernel and its input. Close closes the
// file being read when the stream is abandoned part way.
type TarReader struct {
	entries []Entry
	next    int
	modTime time.Time
	cfg     tarConfig
	tw      *tar.Writer
	out     tarSink
	cur     *Entry        // the file whose content is being read
	file    io.ReadCloser // cur's content
	left    int64         // bytes of cur's content not read yet
	err     error         // io.EOF after the trailer, or why the stream stopped
}

// NewTarReader checks and orders entries as WriteTar does; nothing is read
// before the first Read.
func NewTarReader(entries []Entry, modTime time.Time, opts ...TarOption) (*TarReader, error) {
	r := &TarReader{modTime: modTime.UTC(), cfg: tarConfig{cmp: byPath}}
	for _, opt := range opts {
		opt(&r.cfg)
	}
	norm, err := normalize(entries, &r.cfg)
	if err != nil {
		return nil, err
	}
	r.entries = norm
	r.tw = tar.NewWriter(&r.out)
	return r, nil
}

// Read fills p with the stream, as far as it goes.
func (r *TarReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.out.dst = p[:r.out.drain(p)]
	for len(r.out.dst) < len(p) && len(r.out.over) == 0 && r.err == nil {
		r.err = r.step()
	}
	n := len(r.out.dst)
	r.out.dst = nil
	if n > 0 {
		return n, nil // an error is returned by the next call
	}
	return 0, r.err
}

// step writes the next piece of the stream into r.out: a part of the
// current file's content, or the next entry's header, or the trailer.
func (r *TarReader) step() error {
	if r.left > 0 {
		dst := r.out.dst
		buf := dst[len(dst):cap(dst)]
		if int64(len(buf)) > r.left {
			buf = buf[:r.left]
		}
		n, err := r.file.Read(buf)
		if n > 0 {
			r.left -= int64(n)
			// archive/tar passes buf on to r.out, which sees it is already in place.
			if _, werr := r.tw.Write(buf[:n]); werr != nil {
				return fmt.Errorf("writing %s: %w", r.cur.Path, werr)
			}
		}
		switch {
		case r.left == 0:
			r.closeFile()
		case err == io.EOF:
			return fmt.Errorf("%s changed while it was read: expected %d bytes, got %d", r.cur.Path, r.cur.Size, r.cur.Size-r.left)
		case err != nil:
			return fmt.Errorf("reading %s: %w", r.cur.Path, err)
		}
		return nil
	}
	if r.next == len(r.entries) {
		if err := r.tw.Close(); err != nil {
			return fmt.Errorf("closing tar stream: %w", err)
		}
		return io.EOF
	}
	e := &r.entries[r.next]
	r.next++
	if err := writeHeader(r.tw, e, r.modTime, &r.cfg); err != nil {
		return err
	}
	if e.Type != TypeFile || e.Size == 0 {
		return nil
	}
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("opening %s: %w", e.Path, err)
	}
	r.cur, r.file, r.left = e, rc, e.Size
	return nil
}

func (r *TarReader) closeFile() {
	if r.file != nil {
		r.file.Close() // read only: nothing to lose
		r.file = nil
	}
}

// Close closes the file being read, if any.
func (r *TarReader) Close() error {
	r.closeFile()
	if r.err == nil {
		r.err = errors.New("read from a closed tar stream")
	}
	return nil
}

// tarSink is where archive/tar writes for a TarReader: into the buffer
// being filled, and what does not fit into over, given first next time.
type tarSink struct {
	dst  []byte // the buffer given to Read: len is what is filled
	over []byte
	off  int // of over, given already
}

func (s *tarSink) Write(b []byte) (int, error) {
	n := len(s.dst)
	// A file's content read into the buffer's free part comes back in place.
	if len(b) > 0 && len(s.over) == 0 && n < cap(s.dst) && &s.dst[:n+1][n] == &b[0] && len(b) <= cap(s.dst)-n {
		s.dst = s.dst[:n+len(b)]
		return len(b), nil
	}
	c := 0
	if len(s.over) == 0 {
		c = copy(s.dst[n:cap(s.dst)], b)
		s.dst = s.dst[:n+c]
	}
	s.over = append(s.over, b[c:]...)
	return len(b), nil
}

// drain copies what did not fit last time to the start of p.
func (s *tarSink) drain(p []byte) int {
	c := copy(p, s.over[s.off:])
	s.off += c
	if s.off == len(s.over) {
		s.over, s.off = s.over[:0], 0
	}
	return c
}

// normalize cleans paths, merges duplicate directories, adds missing parents,
// sorts, and makes every hard link point at an earlier entry.
func normalize(entries []Entry, cfg *tarConfig) ([]Entry, error) {
	byPath := make(map[string]int, len(entries))
	out := make([]Entry, 0, len(entries)+16)
	for _, e := range entries {
		p, err := CleanPath(e.Path)
		if err != nil {
			return nil, err
		}
		if p == "" {
			continue // the root directory itself is never written
		}
		e.Path = p
		if cfg.archive && (e.Type == TypeWhiteout || e.Type == TypeOpaque) {
			return nil, fmt.Errorf("%s: an archive has no whiteouts", p)
		}
		switch e.Type {
		case TypeWhiteout:
			dir, base := path.Split(p)
			e.Path = dir + ".wh." + base
		case TypeOpaque:
			e.Path = p + "/.wh..wh..opq"
		case TypeSymlink:
			if e.Link == "" {
				return nil, fmt.Errorf("symlink %s has an empty target", p)
			}
		case TypeHardlink:
			l, err := CleanPath(e.Link)
			if err != nil || l == "" {
				return nil, fmt.Errorf("hard link %s: bad target %q", p, e.Link)
			}
			e.Link = l
		case TypeFile:
			if e.Open == nil && e.Size != 0 {
				return nil, fmt.Errorf("file %s has size %d but no content", p, e.Size)
			}
		}
		if i, ok := byPath[e.Path]; ok {
			prev := out[i]
			if prev.Type == TypeDir && e.Type == TypeDir {
				continue // the first directory entry wins
			}
			return nil, fmt.Errorf("%s appears twice in one layer (%s and %s)", e.Path, prev.Type, e.Type)
		}
		byPath[e.Path] = len(out)
		out = append(out, e)
	}
	// Parents: every directory on the way to an entry exists in the stream.
	n := len(out)
	links := false
	for i := 0; i < n; i++ {
		links = links || out[i].Type == TypeHardlink
		for dir := parentPath(out[i].Path); dir != ""; dir = parentPath(dir) {
			if j, ok := byPath[dir]; ok {
				if out[j].Type != TypeDir {
					return nil, fmt.Errorf("%s is a %s but %s is below it", dir, out[j].Type, out[i].Path)
				}
				if cfg.cmp == nil && j > i {
					return nil, fmt.Errorf("directory %s comes after %s, which is below it", dir, out[i].Path)
				}
				break
			}
			if cfg.cmp == nil {
				return nil, fmt.Errorf("%s has no directory %s before it", out[i].Path, dir)
			}
			byPath[dir] = len(out)
			out = append(out, Entry{Path: dir, Type: TypeDir, Mode: 0o755})
		}
	}
	if cfg.cmp != nil && !sortedBy(out, cfg.cmp) {
		// Sorting indexes moves 4 bytes where sorting out would move an Entry.
		order := make([]int32, len(out))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int { return cfg.cmp(&out[a], &out[b]) })
		sorted := make([]Entry, len(out))
		for i, j := range order {
			sorted[i] = out[j]
		}
		out = sorted
		if links {
			for i := range out {
				byPath[out[i].Path] = i
			}
		}
	}
	if !links {
		return out, nil
	}
	if err := orderHardlinks(out, byPath); err != nil {
		return nil, err
	}
	return out, nil
}

func sortedBy(es []Entry, cmp func(a, b *Entry) int) bool {
	for i := 1; i < len(es); i++ {
		if cmp(&es[i-1], &es[i]) > 0 {
			return false
		}
	}
	return true
}

// parentPath is the directory of a clean path, "" at the top.
func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return ""
}

// orderHardlinks makes the first path (in sorted order) of each hard-link
// group the one that carries the content, as tar readers need the target
// before the link.
func orderHardlinks(out []Entry, byPath map[string]int) error {
	root := func(p string) (string, error) {
		seen := 0
		for {
			i, ok := byPath[p]
			if !ok {
				return "", fmt.Errorf("hard link target %s is not in the layer", p)
			}
			if out[i].Type != TypeHardlink {
				return p, nil
			}
			if seen++; seen > len(out) {
				return "", fmt.Errorf("hard link loop at %s", p)
			}
			p = out[i].Link
		}
	}
	groups := map[string][]int{}
	for i := range out {
		if out[i].Type != TypeHardlink {
			continue
		}
		r, err := root(out[i].Link)
		if err != nil {
			return fmt.Errorf("%s: %w", out[i].Path, err)
		}
		if out[byPath[r]].Type != TypeFile {
			return fmt.Errorf("hard link %s points at %s, which is a %s", out[i].Path, r, out[byPath[r]].Type)
		}
		groups[r] = append(groups[r], i)
	}
	for r, links := range groups {
		ri := byPath[r]
		first := ri
		for _, i := range links {
			if i < first {
				first = i
			}
		}
		if first != ri {
			content := out[ri]
			out[first].Type, out[first].Mode, out[first].UID, out[first].GID = TypeFile, content.Mode, content.UID, content.GID
			out[first].Size, out[first].Open, out[first].Xattrs, out[first].Link = content.Size, content.Open, content.Xattrs, ""
			out[ri] = Entry{Path: r, Type: TypeHardlink, Link: out[first].Path, Mode: content.Mode, UID: content.UID, GID: content.GID}
		}
		for _, i := range links {
			if i != first {
				out[i].Link = out[first].Path
			}
		}
	}
	return nil
}

// writeHeader writes e's header (and archive/tar's long-name or PAX
// records before it).
func writeHeader(tw *tar.Writer, e *Entry, modTime time.Time, cfg *tarConfig) error {
	hdr := &tar.Header{
		Name:    cfg.prefix + e.Path,
		Format:  cfg.format,
		Mode:    UnixMode(e.Mode),
		Uid:     e.UID,
		Gid:     e.GID,
		ModTime: modTime,
	}
	if len(e.Xattrs) > 0 {
		hdr.PAXRecords = make(map[string]string, len(e.Xattrs))
		for k, v := range e.Xattrs {
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		hdr.Format = tar.FormatPAX
	}
	switch e.Type {
	case TypeFile:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = e.Size
	case TypeDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case TypeSymlink:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.Link
		hdr.Mode = 0o777
	case TypeHardlink:
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = e.Link
	case TypeWhiteout, TypeOpaque:
		// normalize already gave them their .wh. names.
		hdr.Typeflag = tar.TypeReg
		hdr.Mode = 0o644
	default:
		return fmt.Errorf("%s: unknown entry type %s", e.Path, e.Type)
	}
	if !cfg.archive && strings.HasPrefix(path.Base(e.Path), ".wh.") && e.Type != TypeWhiteout && e.Type != TypeOpaque {
		return fmt.Errorf("%s: names starting with .wh. are reserved for whiteouts in OCI layers", e.Path)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tar header for %s: %w", e.Path, err)
	}
	return nil
}
