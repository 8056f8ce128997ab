package layers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
)

// GeneratedFile is a file made by the plan rather than read from the repository.
type GeneratedFile struct {
	Path     string
	Content  []byte
	Mode     fs.FileMode
	UID, GID int
}

// Generated is a layer of generated files (an entrypoint script, metadata).
type Generated struct {
	Files []GeneratedFile
	// Name describes the layer in history and progress.
	Name string
}

// Describe implements Spec.
func (g *Generated) Describe() string {
	if g.Name != "" {
		return g.Name
	}
	var paths []string
	for _, f := range g.Files {
		paths = append(paths, f.Path)
	}
	return "generated " + strings.Join(paths, " ")
}

// Key implements Spec.
func (g *Generated) Key(context.Context) (string, error) {
	files := append([]GeneratedFile(nil), g.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	h := sha256.New()
	io.WriteString(h, "generated\x00")
	for _, f := range files {
		sum := sha256.Sum256(f.Content)
		fmt.Fprintf(h, "%s\x00%o\x00%d:%d\x00%s\x00", f.Path, f.Mode, f.UID, f.GID, hex.EncodeToString(sum[:]))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Entries implements Spec.
func (g *Generated) Entries(context.Context) ([]Entry, error) {
	var out []Entry
	for _, f := range g.Files {
		content := f.Content
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if mode&fs.ModeDir != 0 {
			// A directory with its owner (a home directory made for a user).
			out = append(out, Entry{Path: f.Path, Type: TypeDir, Mode: mode & ModeBits, UID: f.UID, GID: f.GID})
			continue
		}
		out = append(out, Entry{Path: f.Path, Type: TypeFile, Mode: mode & ModeBits, UID: f.UID, GID: f.GID, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }})
	}
	return out, nil
}
