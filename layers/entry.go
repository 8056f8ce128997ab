// Package layers writes deterministic OCI layers and keeps them in a
// content-addressed cache.
//
// A layer is described by a Spec: its Key covers every input that can change
// the layer's bytes, and its Entries are written through the deterministic tar
// writer. The cache maps keys to compressed blobs, so an unchanged layer is
// never rebuilt or recompressed.
package layers

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// FormatVersion changes whenever the tar writer's output for the same entries
// changes; it is part of every layer key.
const FormatVersion = "assemble-layer-v1"

// EntryType is the kind of a layer entry.
type EntryType uint8

const (
	// TypeFile is a regular file; its content comes from Entry.Open.
	TypeFile EntryType = iota
	// TypeDir is a directory.
	TypeDir
	// TypeSymlink is a symbolic link to Entry.Link, kept as a link.
	TypeSymlink
	// TypeHardlink is a hard link to the entry at path Entry.Link in the same layer.
	TypeHardlink
	// TypeWhiteout deletes Entry.Path from the layers below (written as .wh.<name>).
	TypeWhiteout
	// TypeOpaque hides everything below directory Entry.Path in the layers
	// below (written as <dir>/.wh..wh..opq).
	TypeOpaque
)

func (t EntryType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeHardlink:
		return "hardlink"
	case TypeWhiteout:
		return "whiteout"
	case TypeOpaque:
		return "opaque"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Entry is one path in a layer. Only the fields listed here reach the tar
// stream: times, user and group names and device numbers never do.
type Entry struct {
	// Path is slash-separated and relative to the image root ("usr/bin/env").
	// A leading "/" or "./" is accepted and removed; ".." components are refused.
	Path string
	Type EntryType
	// Mode holds the permission bits plus setuid, setgid and sticky; type bits are ignored.
	Mode fs.FileMode
	UID  int
	GID  int
	// Size is the content length of a regular file; Open must yield exactly
	// that many bytes.
	Size int64
	// Link is a symlink's target, or the image path a hard link points to.
	Link string
	// Open returns a regular file's content. It is called once, while the
	// entry is written.
	Open func() (io.ReadCloser, error)
	// Xattrs are extended attributes written as PAX records
	// (e.g. "security.capability"); usually nil.
	Xattrs map[string]string
}

// CleanPath normalises an image path to the form entries use ("usr/bin/env")
// and refuses one that would leave the image root.
func CleanPath(p string) (string, error) {
	if isCleanPath(p) {
		return p, nil
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	for _, part := range strings.Split(strings.ReplaceAll(p, "\\", "/"), "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q leaves the image root (it has a \"..\" component)", p)
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	return c, nil
}

// isCleanPath reports whether p is already in the form CleanPath returns,
// as nearly every path a layer lists is: no leading or trailing "/", no
// empty, "." or ".." component, no "\\" or NUL.
func isCleanPath(p string) bool {
	if p == "" || p[0] == '/' || p[len(p)-1] == '/' ||
		strings.IndexByte(p, 0) >= 0 || strings.IndexByte(p, '\\') >= 0 || strings.Contains(p, "//") {
		return false
	}
	// A "." or ".." component starts with a dot, at the start or after a "/".
	for i := strings.IndexByte(p, '.'); i >= 0; {
		if i == 0 || p[i-1] == '/' {
			rest := p[i:]
			if rest == "." || rest == ".." || strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "../") {
				return false
			}
		}
		next := strings.IndexByte(p[i+1:], '.')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return true
}

// CleanEntryName checks a name read from an archive (a tar entry or link
// target) and returns it as a root-relative path ("" for the root). Unlike
// CleanPath it refuses absolute names: in an archive they are an attempt to
// write outside the directory being filled.
func CleanEntryName(name string) (string, error) {
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("entry %q has an absolute or non-portable path", name)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q contains a NUL byte", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("entry %q points outside the root (..)", name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// Spec is one layer to build. The builder combines Key with FormatVersion and
// the compressor's parameters, so Key covers only the spec's own inputs.
type Spec interface {
	// Key is a stable digest over everything that can change the entries
	// (content included), e.g. "sha256:<hex>" or any string unique to those inputs.
	Key(ctx context.Context) (string, error)
	// Entries lists the layer's entries in any order; the writer sorts them.
	Entries(ctx context.Context) ([]Entry, error)
	// Describe is a short human line for history and progress ("files app -> /app").
	Describe() string
}
