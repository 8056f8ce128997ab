package git

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

func TestEnv(t *testing.T) {
	got := env([]string{"HOME=/h", "GIT_DIR=/elsewhere", "GIT_TERMINAL_PROMPT=1", "GIT_AUTHOR_NAME=x"})
	for _, want := range []string{"HOME=/h", "GIT_AUTHOR_NAME=x", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0"} {
		if !slices.Contains(got, want) {
			t.Errorf("env lacks %s: %v", want, got)
		}
	}
	for _, kv := range got {
		if strings.HasPrefix(kv, "GIT_DIR=") || kv == "GIT_TERMINAL_PROMPT=1" {
			t.Errorf("env keeps %s", kv)
		}
	}
}

func TestRun(t *testing.T) {
	testtool.RequireTool(t, "git")
	dir := t.TempDir()
	if _, err := Run(dir, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(dir, "config", "remote.origin.url", "https://example.com/r.git"); err != nil {
		t.Fatal(err)
	}
	if got := Query(dir, "config", "--get", "remote.origin.url"); got != "https://example.com/r.git" {
		t.Errorf("Query = %q", got)
	}
	if got := Query(dir, "config", "--get", "no.such"); got != "" {
		t.Errorf("missing key: %q", got)
	}
	if !IsTopLevel(dir) {
		t.Error("IsTopLevel(top) = false")
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	if IsTopLevel(sub) {
		t.Error("IsTopLevel(sub) = true")
	}
	// A caller's GIT_DIR must not redirect the query.
	t.Setenv("GIT_DIR", filepath.Join(t.TempDir(), "nope"))
	if !IsTopLevel(dir) {
		t.Error("GIT_DIR redirected the query")
	}
	_, err := Run(dir, "rev-parse", "--verify", "no-such-rev")
	if err == nil || !strings.Contains(err.Error(), "git rev-parse --verify no-such-rev") || !strings.Contains(err.Error(), "no-such-rev") {
		t.Errorf("error %v", err)
	}
}

func TestDescribe(t *testing.T) {
	testtool.RequireTool(t, "git")
	dir := t.TempDir()
	if got := Describe(dir); got != (Repo{}) {
		t.Errorf("outside a work tree: %+v", got)
	}
	if _, err := Run(dir, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(dir, "config", "remote.origin.url", "https://example.com/r.git"); err != nil {
		t.Fatal(err)
	}
	// No commit yet: a top level with an origin and no revision.
	if got, want := Describe(dir), (Repo{TopLevel: true, Origin: "https://example.com/r.git"}); got != want {
		t.Errorf("before the first commit: %+v, want %+v", got, want)
	}
	if _, err := Run(dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "one"); err != nil {
		t.Fatal(err)
	}
	rev, err := Run(dir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Describe(dir), (Repo{TopLevel: true, Revision: rev, Origin: "https://example.com/r.git"}); got != want {
		t.Errorf("after a commit: %+v, want %+v", got, want)
	}
	// A directory inside the checkout has none of its own.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Describe(sub); got != (Repo{}) {
		t.Errorf("inside the work tree: %+v", got)
	}
}
