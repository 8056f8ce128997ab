package devfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/assemble-build/assemble/layers"
)

// packArchive makes archive.tar as the registry build does with
// `tar -czvf archive.tar ./a ./b ...`: a gzip-compressed tar (despite the
// name) of the given top-level entries of dir, named "./a", "./a/x", with
// each directory before its contents, which the devfile registry library
// needs when it unpacks (it creates no parent directories). Unlike tar,
// it is deterministic: names sorted, times zero, owner 0:0 without names,
// modes 0755 for directories and executables and 0644 for other files, and
// a gzip header without name or time.
func (r *registry) packArchive(dir string, names []string) ([]byte, error) {
	base, err := r.resolve(dir)
	if err != nil {
		return nil, err
	}
	var entries []layers.Entry
	for _, n := range names {
		if entries, err = archiveEntries(base, dir, n, entries); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	epoch := time.Unix(0, 0)
	// klauspost's writer stores uint32(ModTime.Unix()) even for the zero
	// time (a date in 2042); the epoch gives the 0 that means "no time".
	zw.ModTime, zw.OS = epoch, 255
	// archive/tar writes USTAR when it can, PAX for long names; with a
	// whole-second time neither records more than the name and mode.
	if err := layers.WriteTar(zw, entries, epoch, layers.AsArchive(), layers.WithTreeOrder(), layers.WithNamePrefix("./")); err != nil {
		return nil, fmt.Errorf("packing %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipWriters are the compressors of packArchive: a registry packs an
// archive per stack version, and a new writer's tables are most of the
// work for a small one. Reset keeps the level; each archive sets the
// header again.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression) // a valid level: no error
	return zw
}}

// archiveEntries appends the entry for rel (below base, the stack directory
// dir) and, for a directory, everything below it.
func archiveEntries(base, dir, rel string, entries []layers.Entry) ([]layers.Entry, error) {
	p := filepath.Join(base, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", dir, rel, err)
	}
	e, ok, err := layers.HostEntry(p, fi)
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading %s/%s: %w", dir, rel, err)
	case !ok:
		return nil, &fileError{dir + "/" + rel, "is not a regular file, directory or symlink"}
	case e.Type == layers.TypeSymlink && !layers.LinkInside(base, p, e.Link):
		// A link must stay inside the stack directory: the archive is
		// unpacked elsewhere, and an absolute or escaping link would point
		// at the user's files.
		return nil, &fileError{dir + "/" + rel, fmt.Sprintf("is a symlink to %s, outside the stack directory: copy the file instead", e.Link)}
	}
	e.Path = rel
	entries = append(entries, e)
	if e.Type != layers.TypeDir {
		return entries, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", dir, rel, err)
	}
	for _, c := range ents {
		if entries, err = archiveEntries(base, dir, rel+"/"+c.Name(), entries); err != nil {
			return nil, err
		}
	}
	return entries, nil
}
