package git

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// countingGit puts a git first on PATH that logs each run to the file it
// returns, then runs the real one.
func countingGit(t *testing.T) (log string) {
	t.Helper()
	real := testtool.RequireTool(t, "git")
	bin := t.TempDir()
	log = filepath.Join(t.TempDir(), "runs")
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

func runs(t *testing.T, log string) []string {
	t.Helper()
	data, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// A build's questions about one repository (its work tree, HEAD, origin
// and conversion settings), asked by the annotations and by each files
// layer, however the directory is spelled, start two git processes.
func TestAskInAsksOncePerBuild(t *testing.T) {
	dir := gitRepo(t, sample)
	mustGit(t, dir, "config", "remote.origin.url", "https://example.com/r.git")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	log := countingGit(t)
	ctx := WithMemo(context.Background())
	r := AskIn(ctx, dir).Repo()
	if !r.TopLevel || r.Revision == "" || r.Origin != "https://example.com/r.git" {
		t.Errorf("Repo = %+v", r)
	}
	for _, d := range []string{link, dir + "/", dir} {
		f := AskIn(ctx, d)
		w, err := f.WorkTree()
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := filepath.EvalSymlinks(dir); w.Top != want || w.ObjectFormat != "sha1" {
			t.Errorf("%s: work tree %+v", d, w)
		}
		if c, why := f.ConvertSettings(w).Converts(nil); c {
			t.Errorf("%s: converts (%s)", d, why)
		}
	}
	if got := runs(t, log); len(got) != 2 {
		t.Errorf("%d git processes, want 2: %q", len(got), got)
	}
	// Another build asks again: HEAD may have moved.
	mustGit(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "--allow-empty", "-m", "y")
	if again := AskIn(WithMemo(context.Background()), dir).Repo(); again.Revision == r.Revision || again.Revision == "" {
		t.Errorf("a new build's revision %q, the last one's %q", again.Revision, r.Revision)
	}
}

// Before the first commit the work tree is known and HEAD is not; outside
// any work tree there is neither, and no answer is an error the build sees.
func TestAskBeforeTheFirstCommitAndOutsideGit(t *testing.T) {
	testtool.RequireTool(t, "git")
	dir := t.TempDir()
	f := Ask(dir)
	if _, err := f.WorkTree(); err == nil {
		t.Error("outside a work tree: no error")
	}
	if r := f.Repo(); r != (Repo{}) {
		t.Errorf("outside a work tree: %+v", r)
	}
	mustGit(t, dir, "init", "-q")
	f = Ask(dir)
	w, err := f.WorkTree()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(dir); w.Top != want || w.GitDir != filepath.Join(want, ".git") || w.CommonDir != filepath.Join(want, ".git") {
		t.Errorf("work tree %+v", w)
	}
	if r := f.Repo(); r != (Repo{TopLevel: true}) {
		t.Errorf("before the first commit: %+v", r)
	}
}

// core.attributesfile is read where git reads it: a relative path from the
// work tree's top, "~/" from the home directory; one git cannot expand
// makes every file read.
func TestConvertSettingsAttributesFile(t *testing.T) {
	dir := gitRepo(t, sample)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	w, err := Ask(dir).WorkTree()
	if err != nil {
		t.Fatal(err)
	}
	for name, at := range map[string]string{"attrs-rel": filepath.Join(dir, "attrs-rel"), "~/attrs-home": filepath.Join(home, "attrs-home")} {
		if err := os.WriteFile(at, []byte("*.txt text\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustGit(t, dir, "config", "core.attributesfile", name)
		if conv, why := Ask(dir).ConvertSettings(w).Converts(nil); !conv || !strings.Contains(why, at) {
			t.Errorf("core.attributesfile %s: converts %v (%s), want it read from %s", name, conv, why, at)
		}
	}
	mustGit(t, dir, "config", "core.attributesfile", "~no-such-user-here/attrs")
	if conv, why := Ask(dir).ConvertSettings(w).Converts(nil); !conv || !strings.Contains(why, "cannot be expanded") {
		t.Errorf("an attributes file git cannot expand: converts %v (%s)", conv, why)
	}
}

// Where git's discovery could find no repository (no .git and no HEAD in
// the directory or above it), no git process starts and the answers are
// git's: no work tree, no repository. A .git above, or a bare repository,
// is left to git.
func TestAskOutsideAnyRepositoryStartsNoGit(t *testing.T) {
	log := countingGit(t)
	outside := filepath.Join(t.TempDir(), "a", "b")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if mayBeInRepository(outside) {
		t.Skip("a .git or HEAD above the test's temporary directory")
	}
	f := Ask(outside)
	if _, err := f.WorkTree(); err == nil {
		t.Error("outside any repository: a work tree")
	}
	if r := f.Repo(); r != (Repo{}) {
		t.Errorf("outside any repository: %+v", r)
	}
	if got := runs(t, log); len(got) != 0 {
		t.Errorf("git ran outside any repository: %q", got)
	}

	top := gitRepo(t, sample)
	sub := filepath.Join(top, "sub", "deeper")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	below := Ask(sub)
	w, err := below.WorkTree()
	if want, _ := filepath.EvalSymlinks(top); err != nil || w.Top != want {
		t.Errorf("below a work tree: %+v, %v", w, err)
	}
	below.settings() // both processes have run
	bare := t.TempDir()
	mustGit(t, bare, "init", "-q", "--bare")
	if !mayBeInRepository(filepath.Join(bare, "refs")) {
		t.Error("inside a bare repository: git not asked")
	}
	inBare := Ask(bare)
	if _, err := inBare.WorkTree(); err == nil {
		t.Error("a bare repository: a work tree")
	}
	inBare.settings()
	var asked []string
	for _, r := range runs(t, log) {
		if strings.Contains(r, " rev-parse ") || strings.Contains(r, " config -z ") {
			asked = append(asked, r)
		}
	}
	if len(asked) != 4 {
		t.Errorf("%d queries for a work tree and a bare repository, want 4: %q", len(asked), asked)
	}
}
