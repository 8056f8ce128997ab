package git

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseIndex: a work tree's index is the user's file, read on every
// build. Whatever its bytes, parsing returns an index or an error, and an
// index it returns gives every entry, in git's order.
func FuzzParseIndex(f *testing.F) {
	dir := gitRepo(f, sample)
	for _, version := range []string{"2", "3", "4"} {
		mustGit(f, dir, "update-index", "--index-version", version)
		if version == "3" {
			mustGit(f, dir, "update-index", "--skip-worktree", "b/c.txt")
		}
		data, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// And without the checksum (index.skipHash), which fuzzed bytes keep.
		f.Add(append(data[:len(data)-20:len(data)-20], make([]byte, 20)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data, "sha1")
		if err != nil {
			return
		}
		for i := range idx.Len() {
			e := idx.Entry(i)
			if e.Path != idx.Path(i) || len(e.OID) != 40 || e.Stage > 3 {
				t.Fatalf("entry %d: %+v (Path %q)", i, e, idx.Path(i))
			}
			if i > 0 {
				if p := idx.Path(i - 1); p > e.Path || p == e.Path && idx.Entry(i-1).Stage >= e.Stage {
					t.Fatalf("entry %d (%q) out of order after %q", i, e.Path, p)
				}
			}
			if got, _, ok := idx.LookupNear(e.Path, i); ok != (e.Stage == 0) || ok && got != e {
				t.Fatalf("LookupNear(%q) = %+v, %v; want entry %d", e.Path, got, ok, i)
			}
		}
	})
}
