package layers

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// TarOption adapts WriteTar to archives that are not image layers (a
// release tarball, a devfile archive.tar), whose readers expect another
// order or naming. The defaults are what every layer is written with.
type TarOption func(*tarConfig)

type tarConfig struct {
	less    func(a, b *Entry) bool
	prefix  string
	format  tar.Format
	archive bool
}

// byPath is the layer order: entries sorted by path.
func byPath(a, b *Entry) bool { return a.Path < b.Path }

// WithNameOrder sorts entries by the names written, a directory's with its
// trailing slash ("a.txt" before "a/"): git's tree order, as git archive
// writes it.
func WithNameOrder() TarOption {
	return func(c *tarConfig) {
		c.less = func(a, b *Entry) bool { return nameKey(a) < nameKey(b) }
	}
}

func nameKey(e *Entry) string {
	if e.Type == TypeDir {
		return e.Path + "/"
	}
	return e.Path
}

// WithTreeOrder writes each directory directly followed by its contents,
// siblings sorted by name ("a/", "a/x", "a.txt"), as tar -c walks a tree:
// readers that make no parent directories need it.
func WithTreeOrder() TarOption {
	return func(c *tarConfig) {
		c.less = func(a, b *Entry) bool { return treeLess(a.Path, b.Path) }
	}
}

// treeLess is depth-first order: the path order with "/" below every other
// byte.
func treeLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		switch {
		case ca == cb:
			continue
		case ca == '/':
			return true
		case cb == '/':
			return false
		}
		return ca < cb
	}
	return len(a) < len(b)
}

// WithGivenOrder writes the entries in the order given, for archives whose
// order says something (a docker-archive's images in the order saved).
// Every directory must then come before what is below it.
func WithGivenOrder() TarOption { return func(c *tarConfig) { c.less = nil } }

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
	cfg := tarConfig{less: byPath}
	for _, opt := range opts {
		opt(&cfg)
	}
	norm, err := normalize(entries, &cfg)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	buf := make([]byte, 256<<10)
	for i := range norm {
		if err := writeEntry(tw, &norm[i], modTime.UTC(), buf, &cfg); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar stream: %w", err)
	}
	return nil
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
	for i := 0; i < n; i++ {
		for dir := path.Dir(out[i].Path); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if j, ok := byPath[dir]; ok {
				if out[j].Type != TypeDir {
					return nil, fmt.Errorf("%s is a %s but %s is below it", dir, out[j].Type, out[i].Path)
				}
				if cfg.less == nil && j > i {
					return nil, fmt.Errorf("directory %s comes after %s, which is below it", dir, out[i].Path)
				}
				break
			}
			if cfg.less == nil {
				return nil, fmt.Errorf("%s has no directory %s before it", out[i].Path, dir)
			}
			byPath[dir] = len(out)
			out = append(out, Entry{Path: dir, Type: TypeDir, Mode: 0o755})
		}
	}
	if cfg.less != nil {
		sort.Slice(out, func(i, j int) bool { return cfg.less(&out[i], &out[j]) })
		for i := range out {
			byPath[out[i].Path] = i
		}
	}
	if err := orderHardlinks(out, byPath); err != nil {
		return nil, err
	}
	return out, nil
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

func writeEntry(tw *tar.Writer, e *Entry, modTime time.Time, buf []byte, cfg *tarConfig) error {
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
	if e.Type != TypeFile || e.Size == 0 {
		return nil
	}
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("opening %s: %w", e.Path, err)
	}
	defer rc.Close()
	n, err := io.CopyBuffer(tw, io.LimitReader(rc, e.Size), buf)
	if err != nil {
		return fmt.Errorf("writing %s: %w", e.Path, err)
	}
	if n != e.Size {
		return fmt.Errorf("%s changed while it was read: expected %d bytes, got %d", e.Path, e.Size, n)
	}
	return nil
}
