package git

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
)

// gitRepo makes a repository in a new directory with files, committed.
func gitRepo(t testing.TB, files map[string]string, initArgs ...string) string {
	t.Helper()
	testtool.RequireTool(t, "git")
	dir := t.TempDir()
	mustGit(t, dir, append([]string{"init", "-q"}, initArgs...)...)
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	mustGit(t, dir, "add", "-A")
	mustGit(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "x")
	return dir
}

func mustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Run(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lsFiles is git's own reading of the index: path -> "mode oid stage".
func lsFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := Output(dir, "ls-files", "-s", "-z")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, rec := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		meta, p, _ := strings.Cut(rec, "\t")
		m[p] = meta
	}
	return m
}

func readIndex(t *testing.T, dir string) *Index {
	t.Helper()
	wt, err := Ask(dir).WorkTree()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := wt.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func checkAgainstGit(t *testing.T, dir string, idx *Index) {
	t.Helper()
	want := lsFiles(t, dir)
	if idx.Len() != len(want) {
		t.Fatalf("%d entries, git lists %d: %v", idx.Len(), len(want), want)
	}
	for i := range idx.Len() {
		e := idx.Entry(i)
		if e.Path != idx.Path(i) {
			t.Errorf("entry %d: path %q, Path gives %q", i, e.Path, idx.Path(i))
		}
		got := strconv.FormatUint(uint64(e.Mode), 8) + " " + e.OID + " " + strconv.Itoa(e.Stage)
		if want[e.Path] != got {
			t.Errorf("%s: %q, git says %q", e.Path, got, want[e.Path])
		}
	}
}

var sample = map[string]string{
	"a.txt": "a\n", "b/c.txt": "cc\n", "b/d/e.txt": "e\n", "b/d/f.txt": "", "b-x": "x", "long/" + strings.Repeat("n", 200) + "/" + strings.Repeat("m", 200) + "/x": "long", "long/" + strings.Repeat("n", 200) + "/y": "y",
}

func TestReadIndexVersions(t *testing.T) {
	dir := gitRepo(t, sample)
	idx := readIndex(t, dir)
	if idx.Version != 2 {
		t.Fatalf("version %d, want 2 (git's default)", idx.Version)
	}
	checkAgainstGit(t, dir, idx)

	// Version 3 holds extended flags; git writes 2 when no entry has any.
	mustGit(t, dir, "update-index", "--index-version", "3")
	mustGit(t, dir, "update-index", "--skip-worktree", "b/c.txt")
	mustGit(t, dir, "update-index", "--assume-unchanged", "a.txt")
	if err := os.WriteFile(filepath.Join(dir, "new.txt"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, dir, "add", "-N", "new.txt")
	idx = readIndex(t, dir)
	if idx.Version != 3 {
		t.Fatalf("version %d, want 3", idx.Version)
	}
	checkAgainstGit(t, dir, idx)
	if e, _ := idx.Lookup("b/c.txt"); !e.SkipWorktree || e.AssumeValid || e.IntentToAdd {
		t.Errorf("b/c.txt: flags %+v, want skip-worktree alone", e)
	}
	if e, _ := idx.Lookup("a.txt"); !e.AssumeValid || e.SkipWorktree || e.IntentToAdd {
		t.Errorf("a.txt: flags %+v, want assume-unchanged alone", e)
	}
	if e, _ := idx.Lookup("new.txt"); !e.IntentToAdd {
		t.Error("new.txt: intent-to-add not read")
	}

	// Version 4 compresses each path against the one before it.
	mustGit(t, dir, "update-index", "--index-version", "4")
	idx = readIndex(t, dir)
	if idx.Version != 4 {
		t.Fatalf("version %d, want 4", idx.Version)
	}
	checkAgainstGit(t, dir, idx)
	if !idx.Has("TREE") && len(idx.Extensions) == 0 {
		t.Logf("no extensions written (%v)", idx.Extensions)
	}
}

func TestReadIndexSHA256(t *testing.T) {
	dir := gitRepo(t, sample, "--object-format=sha256")
	idx := readIndex(t, dir)
	checkAgainstGit(t, dir, idx)
	if e, _ := idx.Lookup("a.txt"); len(e.OID) != 64 {
		t.Errorf("a.txt: object ID %q is not a sha256 one", e.OID)
	}
}

func TestReadIndexRefusesCorruption(t *testing.T) {
	dir := gitRepo(t, sample)
	p := filepath.Join(dir, ".git", "index")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[20] ^= 1
	if _, err := ParseIndex(data, "sha1"); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a flipped bit: %v, want a checksum error", err)
	}
	if _, err := ParseIndex(data[:len(data)/2], "sha1"); err == nil {
		t.Error("a truncated index parsed")
	}
	// The checksum git skips with index.skipHash (all zeros) is accepted.
	data[20] ^= 1
	copy(data[len(data)-20:], make([]byte, 20))
	if _, err := ParseIndex(data, "sha1"); err != nil {
		t.Errorf("index with a zero checksum: %v", err)
	}
}

func TestWorkTreeOfLinkedWorktree(t *testing.T) {
	dir := gitRepo(t, sample)
	linked := filepath.Join(t.TempDir(), "wt")
	mustGit(t, dir, "worktree", "add", "-q", linked)
	wt, err := Ask(filepath.Join(linked, "b")).WorkTree()
	if err != nil {
		t.Fatal(err)
	}
	if !sameDir(wt.Top, linked) || !strings.Contains(wt.GitDir, filepath.Join(".git", "worktrees")) || !sameDir(wt.CommonDir, filepath.Join(dir, ".git")) {
		t.Errorf("linked worktree: %+v", wt)
	}
	checkAgainstGit(t, linked, readIndex(t, linked))
}

// fakeInfo is a regular file's stat data as a test chooses it.
type fakeInfo struct{ st syscall.Stat_t }

func (f fakeInfo) Name() string       { return "f" }
func (f fakeInfo) Size() int64        { return f.st.Size }
func (f fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (f fakeInfo) ModTime() time.Time { return time.Unix(f.st.Mtim.Sec, f.st.Mtim.Nsec) }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return &f.st }

func TestCleanRacyAndModified(t *testing.T) {
	e := &IndexEntry{Path: "f", MTimeSec: 100, MTimeNsec: 5, CTimeSec: 100, CTimeNsec: 5, Ino: 7, Mode: 0o100644, UID: 1, GID: 2, Size: 10}
	st := syscall.Stat_t{Size: 10, Ino: 7, Uid: 1, Gid: 2}
	st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec = 100, 5, 100, 5
	idx := &Index{MTimeSec: 100, MTimeNsec: 6}
	if !idx.Clean(e, fakeInfo{st}) {
		t.Error("matching stat data, older than the index: not clean")
	}
	// Written in the index's own tick or after it: git cannot know the
	// content is still what it hashed.
	for _, at := range [][2]int64{{100, 5}, {100, 4}, {99, 0}} {
		racy := &Index{MTimeSec: at[0], MTimeNsec: at[1]}
		if racy.Clean(e, fakeInfo{st}) {
			t.Errorf("index at %v, entry at 100.5: racily clean entry taken as clean", at)
		}
	}
	changes := map[string]func(*syscall.Stat_t){
		"size":  func(s *syscall.Stat_t) { s.Size = 11 },
		"mtime": func(s *syscall.Stat_t) { s.Mtim.Nsec = 4 },
		"ctime": func(s *syscall.Stat_t) { s.Ctim.Sec = 99 },
		"inode": func(s *syscall.Stat_t) { s.Ino = 8 },
		"owner": func(s *syscall.Stat_t) { s.Uid = 0 },
	}
	for name, change := range changes {
		s := st
		change(&s)
		if idx.Clean(e, fakeInfo{s}) {
			t.Errorf("%s changed: still clean", name)
		}
	}
	for name, flag := range map[string]*bool{"assume-unchanged": &e.AssumeValid, "skip-worktree": &e.SkipWorktree, "intent-to-add": &e.IntentToAdd} {
		*flag = true
		if idx.Clean(e, fakeInfo{st}) {
			t.Errorf("%s entry taken as clean", name)
		}
		*flag = false
	}
	link := *e
	link.Mode = 0o120000
	if idx.Clean(&link, fakeInfo{st}) {
		t.Error("a symlink entry taken as a clean file")
	}
}

func TestConvertingAttribute(t *testing.T) {
	for in, want := range map[string]string{
		"*.png binary\n*.sh -text\n# * text\n":      "",
		"*.c diff=cpp\n* !eol\n":                    "",
		"* text=auto\n":                             "text=auto",
		"*.bin filter=lfs diff=lfs merge=lfs -text": "filter=lfs",
		"[attr]mine eol=crlf\n*.x mine\n":           "eol=crlf",
		"*.txt ident\n":                             "ident",
	} {
		if got := convertingAttribute([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestConverts(t *testing.T) {
	dir := gitRepo(t, sample)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	wt, err := Ask(dir).WorkTree()
	if err != nil {
		t.Fatal(err)
	}
	// A build asks git once; each Ask here is a new build's.
	converts := func(files []string) (bool, string) { return Ask(dir).ConvertSettings(wt).Converts(files) }
	attrs := filepath.Join(dir, ".gitattributes")
	if err := os.WriteFile(attrs, []byte("*.png binary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, why := converts([]string{attrs}); c {
		t.Errorf("binary only: converts (%s)", why)
	}
	mustGit(t, dir, "config", "core.autocrlf", "input")
	if c, _ := converts(nil); !c {
		t.Error("core.autocrlf=input: does not convert")
	}
	mustGit(t, dir, "config", "core.autocrlf", "false")
	info := filepath.Join(dir, ".git", "info", "attributes")
	if err := os.MkdirAll(filepath.Dir(info), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(info, []byte("* text=auto\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, _ := converts(nil); !c {
		t.Error(".git/info/attributes with text=auto: does not convert")
	}
}

// ParseIndex's entries do not share the caller's bytes (ReadIndex's own
// buffer is shared, uncopied): writing over data after the parse changes
// no path or ID.
func TestParseIndexKeepsNoReferenceToData(t *testing.T) {
	dir := gitRepo(t, sample)
	data, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ParseIndex(data, "sha1")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := ReadIndex(filepath.Join(dir, ".git", "index"), "sha1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if idx.Len() == 0 || idx.Len() != fromFile.Len() {
		t.Fatalf("%d entries, ReadIndex %d", idx.Len(), fromFile.Len())
	}
	for i := range idx.Len() {
		if e, f := idx.Entry(i), fromFile.Entry(i); e.Path != f.Path || e.OID != f.OID || len(e.OID) != 40 {
			t.Errorf("entry %d: %s %s, ReadIndex gives %s %s", i, e.Path, e.OID, f.Path, f.OID)
		}
	}
}

// LookupIn finds what Lookup finds, whatever the hint, and says where the
// next path in order is.
func TestLookupInMatchesLookup(t *testing.T) {
	idx := readIndex(t, gitRepo(t, sample))
	hint := -1
	for i := range idx.Len() {
		e := idx.Entry(i)
		dir, name := "", e.Path
		if j := strings.LastIndexByte(e.Path, '/'); j >= 0 {
			dir, name = e.Path[:j], e.Path[j+1:]
		}
		for _, h := range []int{hint, -1, i, 0, idx.Len() + 3} {
			got, next, ok := idx.LookupIn(dir, name, h)
			if !ok || got != e || next != i+1 {
				t.Errorf("LookupIn(%q, %q, %d) = %v, %d, %v; want entry %d", dir, name, h, got, next, ok, i)
			}
		}
		_, hint, _ = idx.LookupIn(dir, name, hint)
	}
	for _, miss := range [][2]string{{"", "zz"}, {"b", "c"}, {"b/c.txt", ""}, {"", "b"}, {"b/d", "e.tx"}} {
		if _, _, ok := idx.LookupIn(miss[0], miss[1], 0); ok {
			t.Errorf("LookupIn(%q, %q) found an entry", miss[0], miss[1])
		}
	}
}

// Each entry gives back the stat data git recorded for its file, field by
// field: a file whose mtime was set into the past (its ctime is now) tells
// the two times apart.
func TestEntryStatData(t *testing.T) {
	dir := gitRepo(t, sample)
	past := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "a.txt"), past, past); err != nil {
		t.Fatal(err)
	}
	mustGit(t, dir, "add", "a.txt")
	idx := readIndex(t, dir)
	files := 0
	for i := range idx.Len() {
		e := idx.Entry(i)
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		st, ok := StatOf(fi)
		if !ok || !st.Regular {
			continue
		}
		files++
		got := FileStat{MTimeSec: int64(e.MTimeSec), MTimeNsec: e.MTimeNsec, CTimeSec: e.CTimeSec, CTimeNsec: e.CTimeNsec, Ino: e.Ino, UID: e.UID, GID: e.GID, Size: e.Size, Regular: true}
		if got != st {
			t.Errorf("%s: index %+v, file %+v", e.Path, got, st)
		}
	}
	if e, _ := idx.Lookup("a.txt"); int64(e.MTimeSec) != past.Unix() || e.CTimeSec == e.MTimeSec {
		t.Errorf("a.txt: mtime %d, ctime %d; want mtime %d and a later ctime", e.MTimeSec, e.CTimeSec, past.Unix())
	}
	if files < 2 {
		t.Fatalf("%d regular files checked", files)
	}
}
