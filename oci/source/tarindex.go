package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// tarIndex locates the regular files of an uncompressed tar without
// extracting it: each name maps to the offset and size of its data, so a
// blob is read straight from the archive with a section reader.
type tarIndex struct {
	files map[string]tarEntry
	links map[string]string // name -> target name, both cleaned and inside the archive
}

type tarEntry struct {
	offset, size int64
}

// CleanArchivePath validates and cleans a tar entry name: absolute names and
// ".." components are refused, "./" prefixes dropped.
func CleanArchivePath(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty entry name")
	}
	return layers.CleanEntryName(name)
}

func indexTar(file string) (*tarIndex, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", file, err)
	}
	defer f.Close()
	var magic [4]byte
	if n, _ := io.ReadFull(f, magic[:]); n >= 2 {
		switch {
		case bytes.HasPrefix(magic[:], []byte{0x1f, 0x8b}):
			return nil, fmt.Errorf("%s is gzip-compressed: decompress it first (gunzip), archives must be plain tar", file)
		case bytes.Equal(magic[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
			return nil, fmt.Errorf("%s is zstd-compressed: decompress it first (zstd -d), archives must be plain tar", file)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	idx := &tarIndex{files: map[string]tarEntry{}, links: map[string]string{}}
	// tar.Reader reads headers block by block and seeks over data, so after
	// Next the file offset is where the entry's data starts.
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w (not a tar archive?)", file, err)
		}
		name, err := CleanArchivePath(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("refusing %s: %w", file, err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg: // the reader already turns old TypeRegA into TypeReg
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", file, err)
			}
			idx.files[name] = tarEntry{offset: off, size: hdr.Size}
			delete(idx.links, name)
		case tar.TypeDir:
		case tar.TypeSymlink:
			if strings.HasPrefix(hdr.Linkname, "/") {
				return nil, fmt.Errorf("refusing %s: symlink %s points outside the archive (%s)", file, name, hdr.Linkname)
			}
			target := path.Join(path.Dir(name), hdr.Linkname)
			if target == ".." || strings.HasPrefix(target, "../") {
				return nil, fmt.Errorf("refusing %s: symlink %s points outside the archive (%s)", file, name, hdr.Linkname)
			}
			idx.links[name] = target
			delete(idx.files, name)
		case tar.TypeLink:
			target, err := CleanArchivePath(hdr.Linkname)
			if err != nil {
				return nil, fmt.Errorf("refusing %s: hard link %s: %w", file, name, err)
			}
			idx.links[name] = target
			delete(idx.files, name)
		case tar.TypeXGlobalHeader:
		default:
			return nil, fmt.Errorf("refusing %s: entry %s has unexpected type %q for an image archive", file, name, hdr.Typeflag)
		}
	}
	return idx, nil
}

// lookup resolves links (inside the archive only) and returns the entry.
func (t *tarIndex) lookup(name string) (tarEntry, bool) {
	name = path.Clean(name)
	for range 16 {
		if e, ok := t.files[name]; ok {
			return e, true
		}
		target, ok := t.links[name]
		if !ok {
			return tarEntry{}, false
		}
		name = target
	}
	return tarEntry{}, false
}

// open returns a reader of one file in the archive; it opens the archive
// anew so that no descriptor stays open between reads.
func (t *tarIndex) open(file, name string) (io.ReadCloser, int64, error) {
	e, ok := t.lookup(name)
	if !ok {
		return nil, 0, fmt.Errorf("%s: no file %s in the archive: %w", file, name, os.ErrNotExist)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", file, err)
	}
	return sectionReadCloser{Reader: bufio.NewReaderSize(io.NewSectionReader(f, e.offset, e.size), 1<<16), Closer: f}, e.size, nil
}

type sectionReadCloser struct {
	io.Reader
	io.Closer
}
