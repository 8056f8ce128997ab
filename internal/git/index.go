package git

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"

	"io/fs"
	"os"
	"runtime/debug"
	"sort"
	"unsafe"
)

// IndexEntry is one path of a git index (see Index.Entry), with the stat data git recorded
// when it last knew the work tree file to match the entry's object. Times,
// inode and size are kept as git keeps them: truncated to 32 bits.
type IndexEntry struct {
	Path                      string
	CTimeSec, CTimeNsec       uint32
	MTimeSec, MTimeNsec       uint32
	Dev, Ino, Mode, UID, GID  uint32
	Size                      uint32
	OID                       string // hex object ID
	Stage                     int    // 0, or 1-3 for an unmerged path
	AssumeValid, SkipWorktree bool
	IntentToAdd               bool
}

// Index is a parsed git index file (versions 2, 3 and 4). Its entries,
// sorted by path as git sorts them (bytewise, then stage), are read with
// Len and Entry.
type Index struct {
	Version int
	// recs hold no pointers, so the collector never reads them. A large
	// array with pointers is scanned while the parser fills it, and each
	// page the scan reads first (mapping the kernel's zero page) faults
	// again when written, with a TLB flush on every core: a tenth of a
	// 100,000-file no-op rebuild's system time. Paths and object IDs are
	// slices of one string each.
	recs   []indexRec
	paths  string
	oids   string
	oidLen int // of a hex object ID
	// Extensions are the signatures of the extensions present ("TREE",
	// "link", "sdir", ...), whose content is skipped.
	Extensions []string
	// MTimeSec and MTimeNsec are the index file's own modification time,
	// against which racily clean entries are told (see Clean).
	MTimeSec, MTimeNsec int64
}

// HashSize is the object ID length in bytes of a repository object format
// ("sha1" or "sha256"), or 0 for an unknown format.
func HashSize(objectFormat string) int {
	switch objectFormat {
	case "sha1":
		return sha1.Size
	case "sha256":
		return sha256.Size
	}
	return 0
}

// NewHash returns the hash of objectFormat (nil when unknown).
func NewHash(objectFormat string) hash.Hash {
	switch objectFormat {
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}

// ReadIndex reads the index file p of a repository whose object format is
// objectFormat, checking its trailing checksum.
func ReadIndex(p, objectFormat string) (*Index, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading git index %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading git index %s: %w", p, err)
	}
	// Mapped rather than read where the OS allows: the file is in the
	// page cache, and a copy of it is memory to fault in.
	data, release, err := mapFile(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("reading git index %s: %w", p, err)
	}
	defer release()
	idx, err := parseMapped(data, objectFormat)
	if err != nil {
		return nil, fmt.Errorf("git index %s: %w", p, err)
	}
	idx.MTimeSec, idx.MTimeNsec = fi.ModTime().Unix(), int64(fi.ModTime().Nanosecond())
	return idx, nil
}

// parseMapped is ParseIndex over a mapped file. Git replaces an index by
// renaming a new file over it, but should another writer truncate it
// while it is read, the fault is an error here, not a crash.
func parseMapped(data []byte, objectFormat string) (idx *Index, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			idx, err = nil, fmt.Errorf("the file shrank while it was read: %v", r)
		}
	}()
	return ParseIndex(data, objectFormat)
}

var errShort = errors.New("truncated")

// ParseIndex parses the bytes of an index file, keeping no reference to
// them. A trailing checksum of all zeros (index.skipHash) is accepted
// unchecked, as git does.
func ParseIndex(data []byte, objectFormat string) (*Index, error) {
	hs := HashSize(objectFormat)
	if hs == 0 {
		return nil, fmt.Errorf("unknown object format %q", objectFormat)
	}
	if len(data) < 12+hs || string(data[:4]) != "DIRC" {
		return nil, errors.New("not a git index (no DIRC header)")
	}
	body, sum := data[:len(data)-hs], data[len(data)-hs:]
	if !bytes.Equal(sum, make([]byte, hs)) {
		h := NewHash(objectFormat)
		h.Write(body)
		if !bytes.Equal(h.Sum(nil), sum) {
			return nil, errors.New("checksum mismatch (the file is corrupt or being written)")
		}
	}
	idx := &Index{Version: int(binary.BigEndian.Uint32(body[4:8]))}
	if idx.Version < 2 || idx.Version > 4 {
		return nil, fmt.Errorf("index version %d is not supported (2, 3 or 4)", idx.Version)
	}
	n := int(binary.BigEndian.Uint32(body[8:12]))
	r := &indexReader{data: body, off: 12, hs: hs, version: idx.Version}
	if n > len(body)/(40+hs) {
		return nil, fmt.Errorf("%d entries cannot fit in %d bytes", n, len(body))
	}
	// The paths of versions 2 and 3 fit in what the fixed fields leave.
	r.paths = make([]byte, 0, max(0, len(body)-12-n*(40+hs+2)))
	idx.recs = make([]indexRec, n)
	r.oids = make([]byte, n*2*hs)
	for i := range idx.recs {
		if err := r.entry(&idx.recs[i]); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		// The paths so far, as the buffer may have moved.
		idx.paths = unsafe.String(unsafe.SliceData(r.paths), len(r.paths))
		if i > 0 && !idx.inOrder(i-1, i) {
			return nil, fmt.Errorf("entries out of order at %q", idx.Path(i))
		}
	}
	idx.oids, idx.oidLen = unsafe.String(unsafe.SliceData(r.oids), len(r.oids)), 2*hs
	exts, err := r.extensions()
	if err != nil {
		return nil, err
	}
	idx.Extensions = exts
	return idx, nil
}

// indexRec is an entry as Index keeps it: IndexEntry's stat data, its
// path as an offset and length in Index.paths, and its flags.
type indexRec struct {
	cTimeSec, cTimeNsec, mTimeSec, mTimeNsec uint32
	dev, ino, mode, uid, gid, size           uint32
	pathOff, pathLen                         uint32
	flags                                    uint8 // stage (0-3), then the flag bits below
}

const (
	recAssumeValid = 1 << (iota + 2)
	recSkipWorktree
	recIntentToAdd
)

// Len is the number of entries.
func (idx *Index) Len() int { return len(idx.recs) }

// Entry returns entry i (0 <= i < Len()).
func (idx *Index) Entry(i int) IndexEntry {
	r := &idx.recs[i]
	w := idx.oidLen
	return IndexEntry{
		Path:     idx.Path(i),
		CTimeSec: r.cTimeSec, CTimeNsec: r.cTimeNsec, MTimeSec: r.mTimeSec, MTimeNsec: r.mTimeNsec,
		Dev: r.dev, Ino: r.ino, Mode: r.mode, UID: r.uid, GID: r.gid, Size: r.size,
		OID:          idx.oids[i*w : (i+1)*w],
		Stage:        int(r.flags & 3),
		AssumeValid:  r.flags&recAssumeValid != 0,
		SkipWorktree: r.flags&recSkipWorktree != 0,
		IntentToAdd:  r.flags&recIntentToAdd != 0,
	}
}

// Path is entry i's path (Entry(i).Path, without the rest).
func (idx *Index) Path(i int) string {
	r := &idx.recs[i]
	return idx.paths[r.pathOff : r.pathOff+r.pathLen]
}

func (idx *Index) stage(i int) uint8 { return idx.recs[i].flags & 3 }

func (idx *Index) inOrder(i, j int) bool {
	a, b := idx.Path(i), idx.Path(j)
	return a < b || a == b && idx.stage(i) < idx.stage(j)
}

// Lookup returns the stage-0 entry for path, if there is one.
func (idx *Index) Lookup(path string) (IndexEntry, bool) {
	e, _, ok := idx.LookupNear(path, -1)
	return e, ok
}

// LookupIn is LookupNear for the path dir/name (name alone when dir is
// ""), which it builds only when the entry at hint is not that path.
func (idx *Index) LookupIn(dir, name string, hint int) (IndexEntry, int, bool) {
	if hint >= 0 && hint < len(idx.recs) {
		if p := idx.Path(hint); isPathIn(p, dir, name) {
			if idx.stage(hint) == 0 {
				return idx.Entry(hint), hint + 1, true
			}
			return IndexEntry{}, hint, false
		}
	}
	p := name
	if dir != "" {
		p = dir + "/" + name
	}
	return idx.LookupNear(p, -1)
}

// isPathIn reports whether p is dir/name (name when dir is "").
func isPathIn(p, dir, name string) bool {
	if dir == "" {
		return p == name
	}
	return len(p) == len(dir)+1+len(name) && p[len(dir)] == '/' && p[:len(dir)] == dir && p[len(dir)+1:] == name
}

// LookupNear is Lookup for paths asked in about the index's own order (a
// directory walk's): it tries the entry at hint first, and returns the
// position to try for the next path.
func (idx *Index) LookupNear(path string, hint int) (IndexEntry, int, bool) {
	i := hint
	if i < 0 || i >= len(idx.recs) || idx.Path(i) != path {
		i = sort.Search(len(idx.recs), func(i int) bool { return idx.Path(i) >= path })
	}
	if i < len(idx.recs) && idx.Path(i) == path && idx.stage(i) == 0 {
		return idx.Entry(i), i + 1, true
	}
	return IndexEntry{}, i, false
}

// FileStat is the part of a work tree file's stat data a git index
// records, as StatOf takes it: truncated to 32 bits as git keeps it, but
// for the mtime's seconds, which racily clean entries are told by.
type FileStat struct {
	MTimeSec                                            int64
	MTimeNsec, CTimeSec, CTimeNsec, Ino, UID, GID, Size uint32
	Regular                                             bool
}

// Clean reports whether the work tree file fi (as os.Lstat or a directory
// walk gave it) still holds e's object; see CleanStat. Without stat data
// (another OS) nothing is.
func (idx *Index) Clean(e *IndexEntry, fi fs.FileInfo) bool {
	st, ok := StatOf(fi)
	return ok && idx.CleanStat(e, st)
}

// CleanStat reports whether the work tree file whose stat data is st
// still holds e's object, by git's own rules: a regular file whose stat
// data is what git recorded, and not racily clean (an entry whose mtime is
// not older than the index file itself may have changed within the same
// timestamp tick after git looked at it, so only reading it can tell).
// Entries git does not check (assume-unchanged, skip-worktree),
// intent-to-add entries and unmerged paths are never clean here.
func (idx *Index) CleanStat(e *IndexEntry, st FileStat) bool {
	if e.Stage != 0 || e.AssumeValid || e.SkipWorktree || e.IntentToAdd || e.Mode&0o170000 != 0o100000 || !st.Regular {
		return false
	}
	if uint32(st.MTimeSec) != e.MTimeSec || st.MTimeNsec != e.MTimeNsec || st.CTimeSec != e.CTimeSec || st.CTimeNsec != e.CTimeNsec ||
		st.Ino != e.Ino || st.UID != e.UID || st.GID != e.GID || st.Size != e.Size {
		return false
	}
	racy := st.MTimeSec > idx.MTimeSec || st.MTimeSec == idx.MTimeSec && int64(st.MTimeNsec) >= idx.MTimeNsec
	return !racy
}

// Has reports whether the index has an extension with signature sig.
func (idx *Index) Has(sig string) bool {
	for _, s := range idx.Extensions {
		if s == sig {
			return true
		}
	}
	return false
}

type indexReader struct {
	data     []byte
	paths    []byte // the entries' paths, one after another
	oids     []byte // the entries' hex object IDs, in order
	n        int    // entries read
	off, hs  int
	version  int
	lastPath string // v4's prefix compression is against the previous path
}

func (r *indexReader) entry(e *indexRec) error {
	start := r.off
	fixed := 40 + r.hs + 2
	if r.off+fixed > len(r.data) {
		return errShort
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(r.data[start+4*i:]) }
	e.cTimeSec, e.cTimeNsec, e.mTimeSec, e.mTimeNsec = u(0), u(1), u(2), u(3)
	e.dev, e.ino, e.mode, e.uid, e.gid, e.size = u(4), u(5), u(6), u(7), u(8), u(9)
	hex.Encode(r.oids[r.n*2*r.hs:], r.data[start+40:start+40+r.hs])
	r.n++
	flags := binary.BigEndian.Uint16(r.data[start+40+r.hs:])
	r.off = start + fixed
	e.flags = uint8(flags>>12) & 3
	if flags&0x8000 != 0 {
		e.flags |= recAssumeValid
	}
	if flags&0x4000 != 0 {
		if r.version < 3 {
			return errors.New("extended flags in a version 2 index")
		}
		if r.off+2 > len(r.data) {
			return errShort
		}
		ext := binary.BigEndian.Uint16(r.data[r.off:])
		r.off += 2
		if ext&0x4000 != 0 {
			e.flags |= recSkipWorktree
		}
		if ext&0x2000 != 0 {
			e.flags |= recIntentToAdd
		}
	}
	if r.version == 4 {
		return r.path4(e)
	}
	nul := bytes.IndexByte(r.data[r.off:], 0)
	if nul < 0 {
		return errShort
	}
	if _, err := r.keep(e, r.data[r.off:r.off+nul]); err != nil {
		return err
	}
	// Entries are padded with 1-8 NULs to a multiple of 8 bytes.
	r.off = start + (r.off-start+nul+8)&^7
	if r.off > len(r.data) {
		return errShort
	}
	return nil
}

// path4 reads a version 4 path: how many bytes to drop from the end of the
// previous path (an offset varint), then the NUL-terminated rest.
func (r *indexReader) path4(e *indexRec) error {
	var drop uint64
	for i := 0; ; i++ {
		if r.off >= len(r.data) || i > 9 {
			return errShort
		}
		c := r.data[r.off]
		r.off++
		if i > 0 {
			drop++
		}
		drop = drop<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			break
		}
	}
	if drop > uint64(len(r.lastPath)) {
		return fmt.Errorf("path prefix drops %d bytes of %q", drop, r.lastPath)
	}
	nul := bytes.IndexByte(r.data[r.off:], 0)
	if nul < 0 {
		return errShort
	}
	p, err := r.keep(e, r.data[r.off:r.off+nul], r.lastPath[:len(r.lastPath)-int(drop)])
	if err != nil {
		return err
	}
	r.lastPath = p
	r.off += nul + 1
	return nil
}

// keep copies e's path (prefix, then rest) into the paths buffer, where e
// records it, and returns it as a string there: one allocation for all
// the paths rather than one each. Appending never changes the bytes a
// string already holds; when it moves the buffer, the string keeps the
// old one.
func (r *indexReader) keep(e *indexRec, rest []byte, prefix ...string) (string, error) {
	start := len(r.paths)
	for _, p := range prefix {
		r.paths = append(r.paths, p...)
	}
	r.paths = append(r.paths, rest...)
	if len(r.paths) > math.MaxUint32 {
		// Only version 4's prefixes can make the paths longer than the file.
		return "", errors.New("the paths add up to more than 4 GB")
	}
	e.pathOff, e.pathLen = uint32(start), uint32(len(r.paths)-start)
	if len(r.paths) == start {
		return "", nil
	}
	return unsafe.String(&r.paths[start], len(r.paths)-start), nil
}

// extensions reads the signatures of the extensions after the entries.
func (r *indexReader) extensions() ([]string, error) {
	var sigs []string
	for r.off < len(r.data) {
		if r.off+8 > len(r.data) {
			return nil, errors.New("extension header truncated")
		}
		sig := string(r.data[r.off : r.off+4])
		size := int(binary.BigEndian.Uint32(r.data[r.off+4:]))
		r.off += 8
		if size < 0 || r.off+size > len(r.data) {
			return nil, fmt.Errorf("extension %q truncated", sig)
		}
		r.off += size
		sigs = append(sigs, sig)
	}
	return sigs, nil
}
