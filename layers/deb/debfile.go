package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/assemble-build/assemble/layers"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// maxControlSize bounds what is read into memory from control.tar.
const maxControlSize = 64 << 20

// decompressor returns a reader for a member named "*.xz", "*.gz", "*.zst",
// "*.bz2", "*.lzma" or uncompressed "*.tar" / "Packages".
func decompressor(name string, r io.Reader) (io.ReadCloser, error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		// ulikunitz/xz reads its input a byte at a time: the bufio.Reader
		// makes that cheap. Its default ReaderConfig fits: the dictionary
		// size is the stream's own (DictCap is only a minimum), and
		// concatenated streams are accepted as xz(1) does.
		x, err := xz.NewReader(bufio.NewReaderSize(r, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(x), nil
	case strings.HasSuffix(name, ".gz"):
		g, err := kgzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return g, nil
	case strings.HasSuffix(name, ".zst"):
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return z.IOReadCloser(), nil
	case strings.HasSuffix(name, ".bz2"):
		return io.NopCloser(bzip2.NewReader(r)), nil
	case strings.HasSuffix(name, ".lzma"):
		l, err := lzma.NewReader(bufio.NewReader(r))
		if err != nil {
			return nil, fmt.Errorf("lzma: %w", err)
		}
		return io.NopCloser(l), nil
	case strings.HasSuffix(name, ".tar"), strings.HasSuffix(name, "Packages"):
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("unsupported compression in %q", name)
}

// arReader reads the members of an ar archive (the .deb container).
type arReader struct {
	r         *bufio.Reader
	remaining int64
	pad       bool
}

func newArReader(r io.Reader) (*arReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, fmt.Errorf("not a .deb (ar) file: %w", truncErr(err))
	}
	if string(magic) != "!<arch>\n" {
		return nil, errors.New("not a .deb (ar) file: bad magic")
	}
	return &arReader{r: br}, nil
}

// truncErr names an unexpected end of file as truncation.
func truncErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("file is truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// next skips to the next member and returns its name and size; io.EOF at the end.
func (a *arReader) next() (string, int64, error) {
	if a.remaining > 0 {
		if _, err := io.CopyN(io.Discard, a.r, a.remaining); err != nil {
			return "", 0, truncErr(err)
		}
		a.remaining = 0
	}
	if a.pad {
		if _, err := a.r.ReadByte(); err != nil {
			return "", 0, truncErr(err)
		}
		a.pad = false
	}
	hdr := make([]byte, 60)
	n, err := io.ReadFull(a.r, hdr)
	if n == 0 && err == io.EOF {
		return "", 0, io.EOF
	}
	if err != nil {
		return "", 0, truncErr(err)
	}
	if string(hdr[58:60]) != "`\n" {
		return "", 0, errors.New("bad ar member header")
	}
	name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
	size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("bad ar member size for %q", name)
	}
	a.remaining = size
	a.pad = size%2 == 1
	return name, size, nil
}

func (a *arReader) Read(p []byte) (int, error) {
	if a.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remaining {
		p = p[:a.remaining]
	}
	n, err := a.r.Read(p)
	a.remaining -= int64(n)
	if err == io.EOF && a.remaining > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// ctlFile is a member of control.tar other than "control" (md5sums,
// conffiles, maintainer scripts, ...), which dpkg keeps in its info directory.
type ctlFile struct {
	Name string
	Mode fs.FileMode
	Data []byte
}

// debEntry is one data.tar entry, staged.
type debEntry struct {
	orig   string // path as dpkg records it ("/bin/ls")
	entry  layers.Entry
	staged *stagedPart // where a regular file's content is staged, or
	data   []byte      // the content itself (staged == nil)
}

// content returns a regular file's content.
func (e *debEntry) content() ([]byte, error) {
	if e.staged == nil {
		return e.data, nil
	}
	return e.staged.read()
}

// debContents is an unpacked .deb.
type debContents struct {
	control  *paragraph
	ctlFiles []ctlFile
	entries  []debEntry
	// conffileMD5 maps a conffile ("/etc/foo") to the md5 of its content.
	conffileMD5 map[string]string
	conffiles   []string // in the order of the conffiles file
}

// readControlTar reads control.tar's files.
func readControlTar(r io.Reader, member, debName string) (*paragraph, []ctlFile, error) {
	return readControlTarTap(r, member, debName, nil)
}

// readControlTarTap is readControlTar also writing the decoded tar, as far
// as it is read, to tap (when not nil).
func readControlTarTap(r io.Reader, member, debName string, tap io.Writer) (*paragraph, []ctlFile, error) {
	dr, err := bulkDecompressor(member, r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", debName, member, err)
	}
	defer dr.Close()
	tr := tar.NewReader(tapped(dr, tap))
	var ctl *paragraph
	var files []ctlFile
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", debName, member, truncErr(err))
		}
		name := strings.TrimPrefix(h.Name, "./")
		if name == "" || name == "." {
			continue
		}
		if strings.Contains(name, "/") || name == ".." {
			return nil, nil, fmt.Errorf("%s: %s: unexpected path %q", debName, member, h.Name)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		total += h.Size
		if total > maxControlSize {
			return nil, nil, fmt.Errorf("%s: %s is larger than %d bytes", debName, member, maxControlSize)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", debName, member, truncErr(err))
		}
		if name == "control" {
			err := readParagraphs(bytes.NewReader(data), debName+": control", func(p *paragraph) error {
				if ctl == nil {
					ctl = p
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
			continue
		}
		files = append(files, ctlFile{Name: name, Mode: layers.ModeFromUnix(h.Mode), Data: data})
	}
	if ctl == nil {
		return nil, nil, fmt.Errorf("%s: %s has no control file", debName, member)
	}
	return ctl, files, nil
}

// readControlOnly reads a .deb's control paragraph, stopping before data.tar.
func readControlOnly(r io.Reader, debName string) (*paragraph, error) {
	ar, err := newArReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", debName, err)
	}
	for {
		name, _, err := ar.next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no control.tar member", debName)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", debName, err)
		}
		if strings.HasPrefix(name, "control.tar") {
			ctl, _, err := readControlTar(ar, name, debName)
			return ctl, err
		}
	}
}

// usrMerged are the top-level directories that are symlinks into usr/ on a
// merged-/usr system; data.tar paths below them are placed under usr/.
var usrMerged = map[string]bool{"bin": true, "sbin": true, "lib": true, "lib32": true, "lib64": true, "libx32": true, "libo32": true}

// mergeUsr maps a clean image path to its merged-/usr place.
func mergeUsr(p string) string {
	top, _, _ := strings.Cut(p, "/")
	if usrMerged[top] {
		return "usr/" + p
	}
	return p
}

// readDeb unpacks a .deb: control files into memory, regular files of
// data.tar into memory or the stager's directory (see stager).
func readDeb(r io.Reader, debName string, st *stager) (*debContents, error) {
	return readDebTo(r, debName, st, nil)
}

// tapped is r, also copying what is read from it to tap when tap is not nil.
func tapped(r io.Reader, tap io.Writer) io.Reader {
	if tap == nil {
		return r
	}
	return io.TeeReader(r, tap)
}

// readDebTo is readDeb also writing the decoded members to x (when not nil):
// the expanded copy a later build reads instead (see expansion).
func readDebTo(r io.Reader, debName string, st *stager, x *expansion) (*debContents, error) {
	ar, err := newArReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", debName, err)
	}
	dc := &debContents{conffileMD5: map[string]string{}}
	sawBinary, sawData := false, false
	for {
		name, _, err := ar.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", debName, err)
		}
		switch {
		case name == "debian-binary":
			b, err := io.ReadAll(io.LimitReader(ar, 64))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", debName, truncErr(err))
			}
			if !strings.HasPrefix(string(b), "2.") {
				return nil, fmt.Errorf("%s: unsupported .deb format version %q", debName, strings.TrimSpace(string(b)))
			}
			sawBinary = true
		case strings.HasPrefix(name, "control.tar"):
			if !sawBinary {
				return nil, fmt.Errorf("%s: control.tar before debian-binary", debName)
			}
			if err := dc.readControl(ar, name, debName, x.controlTap()); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, "data.tar"):
			if dc.control == nil {
				return nil, fmt.Errorf("%s: data.tar before control.tar", debName)
			}
			if err := dc.readData(ar, name, debName, st, x.dataTap()); err != nil {
				return nil, err
			}
			sawData = true
		case strings.HasPrefix(name, "_"):
			// Members starting with "_" are reserved for tools; dpkg ignores them.
		default:
			return nil, fmt.Errorf("%s: unexpected member %q", debName, name)
		}
	}
	if !sawData {
		return nil, fmt.Errorf("%s: no data.tar member (file truncated?)", debName)
	}
	return dc, nil
}

// readControl reads control.tar into dc (see readControlTarTap for tap).
func (dc *debContents) readControl(r io.Reader, member, debName string, tap io.Writer) error {
	var err error
	dc.control, dc.ctlFiles, err = readControlTarTap(r, member, debName, tap)
	if err != nil {
		return err
	}
	for _, f := range dc.ctlFiles {
		if f.Name != "conffiles" {
			continue
		}
		for _, line := range strings.Split(string(f.Data), "\n") {
			fields := strings.Fields(line)
			// "remove-on-upgrade /etc/x" entries are not installed.
			if len(fields) == 1 && strings.HasPrefix(fields[0], "/") {
				dc.conffiles = append(dc.conffiles, fields[0])
			}
		}
	}
	return nil
}

// readData reads data.tar's entries into dc, also writing the decoded tar,
// as far as it is read, to tap (when not nil).
func (dc *debContents) readData(r io.Reader, member, debName string, st *stager, tap io.Writer) error {
	dr, err := bulkDecompressor(member, r)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", debName, member, err)
	}
	defer dr.Close()
	conf := map[string]bool{}
	for _, c := range dc.conffiles {
		conf[c] = true
	}
	regular := map[string]bool{}
	// No bufio.Reader here: the decoders keep their output in a window of
	// their own and serve small reads (tar headers) from it; another buffer
	// only adds a copy (measured: slightly slower for xz).
	tr := tar.NewReader(tapped(dr, tap))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", debName, member, truncErr(err))
		}
		if strings.HasPrefix(h.Name, "/") {
			return fmt.Errorf("%s: %s: refusing absolute path %q", debName, member, h.Name)
		}
		clean, err := layers.CleanPath(h.Name)
		if err != nil {
			return fmt.Errorf("%s: %s: refusing entry: %w", debName, member, err)
		}
		if clean == "" {
			continue // "./", the root
		}
		if h.Typeflag == tar.TypeSymlink && usrMerged[clean] && strings.TrimPrefix(path.Clean(h.Linkname), "/") == "usr/"+clean {
			// trixie's base-files ships the merged-/usr links (/bin ->
			// usr/bin) that every layer here makes itself.
			continue
		}
		e := layers.Entry{
			Path: mergeUsr(clean),
			UID:  h.Uid,
			GID:  h.Gid,
		}
		e.Mode = layers.ModeFromUnix(h.Mode)
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if e.Xattrs == nil {
					e.Xattrs = map[string]string{}
				}
				e.Xattrs[x] = v
			}
		}
		de := debEntry{orig: "/" + clean}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Type = layers.TypeDir
		case tar.TypeSymlink:
			if h.Linkname == "" || strings.ContainsRune(h.Linkname, 0) {
				return fmt.Errorf("%s: %s: symlink %q has a bad target", debName, member, h.Name)
			}
			e.Type = layers.TypeSymlink
			e.Link = h.Linkname
		case tar.TypeLink:
			target, err := layers.CleanPath(h.Linkname)
			if err != nil || strings.HasPrefix(h.Linkname, "/") {
				return fmt.Errorf("%s: %s: hard link %q has a bad target %q", debName, member, h.Name, h.Linkname)
			}
			target = mergeUsr(target)
			if !regular[target] {
				return fmt.Errorf("%s: %s: hard link %q points to %q, which is not an earlier regular file of the package", debName, member, h.Name, h.Linkname)
			}
			e.Type = layers.TypeHardlink
			e.Link = target
		case tar.TypeReg, '\x00': // '\x00' is the pre-POSIX regular file (TypeRegA)
			e.Type = layers.TypeFile
			e.Size = h.Size
			if h.Size < 0 {
				return fmt.Errorf("%s: %s: %s has a negative size", debName, member, h.Name)
			}
			var sum string
			de.staged, de.data, sum, err = st.put(tr, h.Size, conf[de.orig])
			if err != nil {
				return fmt.Errorf("%s: %s: %s: %w", debName, member, h.Name, truncErr(err))
			}
			if sum != "" {
				dc.conffileMD5[de.orig] = sum
			}
			regular[e.Path] = true
		default:
			return fmt.Errorf("%s: %s: %q is a %s, which a package may not contain", debName, member, h.Name, layers.TarTypeName(h.Typeflag))
		}
		de.entry = e
		dc.entries = append(dc.entries, de)
	}
}

// Regular files up to maxMemFile bytes are kept in memory while the
// layer's memory budget lasts (see WithUnpackMemory); the rest are staged
// as files. Staging a small file costs more in system calls (create, write,
// close, open, read, remove) than decoding it.
const maxMemFile = 64 << 10

// memBudget is the memory the staged file contents of one layer may use,
// shared by the goroutines unpacking its packages.
type memBudget struct{ left atomic.Int64 }

func newMemBudget(n int64) *memBudget {
	b := &memBudget{}
	b.left.Store(n)
	return b
}

// take reserves n bytes, reporting whether they were left.
func (b *memBudget) take(n int64) bool {
	if b == nil {
		return false
	}
	for {
		left := b.left.Load()
		if left < n {
			return false
		}
		if b.left.CompareAndSwap(left, left-n) {
			return true
		}
	}
}

// stager keeps one package's regular file contents: in memory when small
// and the budget allows, else appended to a staging file (see stageWriter).
type stager struct {
	mem *memBudget
	out *stageWriter
	own bool // out is this stager's alone: close closes it
	// Where the package's first staged content went: discard cuts the
	// file back to it.
	file  *stageFile
	start int64
}

// newStager returns a stager with a staging file of its own in dir.
func newStager(dir, prefix string, mem *memBudget) *stager {
	return &stager{mem: mem, out: &stageWriter{dir: dir, prefix: prefix}, own: true}
}

// stageWriter appends contents to a staging file in dir, named by prefix
// and a sequence number (no path from the archive is ever used on the
// host). An unpacking worker has one for every package it unpacks, one
// after another: creating and removing a file per content, or per
// package, cost more in the cache's file system than writing the bytes.
type stageWriter struct {
	dir    string
	prefix string
	seq    int
	file   *stageFile // being written, or nil
	w      *os.File
	off    int64  // where the next content goes
	buf    []byte // copy buffer
}

// stageFile is a staging file. Its parts are read by the layer's entries
// (see layerBuilder.finish), through one descriptor opened by the first
// and closed, with the file removed, by the last.
type stageFile struct {
	path string
	mu   sync.Mutex
	rf   *os.File
	refs int // entries that are still to read it
}

// stagedPart is a regular file's content in a staging file.
type stagedPart struct {
	file      *stageFile
	off, size int64
}

// read returns the part's bytes.
func (p *stagedPart) read() ([]byte, error) {
	f, err := os.Open(p.file.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, p.size)
	if _, err := f.ReadAt(b, p.off); err != nil {
		return nil, fmt.Errorf("reading staged file %s: %w", p.file.path, truncErr(err))
	}
	return b, nil
}

// put reads size bytes of r. It returns where they are staged, or the
// content itself; with withMD5, also the content's md5.
func (s *stager) put(r io.Reader, size int64, withMD5 bool) (staged *stagedPart, data []byte, sum string, err error) {
	// An empty file is never staged: the tar writer does not open it, so
	// its staged copy would stay until the spec is closed.
	if size == 0 || (size <= maxMemFile && s.mem.take(size)) {
		data = make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, nil, "", err
		}
		if withMD5 {
			h := md5.Sum(data)
			sum = hex.EncodeToString(h[:])
		}
		return nil, data, sum, nil
	}
	if err := s.out.open(); err != nil {
		return nil, nil, "", err
	}
	if s.file != s.out.file {
		s.file, s.start = s.out.file, s.out.off
	}
	var h hash.Hash
	if withMD5 {
		h = md5.New()
	}
	if staged, err = s.out.append(r, size, h); err != nil {
		// The package fails: its parts are of no use.
		s.discard()
		return nil, nil, "", err
	}
	if withMD5 {
		sum = hex.EncodeToString(h.Sum(nil))
	}
	return staged, nil, sum, nil
}

// close ends the package: a stager with a file of its own closes it. The
// parts staged stay readable.
func (s *stager) close() error {
	if s == nil || !s.own {
		return nil
	}
	return s.out.close()
}

// discard drops what the package staged: it failed, and is read again (or
// not at all). The staging file is cut back to where the package began,
// or removed when it began it.
func (s *stager) discard() {
	if s == nil || s.file == nil || s.file != s.out.file {
		return
	}
	s.out.truncate(s.start)
	s.file = nil
}

// open makes sure a staging file is being written.
func (o *stageWriter) open() error {
	if o.w != nil {
		return nil
	}
	o.seq++
	path := filepath.Join(o.dir, o.prefix+"-"+strconv.Itoa(o.seq))
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	o.w, o.file, o.off = w, &stageFile{path: path}, 0
	return nil
}

// append copies size bytes of r to the open staging file (and to h when
// it is not nil).
func (o *stageWriter) append(r io.Reader, size int64, h hash.Hash) (*stagedPart, error) {
	// onlyWriter hides *os.File's ReadFrom, which would allocate a copy
	// buffer for every file instead of using o.buf.
	var w io.Writer = onlyWriter{o.w}
	if h != nil {
		w = io.MultiWriter(o.w, h)
	}
	if o.buf == nil {
		o.buf = make([]byte, 256<<10)
	}
	n, err := io.CopyBuffer(w, r, o.buf)
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		// The next content goes where this one began.
		o.truncate(o.off)
		return nil, err
	}
	p := &stagedPart{file: o.file, off: o.off, size: size}
	o.off += size
	return p, nil
}

// truncate cuts the staging file back to off bytes. At 0 the file holds
// nothing else and is removed; when cutting fails, the file keeps the
// parts before off, and the next content starts another.
func (o *stageWriter) truncate(off int64) {
	if o.w == nil {
		return
	}
	if off > 0 && o.w.Truncate(off) == nil {
		if _, err := o.w.Seek(off, io.SeekStart); err == nil {
			o.off = off
			return
		}
	}
	o.w.Close()
	if off == 0 {
		_ = os.Remove(o.file.path)
	}
	o.w, o.file = nil, nil
}

// close ends the staging file being written; the next content starts
// another. The parts already staged stay readable.
func (o *stageWriter) close() error {
	if o.w == nil {
		return nil
	}
	err := o.w.Close()
	o.w, o.file = nil, nil
	if err != nil {
		return fmt.Errorf("writing staged files: %w", err)
	}
	return nil
}

type onlyWriter struct{ io.Writer }
