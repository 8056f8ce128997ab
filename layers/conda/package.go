package conda

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/layers"
	"github.com/klauspost/compress/zstd"
)

// maxInfoFile bounds an info/ file read into memory (paths.json of the
// largest conda-forge packages is a few MiB).
const maxInfoFile = 64 << 20

// infoWanted are the info/ files the installer reads; the rest of info/
// (recipe, tests, licenses) is skipped.
var infoWanted = map[string]bool{
	"index.json": true, "paths.json": true, "files": true, "has_prefix": true,
	"no_link": true, "no_softlink": true, "link.json": true, "noarch.json": true,
}

// member is one entry of a package's content (everything but info/).
type member struct {
	name string // clean, relative to the prefix
	kind byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode fs.FileMode
	link string // a symlink's target
	size int64
	off  int64  // a regular file's content in the stage file
	sha  string // its sha256, hex
}

// pkgContents is an unpacked package: its info files in memory and its
// content in one stage file, read back by offset.
type pkgContents struct {
	filename string
	info     map[string][]byte
	members  map[string]*member
	stage    *stageFile
}

// unpackPackage reads a .conda or .tar.bz2 package file in one streaming
// pass, refusing members that could land outside the prefix.
func unpackPackage(pkgPath, filename string, st *stageFile) (*pkgContents, error) {
	pc := &pkgContents{filename: filename, info: map[string][]byte{}, members: map[string]*member{}, stage: st}
	var err error
	switch {
	case strings.HasSuffix(filename, ".conda"):
		err = pc.readConda(pkgPath)
	case strings.HasSuffix(filename, ".tar.bz2"):
		err = pc.readTarBz2(pkgPath)
	default:
		return nil, fmt.Errorf("conda package %s: not a .conda or .tar.bz2 file name", filename)
	}
	if err != nil {
		return nil, fmt.Errorf("conda package %s: %w", filename, err)
	}
	if err := st.flush(); err != nil {
		return nil, fmt.Errorf("conda package %s: staging: %w", filename, err)
	}
	return pc, nil
}

// readConda reads the .conda format: a zip of metadata.json,
// info-<name>.tar.zst and pkg-<name>.tar.zst.
func (pc *pkgContents) readConda(p string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("not a valid .conda (zip) file: %w", err)
	}
	defer zr.Close()
	var info, pkg *zip.File
	for _, f := range zr.File {
		switch {
		case f.Name == "metadata.json":
			if err := checkCondaMetadata(f); err != nil {
				return err
			}
		case strings.HasPrefix(f.Name, "info-") && strings.HasSuffix(f.Name, ".tar.zst"):
			info = f
		case strings.HasPrefix(f.Name, "pkg-") && strings.HasSuffix(f.Name, ".tar.zst"):
			pkg = f
		}
	}
	if info == nil || pkg == nil {
		return errors.New("the .conda file lacks its info-*.tar.zst or pkg-*.tar.zst member")
	}
	// info first: its files say how the content is installed.
	if err := readZstdTar(info, func(tr *tar.Reader, h *tar.Header) error { return pc.addInfo(tr, h, h.Name) }); err != nil {
		return fmt.Errorf("%s: %w", info.Name, err)
	}
	if err := readZstdTar(pkg, pc.addMember); err != nil {
		return fmt.Errorf("%s: %w", pkg.Name, err)
	}
	return nil
}

func checkCondaMetadata(f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("metadata.json: %w", err)
	}
	defer rc.Close()
	var m struct {
		Version int `json:"conda_pkg_format_version"`
	}
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
		return fmt.Errorf("metadata.json: %w", err)
	}
	if m.Version != 2 {
		return fmt.Errorf("metadata.json: conda_pkg_format_version %d is not supported (want 2)", m.Version)
	}
	return nil
}

// zstdDecoders are reused across packages: a .conda member's frame may
// declare a window of 64 MiB or more (cph writes level 22), which a new
// decoder allocates and clears for even the smallest package.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
	if err != nil {
		return err
	}
	return d
}}

func readZstdTar(f *zip.File, each func(*tar.Reader, *tar.Header) error) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	v := zstdDecoders.Get()
	d, ok := v.(*zstd.Decoder)
	if !ok {
		return fmt.Errorf("zstd: %v", v)
	}
	if err := d.Reset(bufio.NewReaderSize(rc, 1<<16)); err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	defer func() {
		if d.Reset(nil) == nil {
			zstdDecoders.Put(d)
		}
	}()
	return eachTar(d, each)
}

// readTarBz2 reads the old format: one bzip2 tar with info/ beside the content.
func (pc *pkgContents) readTarBz2(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return eachTar(bzip2.NewReader(bufio.NewReaderSize(f, 1<<16)), func(tr *tar.Reader, h *tar.Header) error {
		if rest, ok := strings.CutPrefix(strings.TrimPrefix(h.Name, "./"), "info/"); ok {
			return pc.addInfo(tr, h, rest)
		}
		return pc.addMember(tr, h)
	})
}

func eachTar(r io.Reader, each func(*tar.Reader, *tar.Header) error) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if err := each(tr, h); err != nil {
			return err
		}
	}
}

// addInfo keeps an info/ file the installer reads (name is below info/).
func (pc *pkgContents) addInfo(tr *tar.Reader, h *tar.Header, name string) error {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "./"), "info/")
	if !infoWanted[name] || h.Typeflag != tar.TypeReg {
		return nil
	}
	if h.Size > maxInfoFile {
		return fmt.Errorf("info/%s is %d bytes, more than the %d this installer reads", name, h.Size, maxInfoFile)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		return fmt.Errorf("info/%s: %w", name, err)
	}
	pc.info[name] = b
	return nil
}

// addMember checks a content entry's name and type and stages a regular
// file's bytes.
func (pc *pkgContents) addMember(tr *tar.Reader, h *tar.Header) error {
	name, err := layers.CleanEntryName(h.Name)
	if err != nil {
		return fmt.Errorf("member %q leaves the prefix (an absolute path, a \"..\" component or a NUL); refusing to install the package", h.Name)
	}
	if name == "" {
		return nil // the archive's "./"
	}
	m := &member{name: name, mode: fs.FileMode(h.Mode) & 0o7777}
	switch h.Typeflag {
	case tar.TypeReg:
		m.kind, m.size = tar.TypeReg, h.Size
		if m.off, m.sha, err = pc.stage.put(tr, h.Size); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
	case tar.TypeDir:
		m.kind = tar.TypeDir
	case tar.TypeSymlink:
		m.kind, m.link = tar.TypeSymlink, h.Linkname
	case tar.TypeLink:
		target, err := layers.CleanEntryName(h.Linkname)
		t := pc.members[target]
		if err != nil || t == nil || t.kind != tar.TypeReg {
			return fmt.Errorf("member %s: hard link to %q, which is not a file earlier in the package; refusing to install the package", name, h.Linkname)
		}
		c := *t
		c.name, c.mode = name, m.mode
		m = &c
	default:
		return fmt.Errorf("member %s is a %s; a conda package holds only files, directories and links; refusing to install the package", name, layers.TarTypeName(h.Typeflag))
	}
	pc.members[name] = m
	return nil
}

// read returns a regular member's staged bytes in memory.
func (pc *pkgContents) read(m *member) ([]byte, error) {
	b := make([]byte, m.size)
	if _, err := pc.stage.f.ReadAt(b, m.off); err != nil && !(errors.Is(err, io.EOF) && m.size == 0) {
		return nil, fmt.Errorf("conda package %s: reading staged %s: %w", pc.filename, m.name, err)
	}
	return b, nil
}

// stageFile holds the content of one package's regular files back to back;
// entries read their part with ReadAt, so the package is decompressed once
// however the layer writer orders its entries.
type stageFile struct {
	f   *os.File
	w   *bufio.Writer
	off int64
	buf []byte
}

func newStageFile(dir, name string) (*stageFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating a staging file: %w", err)
	}
	return &stageFile{f: f, w: bufio.NewWriterSize(f, 1<<20), buf: make([]byte, 256<<10)}, nil
}

// put appends size bytes of r, returning their offset and sha256.
func (s *stageFile) put(r io.Reader, size int64) (int64, string, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(s.w, h), io.LimitReader(r, size), s.buf)
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return 0, "", err
	}
	off := s.off
	s.off += size
	return off, hex.EncodeToString(h.Sum(nil)), nil
}

// putBytes appends b (rewritten content), returning its offset.
func (s *stageFile) putBytes(b []byte) (int64, error) {
	if _, err := s.w.Write(b); err != nil {
		return 0, err
	}
	off := s.off
	s.off += int64(len(b))
	return off, nil
}

func (s *stageFile) flush() error {
	s.buf = nil
	return s.w.Flush()
}

// stageDir is a layer's staging directory: removed when every entry that
// reads from it has been read, or when the spec is closed.
type stageDir struct {
	mu    sync.Mutex
	dir   string
	files []*stageFile
	refs  int
}

func (d *stageDir) acquire() {
	d.mu.Lock()
	d.refs++
	d.mu.Unlock()
}

func (d *stageDir) release() {
	d.mu.Lock()
	d.refs--
	last := d.refs == 0
	d.mu.Unlock()
	if last {
		d.remove()
	}
}

// remove closes and deletes every staging file (idempotent).
func (d *stageDir) remove() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir == "" {
		return nil
	}
	for _, f := range d.files {
		f.f.Close()
	}
	err := os.RemoveAll(d.dir)
	d.dir, d.files = "", nil
	return err
}
