package layers

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// Every change a rebuild must see changes a git checkout's key, whether
// the file's ID would come from git's index or from reading it, and
// undoing the change gives the no-op key back.
func TestGitKeyRebuildsOnEveryChange(t *testing.T) {
	dir := checkout(t)
	settle(t, dir)
	base := filesKey(t, repoFiles(t, dir))
	if again := filesKey(t, repoFiles(t, dir)); again != base {
		t.Fatalf("no change: key %s, then %s", base, again)
	}
	at := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	write := func(p, content string) func() {
		return func() { must0(t, os.WriteFile(at(p), []byte(content), 0o644)) }
	}
	rename := func(from, to string) func() { return func() { must0(t, os.Rename(at(from), at(to))) } }
	remove := func(p string) func() { return func() { must0(t, os.RemoveAll(at(p))) } }
	ignore := func(content string) func() { return write(".dockerignore", content) }
	for _, c := range []struct {
		name         string
		change, undo func()
	}{
		{"tracked file edited", write("app/main.py", "print(10)\n"), write("app/main.py", "print(1)\n")},
		{"tracked file removed", remove("README"), write("README", "r\n")},
		{"file renamed", rename("app/lib/util.py", "app/lib/util2.py"), rename("app/lib/util2.py", "app/lib/util.py")},
		{"directory renamed", rename("app/lib", "app/lib2"), rename("app/lib2", "app/lib")},
		{"file added in a new directory", func() {
			must0(t, os.MkdirAll(at("app/new"), 0o755))
			write("app/new/x.py", "x")()
		}, remove("app/new")},
		{"empty directory added", func() { must0(t, os.Mkdir(at("app/void"), 0o755)) }, remove("app/void")},
		{"file replaced by a directory", func() {
			remove("empty")()
			must0(t, os.Mkdir(at("empty"), 0o755))
		}, func() {
			remove("empty")()
			write("empty", "")()
		}},
		{"file replaced by a hard link", func() {
			remove("README")()
			must0(t, os.Link(at("app/main.py"), at("README")))
		}, func() {
			remove("README")()
			write("README", "r\n")()
		}},
		{".dockerignore drops a tracked file", ignore("secret.env\nREADME\n"), ignore("secret.env\n")},
		{".dockerignore no longer drops a file", ignore("# nothing\n"), ignore("secret.env\n")},
		{".dockerignore drops a directory", ignore("secret.env\napp/lib\n"), ignore("secret.env\n")},
		{".dockerignore keeps one file of a dropped directory", ignore("secret.env\napp\n!app/main.py\n"), ignore("secret.env\n")},
	} {
		c.change()
		if got := filesKey(t, repoFiles(t, dir)); got == base {
			t.Errorf("%s: key unchanged", c.name)
		}
		c.undo()
		if got := filesKey(t, repoFiles(t, dir)); got != base {
			t.Errorf("%s, undone: key %s, want the first %s", c.name, got, base)
		}
	}
}

// A file whose content changes with its size and mtime restored changes
// the key: tracked and clean in git's index (its ctime tells git's stat
// data apart), untracked (always read) and racily clean (see
// TestGitKeyRacyEntryIsRead).
func TestGitKeySameSizeAndMtimeRestored(t *testing.T) {
	dir := checkout(t)
	must0(t, os.WriteFile(filepath.Join(dir, "untracked.txt"), []byte("y = 3\n"), 0o644))
	settle(t, dir)
	for _, c := range [][2]string{{"app/lib/util.py", "x = 5\n"}, {"untracked.txt", "y = 4\n"}} {
		full := filepath.Join(dir, filepath.FromSlash(c[0]))
		fi, err := os.Stat(full)
		must0(t, err)
		before := filesKey(t, repoFiles(t, dir))
		must0(t, os.WriteFile(full, []byte(c[1]), 0o644))
		must0(t, os.Chtimes(full, fi.ModTime(), fi.ModTime()))
		if after := filesKey(t, repoFiles(t, dir)); after == before {
			t.Errorf("%s: content changed, size and mtime restored: key unchanged", c[0])
		}
	}
}

// After `git add` of a change the index vouches for the new content: the
// key is the one every file read gives.
func TestGitKeyAfterTheIndexMoves(t *testing.T) {
	dir := checkout(t)
	must0(t, os.WriteFile(filepath.Join(dir, "app", "main.py"), []byte("print('new')\n"), 0o644))
	runGit(t, dir, "add", "-A")
	settle(t, dir)
	if n, files := fromIndex(t, repoFiles(t, dir)); n != files {
		t.Fatalf("after git add: %d of %d files from the index, want all", n, files)
	}
	fromIdx := filesKey(t, repoFiles(t, dir))
	makeRacy(t, dir)
	if read := filesKey(t, repoFiles(t, dir)); read != fromIdx {
		t.Errorf("after git add: key %s from the index, %s with every file read", fromIdx, read)
	}
}

// The parallel walk gives the entries in the order a serial walk
// (filepath.WalkDir) gives them, hard links to the first path of that
// order, on a tree of many directories whose names sort differently as
// names and as paths ("a", "a-b", "a.b", "a/b").
func TestFilesWalkOrderIsWalkDirs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for _, d := range []string{"a", "a-b", "a.b", "a/b", "a/b/c", "z", "m/n/o/p"} {
		for i := range 40 {
			files[d+"/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('0'+i/26))] = d
		}
	}
	writeTree(t, root, files)
	must0(t, os.Link(filepath.Join(root, "z", "fa0"), filepath.Join(root, "a-b", "hard")))
	must0(t, os.Link(filepath.Join(root, "z", "fa0"), filepath.Join(root, "a", "b", "hard")))
	must0(t, os.Symlink("../z/fa0", filepath.Join(root, "a", "link")))
	var want []string
	must0(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if p != root {
			want = append(want, filepath.ToSlash(must(filepath.Rel(root, p))))
		}
		return err
	}))
	for range 5 {
		entries, err := (&Files{Root: root}).Entries(context.Background())
		must0(t, err)
		if len(entries) != len(want) {
			t.Fatalf("%d entries, WalkDir %d", len(entries), len(want))
		}
		for i, e := range entries {
			if e.Path != want[i] {
				t.Fatalf("entry %d is %s, WalkDir's %s", i, e.Path, want[i])
			}
			switch e.Path {
			case "a/b/hard":
				if e.Type != TypeFile {
					t.Errorf("a/b/hard, the first path of its inode in walk order, is a %s", e.Type)
				}
			case "a-b/hard", "z/fa0":
				if e.Type != TypeHardlink || e.Link != "a/b/hard" {
					t.Errorf("%s: %s to %q, want a hard link to a/b/hard", e.Path, e.Type, e.Link)
				}
			}
		}
	}
}

// A key from git's index is made of its directories' digests, most taken
// while the tree is walked, and never lists the entries: taken after the
// walk instead, once every file is named and every hard link settled, the
// digests give the same key, whatever the destination.
func TestGitKeyDigestsTakenDuringTheWalk(t *testing.T) {
	testtool.RequireTool(t, "git")
	root := t.TempDir()
	files := map[string]string{"a.c": "x", "a0": "y", "b": ""}
	for _, d := range []string{"a", "a-b", "a.b", "a/b", "a/b/c", "a/b-c", "a/b.c/d", "z"} {
		for i := range 12 {
			files[d+"/f"+strings.Repeat("x", i%3)+string(rune('a'+i))] = d + string(rune('a'+i))
		}
	}
	writeTree(t, root, files)
	// Both paths of the hard link tracked, the index's stat data taken
	// after the link was made: the second path in walk order, z/fa, is
	// clean and becomes a hard link only as the walk settles.
	must0(t, os.Link(filepath.Join(root, "z", "fa"), filepath.Join(root, "a-b", "hard")))
	runGit(t, root, "init", "-q")
	runGit(t, root, "add", "-A")
	runGit(t, root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "x")
	must0(t, os.WriteFile(filepath.Join(root, "a", "b", "untracked"), []byte("u"), 0o644))
	settle(t, root)
	keys := map[string]bool{}
	for _, dest := range []string{"", "/app"} {
		f := &Files{Root: root, Dest: dest}
		key := filesKey(t, f)
		if f.entries != nil {
			t.Errorf("dest %q: the key listed the entries", dest)
		}
		for _, n := range f.tree.nodes {
			n.sum = nil
		}
		again, err := f.hash(context.Background())
		must0(t, err)
		if again != key {
			t.Errorf("dest %q: key %s, %s with every directory digested after the walk", dest, key, again)
		}
		keys[key] = true
	}
	if len(keys) != 2 {
		t.Error("the destination does not change the key")
	}
}

// sortNames sorts as strings.Compare does, names that share their first
// eight bytes, are prefixes of each other or hold bytes above 0x7f too.
func TestSortNames(t *testing.T) {
	names := []string{"abcdefgh", "abcdefg", "abcdefgh0", "abcdefgha", "a", "a\x01", "ab", "f00012.txt", "f00012.tx",
		"f00011.txt", "\xff", "\xfe\xff", "z", "abcdefgi", "abcdefgg\xff", ".git", "-", "A", "abcdefgh\x01"}
	ents := make([]dirent, len(names))
	for i, n := range names {
		ents[i] = dirent{name: n}
	}
	sortNames(ents)
	want := slices.Clone(names)
	slices.Sort(want)
	for i := range want {
		if ents[i].name != want[i] {
			t.Fatalf("sorted %q at %d, want %q", ents[i].name, i, want[i])
		}
	}
}
