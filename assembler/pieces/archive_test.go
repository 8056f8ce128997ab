package pieces

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
)

type tarEntry struct {
	hdr  *tar.Header
	body string
}

func readArchive(t *testing.T, file string) (*gzip.Header, []tarEntry) {
	t.Helper()
	zr := testtool.GzipFile(t, file)
	var out []tarEntry
	testtool.EachTarEntry(t, zr, func(h *tar.Header, body io.Reader) {
		b, _ := io.ReadAll(body)
		out = append(out, tarEntry{h, string(b)})
	})
	return &zr.Header, out
}

// The release archive is reproducible (same bytes from two checkouts with
// different file times), sorted, owned by 0:0 with no names, has one top
// folder, leaves .git out, and holds the generated .domino files.
func TestReleaseArchive(t *testing.T) {
	a := copyRepo(t, sampleRepo)
	b := copyRepo(t, sampleRepo)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	filepath.Walk(b, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
	writeFile(t, filepath.Join(a, ".git/HEAD"), "ref: refs/heads/main\n") // not a work tree: plain walk, .git skipped
	writeFile(t, filepath.Join(b, ".git/HEAD"), "ref: refs/heads/other\n")
	os.Chmod(filepath.Join(a, "pieces/LogPiece/piece.py"), 0o755)
	os.Chmod(filepath.Join(b, "pieces/LogPiece/piece.py"), 0o700)
	gen := []plan.File{{Path: CompiledMetadataFile, Content: []byte(`{"x": 1}`)}, {Path: DependenciesMapFile, Content: []byte(`{}`)}}
	fa, fb := filepath.Join(t.TempDir(), "0.2.0.tar.gz"), filepath.Join(t.TempDir(), "0.2.0.tar.gz")
	if err := WriteReleaseArchive(a, "", fa, WithArchiveFiles(gen...)); err != nil {
		t.Fatal(err)
	}
	if err := WriteReleaseArchive(b, "0.2.0", fb, WithArchiveFiles(gen...)); err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(fa)
	bb, _ := os.ReadFile(fb)
	if !bytes.Equal(ba, bb) {
		t.Fatal("two checkouts gave different archives")
	}
	zh, entries := readArchive(t, fa)
	if zh.Name != "" || !zh.ModTime.IsZero() && zh.ModTime.Unix() != 0 {
		t.Errorf("gzip header has name %q time %v", zh.Name, zh.ModTime)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d %q:%q time %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		if !strings.HasPrefix(h.Name, "sample_domino_pieces-0.2.0/") {
			t.Errorf("%s is outside the top folder", h.Name)
		}
		if strings.Contains(h.Name, ".git/") {
			t.Errorf("%s archived", h.Name)
		}
		switch strings.TrimPrefix(h.Name, "sample_domino_pieces-0.2.0/") {
		case CompiledMetadataFile:
			if e.body != `{"x": 1}` {
				t.Errorf("compiled metadata: %q", e.body)
			}
		case "pieces/LogPiece/piece.py":
			if h.Mode != 0o755 {
				t.Errorf("executable mode %o", h.Mode)
			}
		case "config.toml":
			if h.Mode != 0o644 || !strings.Contains(e.body, "REPOSITORY_NAME") {
				t.Errorf("config.toml: %o %q", h.Mode, e.body)
			}
		}
	}
	if !sort.StringsAreSorted(names) || names[0] != "sample_domino_pieces-0.2.0/" {
		t.Errorf("entries not sorted: %v", names)
	}
	for _, want := range []string{".domino/", ".domino/dependencies_map.json", "pieces/ToolPiece/models.py", "dependencies/Dockerfile_tools"} {
		found := false
		for _, n := range names {
			found = found || n == "sample_domino_pieces-0.2.0/"+want
		}
		if !found {
			t.Errorf("archive lacks %s", want)
		}
	}
	// A second write over the same file gives the same bytes.
	if err := WriteReleaseArchive(a, "0.2.0", fa, WithArchiveFiles(gen...)); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(fa); !bytes.Equal(again, ba) {
		t.Error("rewriting changed the archive")
	}
}

// In a git work tree the archive holds what git would commit: ignored files
// stay out; the archive file itself is never archived.
func TestReleaseArchiveGitWorkTree(t *testing.T) {
	testtool.RequireTool(t, "git")
	repo := copyRepo(t, sampleRepo)
	writeFile(t, filepath.Join(repo, ".gitignore"), "*.log\n")
	writeFile(t, filepath.Join(repo, "debug.log"), "noise\n")
	if out, err := exec.Command("git", "-C", repo, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out := filepath.Join(repo, "release.tar.gz")
	if err := WriteReleaseArchive(repo, "1.0", out); err != nil {
		t.Fatal(err)
	}
	_, entries := readArchive(t, out)
	for _, e := range entries {
		if strings.HasSuffix(e.hdr.Name, "debug.log") || strings.HasSuffix(e.hdr.Name, "release.tar.gz") {
			t.Errorf("%s archived", e.hdr.Name)
		}
	}
	if len(entries) < 15 {
		t.Errorf("only %d entries", len(entries))
	}
	// A symlink out of the repository is refused.
	if err := os.Symlink("/etc/passwd", filepath.Join(repo, "pieces/leak")); err != nil {
		t.Fatal(err)
	}
	if err := WriteReleaseArchive(repo, "1.0", out); err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("symlink escape: %v", err)
	}
}

func TestWebURL(t *testing.T) {
	for in, want := range map[string]string{
		"git@github.com:Owner/repo.git":                 "https://github.com/Owner/repo",
		"https://user:tok@github.com/owner/repo.git":    "https://github.com/owner/repo",
		"https://github.com/owner/repo":                 "https://github.com/owner/repo",
		"ssh://git@gitlab.example:2222/group/sub/r.git": "https://gitlab.example/group/sub/r",
		"/srv/git/repo.git":                             "",
		"file:///srv/git/repo.git":                      "",
		"":                                              "",
	} {
		if got := webURL(in); got != want {
			t.Errorf("webURL(%q) = %q, want %q", in, got, want)
		}
	}
}
