package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
)

// tree is the metadata of a stage's flattened filesystem (no file content,
// except /etc/passwd and /etc/group for --chown and WORKDIR owners), an
// oci.Tree brought up to date one layer at a time. COPY needs it to place
// files as Docker does: into existing directories, through symbolic links,
// keeping the owners and modes of the directories above.
type tree struct {
	fs      *oci.Tree
	applied int // image layers applied so far
	// touched receives every path a layer writes or deletes (for provenance).
	touched func(p string)
	// listings, when set, keeps layer listings by diffID.
	listings ListingStore
}

// newTree is an empty root. A hard link to a path the tree lacks is kept as
// a file: COPY only places entries against the tree.
func newTree(ctx context.Context) *tree {
	return wrapTree(oci.NewTree(oci.WithLenientHardLinks(), oci.WithTreeLogger(logctx.From(ctx))))
}

func wrapTree(ot *oci.Tree) *tree {
	t := &tree{fs: ot}
	ot.Touched = t.touch
	return t
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

// listed is a layer entry as kept in the listing cache: what the tree uses.
type listed struct {
	Name    string
	Type    byte
	Mode    int64
	UID     int
	GID     int
	Link    string
	Content []byte
}

// listLayer reads a layer's entries, from the listing cache when it has
// them (a layer's listing never changes: it is keyed by the diffID).
func (t *tree) listLayer(l v1.Layer, diffID v1.Hash) ([]oci.LayerEntry, error) {
	var cacheKey string
	if t.listings != nil && diffID.Hex != "" {
		cacheKey = diffID.Hex + listingExt
		if b, ok, err := t.listings.Get(cacheKey); err == nil && ok {
			if hdrs, contents, err := decodeListing(b); err == nil {
				out := make([]oci.LayerEntry, len(hdrs))
				for i, hdr := range hdrs {
					if out[i], err = layerEntry(hdr, i, contents[i]); err != nil {
						return nil, err
					}
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
	var all []oci.LayerEntry
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		var content []byte
		if name, err := layers.CleanPath(hdr.Name); err == nil && keepContent(name) && hdr.Typeflag == tar.TypeReg && hdr.Size < 1<<20 {
			if content, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
		}
		e, err := layerEntry(hdr, i, content)
		if err != nil {
			return nil, err
		}
		all = append(all, e)
	}
	if cacheKey != "" {
		ls := make([]listed, len(all))
		for i, e := range all {
			h := e.Header
			ls[i] = listed{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Link: h.Linkname, Content: e.Data}
		}
		// A failure to store only costs a re-read.
		_ = t.listings.Put(cacheKey, encodeListing(ls))
	}
	return all, nil
}

// layerEntry checks a layer entry's name (and a hard link's target): a
// relative path inside the image.
func layerEntry(hdr *tar.Header, ordinal int, content []byte) (oci.LayerEntry, error) {
	name, err := layers.CleanPath(hdr.Name)
	if err != nil || strings.HasPrefix(hdr.Name, "/") {
		return oci.LayerEntry{}, fmt.Errorf("layer entry %q: not a relative path inside the image", hdr.Name)
	}
	e := oci.LayerEntry{Header: hdr, Name: name, Ordinal: ordinal, Data: content}
	if hdr.Typeflag == tar.TypeLink {
		if e.LinkName, err = layers.CleanPath(hdr.Linkname); err != nil {
			return oci.LayerEntry{}, fmt.Errorf("hard link %s: %w", hdr.Name, err)
		}
	}
	return e, nil
}

// applyLayer reads one layer's headers and applies them.
func (t *tree) applyLayer(l v1.Layer, diffID v1.Hash) error {
	all, err := t.listLayer(l, diffID)
	if err != nil {
		return err
	}
	return t.fs.ApplyLayer(t.applied, all)
}

// apply adds entries of a layer this package wrote (the same result as
// reading the layer back).
func (t *tree) apply(entries []layers.Entry) error {
	return t.fs.ApplyEntries(entries, keepContent)
}

func (t *tree) touch(p string) {
	if t.touched != nil {
		t.touched(p)
	}
}

func (t *tree) remove(p string) { t.fs.Remove(p) }

// lookup finds p, following links on the way (and the last one when
// follow is set); nil when it does not exist.
func (t *tree) lookup(p string, follow bool) (*oci.Node, string, error) {
	return t.fs.Lookup(p, follow)
}

// maxLinkHops bounds the symbolic links followed while resolving one path.
const maxLinkHops = 255

// rootPath resolves every symbolic link in image path p, the last
// component's included, as BuildKit resolves a destination (continuity's
// fs.RootPath over the stage's root): an absolute target starts at the
// image root, ".." never climbs above it, and a missing component (a
// dangling link's target included) is kept as it is named, to be created.
func (t *tree) rootPath(p string) (string, error) {
	p, err := layers.CleanPath(p)
	if err != nil {
		return "", err
	}
	parts := strings.Split(p, "/")
	cur, hops := "", 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if cur = path.Dir(cur); cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, part)
		n, _, err := t.lookup(next, false)
		if err != nil || n == nil || n.Mode&fs.ModeSymlink == 0 {
			// A directory, a file (place reports it if something goes
			// below it) or nothing yet: no link to follow.
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", fmt.Errorf("/%s: too many levels of symbolic links", next)
		}
		if strings.HasPrefix(n.Link, "/") {
			cur = ""
		}
		parts = append(strings.Split(n.Link, "/"), parts...)
	}
	return cur, nil
}

// place resolves where an entry for image path p lands: the directories
// above it are followed through symbolic links (dangling ones to the
// target they name, which is created), the last component is not. It
// returns the resolved path, the existing directories on the way (as
// entries that keep their owner and mode, since a layer must list the
// parents of what it holds) and the missing ones, which the caller creates.
func (t *tree) place(p string) (resolved string, existing []layers.Entry, missing []string, err error) {
	p, err = layers.CleanPath(p)
	if err != nil {
		return "", nil, nil, err
	}
	if p == "" {
		return "", nil, nil, nil
	}
	dir, base := path.Split(p)
	if dir, err = t.rootPath(dir); err != nil {
		return "", nil, nil, err
	}
	// Walk the resolved parent component by component so the missing tail
	// is known.
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		if len(missing) > 0 {
			missing = append(missing, cur) // below a missing one
			continue
		}
		n, _, err := t.lookup(cur, false)
		if err != nil {
			return "", nil, nil, err
		}
		switch {
		case n == nil:
			missing = append(missing, cur)
		case !n.IsDir():
			return "", nil, nil, fmt.Errorf("/%s is not a directory", cur)
		default:
			// The layer repeats the parent as the image has it, set-id and
			// sticky bits included: a sticky /tmp must stay sticky.
			existing = append(existing, layers.Entry{Path: cur, Type: layers.TypeDir, Mode: n.Mode & layers.ModeBits, UID: n.UID, GID: n.GID})
		}
	}
	return path.Join(cur, base), existing, missing, nil
}

// userFile returns etc/passwd or etc/group as the image has it (nil if absent).
func (t *tree) userFile(name string) []byte {
	n, _, _ := t.lookup(name, true)
	if n == nil {
		return nil
	}
	return bytes.Clone(n.Data())
}

// clone copies the tree (a later stage starts from an earlier one's files).
func (t *tree) clone() *tree {
	c := wrapTree(t.fs.Clone())
	c.applied = t.applied
	return c
}
