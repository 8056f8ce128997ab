package layers

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(t *testing.T, f *Files) map[string]Entry {
	t.Helper()
	entries, err := f.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Entry{}
	for _, e := range entries {
		m[e.Path] = e
	}
	return m
}

func keys(m map[string]Entry) string {
	var k []string
	for p := range m {
		k = append(k, p)
	}
	sort.Strings(k)
	return strings.Join(k, " ")
}

func TestFilesIgnoreIncludeExcludeAndGit(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/main.sh": "echo", "app/README.md": "doc", "app/cache/x.tmp": "t", "app/keep/a.txt": "a",
		".git/HEAD": "ref", "secret.env": "k=v",
	})
	ignore := []string{"**/*.tmp", "secret.env"}
	f := &Files{Root: root, Dir: "app", Dest: "/srv", Exclude: []string{"*.md"}, Ignore: ignore, UID: 1000, GID: 1000}
	got := paths(t, f)
	if want := "srv srv/cache srv/keep srv/keep/a.txt srv/main.sh"; keys(got) != want {
		t.Fatalf("entries %q, want %q", keys(got), want)
	}
	if e := got["srv/main.sh"]; e.UID != 1000 || e.GID != 1000 {
		t.Errorf("owner %d:%d", e.UID, e.GID)
	}
	whole := paths(t, &Files{Root: root, Dest: "/", Ignore: ignore})
	if _, ok := whole[".git/HEAD"]; ok {
		t.Error(".git was copied into a layer")
	}
	if _, ok := whole["secret.env"]; ok {
		t.Error("an ignored file was copied")
	}
	inc := paths(t, &Files{Root: root, Dir: "app", Dest: "/x", Include: []string{"keep"}})
	if want := "x x/keep x/keep/a.txt"; keys(inc) != want {
		t.Errorf("include: %q, want %q", keys(inc), want)
	}
}

func TestFilesModesIgnoreUmaskAndKeyFollowsContent(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"bin/run": "#!/bin/sh", "etc/conf": "a=1"})
	os.Chmod(filepath.Join(root, "bin/run"), 0o700)
	os.Chmod(filepath.Join(root, "etc/conf"), 0o600)
	os.Chmod(filepath.Join(root, "etc"), 0o700)
	got := paths(t, &Files{Root: root})
	if got["bin/run"].Mode != 0o755 || got["etc/conf"].Mode != 0o644 || got["etc"].Mode != 0o755 {
		t.Fatalf("modes not normalised: run %o conf %o etc %o", got["bin/run"].Mode, got["etc/conf"].Mode, got["etc"].Mode)
	}
	ctx := context.Background()
	k1, _ := (&Files{Root: root}).Key(ctx)
	os.Chtimes(filepath.Join(root, "etc/conf"), timeAgo(), timeAgo())
	k2, _ := (&Files{Root: root}).Key(ctx)
	if k1 != k2 {
		t.Error("an mtime change changed the key")
	}
	os.WriteFile(filepath.Join(root, "etc/conf"), []byte("a=2"), 0o600)
	k3, _ := (&Files{Root: root}).Key(ctx)
	if k3 == k1 {
		t.Error("a content change kept the key")
	}
	k4, _ := (&Files{Root: root, UID: 5}).Key(ctx)
	if k4 == k3 {
		t.Error("an owner change kept the key")
	}
}

func TestFilesSymlinksAndHardlinks(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"bin/busybox": "elf"})
	os.Symlink("busybox", filepath.Join(root, "bin/sh"))
	os.Link(filepath.Join(root, "bin/busybox"), filepath.Join(root, "bin/ls"))
	got := paths(t, &Files{Root: root})
	if e := got["bin/sh"]; e.Type != TypeSymlink || e.Link != "busybox" {
		t.Errorf("symlink: %+v", e)
	}
	if e := got["bin/ls"]; e.Type != TypeHardlink || e.Link != "bin/busybox" {
		t.Errorf("hard link: %+v", e)
	}
}

func TestFilesRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	for name, link := range map[string]string{
		"relative": "../../" + filepath.Base(outside) + "/secret",
		"absolute": "/etc/passwd",
	} {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"a/ok": "x"})
		os.Symlink(link, filepath.Join(root, "a/leak"))
		_, err := (&Files{Root: root}).Entries(context.Background())
		if err == nil || !strings.Contains(err.Error(), "outside the repository") || !strings.Contains(err.Error(), "a/leak") {
			t.Errorf("%s symlink: %v", name, err)
		}
	}
	root := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "data"))
	_, err := (&Files{Root: root, Dir: "data"}).Entries(context.Background())
	if err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("layer dir through a symlink: %v", err)
	}
	_, err = (&Files{Root: root, Dir: "../x"}).Entries(context.Background())
	if err == nil {
		t.Error("a dir with .. was accepted")
	}
	_, err = (&Files{Root: root, Dir: "missing"}).Entries(context.Background())
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestReadIgnoreFilePrefersContainerignore(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{".dockerignore": "a\n", ".containerignore": "# c\nb\n"})
	pats, name, err := ReadIgnoreFile(root)
	if err != nil || filepath.Base(name) != ".containerignore" || strings.Join(pats, ",") != "b" {
		t.Fatalf("got %v %q %v", pats, name, err)
	}
}

func timeAgo() time.Time { return time.Now().Add(-48 * time.Hour) }

// A files layer estimates its size, for progress, as the sum of its files'.
func TestFilesSizeEstimate(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "a"), make([]byte, 1000), 0o644)
	os.WriteFile(filepath.Join(root, "d", "b"), make([]byte, 234), 0o644)
	if got := (&Files{Root: root}).SizeEstimate(); got != 1234 {
		t.Errorf("SizeEstimate = %d, want 1234", got)
	}
}
