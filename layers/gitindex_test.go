package layers

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/internal/testtool"
)

func runGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	if _, err := git.Run(dir, args...); err != nil {
		t.Fatal(err)
	}
}

// checkout makes a committed repository: text files, an executable, a
// symlink, a file .dockerignore drops, and an empty file.
func checkout(t *testing.T) string {
	t.Helper()
	testtool.RequireTool(t, "git")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no user attributes or config of the machine's
	dir := t.TempDir()
	runGit(t, dir, "init", "-q")
	writeTree(t, dir, map[string]string{
		"app/main.py": "print(1)\n", "app/lib/util.py": "x = 2\n", "README": "r\n", "secret.env": "k=v\n",
		".dockerignore": "secret.env\n", "empty": "", ".gitattributes": "*.png binary\n",
	})
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app/main.py", filepath.Join(dir, "main")); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "x")
	return dir
}

// settle dates the index after every file, as an index written a while
// after the checkout is: no entry is racily clean.
func settle(t *testing.T, dir string) {
	t.Helper()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, ".git", "index"), later, later); err != nil {
		t.Fatal(err)
	}
}

// makeRacy dates the index before every file: every entry is racily clean
// and must be read.
func makeRacy(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(dir, ".git", "index"), time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
}

func repoFiles(t *testing.T, dir string) *Files {
	t.Helper()
	pats, _, err := ReadIgnoreFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Files{Root: dir, Dest: "/app", Ignore: pats, UID: 1000, GID: 1000}
}

func filesKey(t *testing.T, f *Files) string {
	t.Helper()
	k, err := f.Key(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fromIndex counts the files whose IDs came from git's index, and the files.
func fromIndex(t *testing.T, f *Files) (indexed, files int) {
	t.Helper()
	w, trusted, err := f.walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.tree = w
	entries, oids := f.flatten()
	for i, e := range entries {
		if e.Type == TypeFile {
			files++
			if trusted && oids[i] != "" {
				indexed++
			}
		}
	}
	return indexed, files
}

func TestGitKeySameForAFreshClone(t *testing.T) {
	orig := checkout(t)
	clone := filepath.Join(t.TempDir(), "clone")
	runGit(t, orig, "clone", "-q", orig, clone)

	settle(t, orig)
	if n, files := fromIndex(t, repoFiles(t, orig)); n != files || files == 0 {
		t.Fatalf("settled checkout: %d of %d files from the index, want all", n, files)
	}
	want := filesKey(t, repoFiles(t, orig))
	// The clone as checked out (some entries may be racily clean), settled
	// (none read), and with every entry racy (all read): one key.
	if got := filesKey(t, repoFiles(t, clone)); got != want {
		t.Errorf("fresh clone: key %s, original %s", got, want)
	}
	settle(t, clone)
	if got := filesKey(t, repoFiles(t, clone)); got != want {
		t.Errorf("settled clone: key %s, original %s", got, want)
	}
	makeRacy(t, clone)
	if n, _ := fromIndex(t, repoFiles(t, clone)); n != 0 {
		t.Errorf("every entry racy: %d files from the index, want 0", n)
	}
	if got := filesKey(t, repoFiles(t, clone)); got != want {
		t.Errorf("every file read: key %s, from the index %s", got, want)
	}
}

func TestGitKeyChangesWithTheTar(t *testing.T) {
	dir := checkout(t)
	settle(t, dir)
	base := filesKey(t, repoFiles(t, dir))
	main := filepath.Join(dir, "app", "main.py")
	fi, err := os.Stat(main)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func()
		undo   func()
	}{
		{"same size, mtime restored", func() {
			must0(t, os.WriteFile(main, []byte("print(2)\n"), 0o644))
			must0(t, os.Chtimes(main, fi.ModTime(), fi.ModTime()))
		}, func() {
			must0(t, os.WriteFile(main, []byte("print(1)\n"), 0o644))
		}},
		{"untracked file", func() { must0(t, os.WriteFile(filepath.Join(dir, "new.txt"), []byte("n"), 0o644)) },
			func() { must0(t, os.Remove(filepath.Join(dir, "new.txt"))) }},
		{"executable bit", func() { must0(t, os.Chmod(main, 0o755)) }, func() { must0(t, os.Chmod(main, 0o644)) }},
		{"symlink target", func() {
			must0(t, os.Remove(filepath.Join(dir, "main")))
			must0(t, os.Symlink("app/lib/util.py", filepath.Join(dir, "main")))
		}, func() {
			must0(t, os.Remove(filepath.Join(dir, "main")))
			must0(t, os.Symlink("app/main.py", filepath.Join(dir, "main")))
		}},
	} {
		c.change()
		if got := filesKey(t, repoFiles(t, dir)); got == base {
			t.Errorf("%s: key unchanged", c.name)
		}
		c.undo()
	}
	// What .dockerignore drops changes nothing, tracked or not.
	must0(t, os.WriteFile(filepath.Join(dir, "secret.env"), []byte("k=changed\n"), 0o644))
	if got := filesKey(t, repoFiles(t, dir)); got != base {
		t.Errorf("a .dockerignore'd file changed the key")
	}
}

func TestGitKeyRacyEntryIsRead(t *testing.T) {
	dir := checkout(t)
	main := filepath.Join(dir, "app", "main.py")
	// git records the file's stat data with an mtime ahead of the index
	// (racily clean); then the content changes, size and mtime restored.
	future := time.Now().Add(time.Hour)
	must0(t, os.Chtimes(main, future, future))
	runGit(t, dir, "add", "app/main.py")
	before := filesKey(t, repoFiles(t, dir))
	must0(t, os.WriteFile(main, []byte("print(9)\n"), 0o644))
	must0(t, os.Chtimes(main, future, future))
	if after := filesKey(t, repoFiles(t, dir)); after == before {
		t.Error("racily clean entry changed, same size and mtime: key unchanged")
	}
}

func TestGitKeyConvertingAttributesReadEverything(t *testing.T) {
	dir := checkout(t)
	settle(t, dir)
	must0(t, os.WriteFile(filepath.Join(dir, "app", ".gitattributes"), []byte("*.py text eol=crlf\n"), 0o644))
	if n, _ := fromIndex(t, repoFiles(t, dir)); n != 0 {
		t.Errorf("an untracked .gitattributes setting eol: %d files from the index, want 0", n)
	}
	must0(t, os.Remove(filepath.Join(dir, "app", ".gitattributes")))
	runGit(t, dir, "config", "core.autocrlf", "true")
	if n, _ := fromIndex(t, repoFiles(t, dir)); n != 0 {
		t.Errorf("core.autocrlf=true: %d files from the index, want 0", n)
	}
}

func TestGitKeyLinkedWorktree(t *testing.T) {
	dir := checkout(t)
	settle(t, dir)
	want := filesKey(t, repoFiles(t, dir))
	linked := filepath.Join(t.TempDir(), "wt")
	runGit(t, dir, "worktree", "add", "-q", linked)
	if got := filesKey(t, repoFiles(t, linked)); got != want {
		t.Errorf("linked worktree (.git file): key %s, main checkout %s", got, want)
	}
}

func must0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGitKeySubmoduleFilesAreRead(t *testing.T) {
	sub := checkout(t)
	dir := checkout(t)
	runGit(t, dir, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "vendor/sub")
	runGit(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "sub")
	settle(t, dir)
	f := repoFiles(t, dir)
	before := filesKey(t, f)
	if _, ok := paths(t, f)["app/vendor/sub/app/main.py"]; !ok {
		t.Fatal("the submodule's files are not in the layer")
	}
	// The superproject's index knows the submodule only as a commit: its
	// files are read, so a change in them changes the key.
	must0(t, os.WriteFile(filepath.Join(dir, "vendor", "sub", "app", "main.py"), []byte("print(7)\n"), 0o644))
	if after := filesKey(t, repoFiles(t, dir)); after == before {
		t.Error("a file of a submodule changed: key unchanged")
	}
}

func TestGitKeyTrackedAttributesMissingFromTheWorkTree(t *testing.T) {
	dir := checkout(t)
	settle(t, dir)
	must0(t, os.Remove(filepath.Join(dir, ".gitattributes")))
	if n, _ := fromIndex(t, repoFiles(t, dir)); n != 0 {
		t.Errorf("a tracked .gitattributes deleted (git reads the index's copy): %d files from the index, want 0", n)
	}
}
