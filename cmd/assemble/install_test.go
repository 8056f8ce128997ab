package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// These tests build cmd/assemble as a user does (`go build`, no tags), not
// the re-executed test binary the other end-to-end tests run.

// readmeCommand is the README's first command; it must work as written.
const readmeCommand = "go run ./cmd/assemble build testdata/hello -o oci:out/layout"

// moduleRoot is the repository root (the tests run in cmd/assemble).
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goCmd runs the go command in dir with extra environment and returns its stdout.
func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testtool.RequireTool(t, "go"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s (in %s, %v): %v\n%s", strings.Join(args, " "), dir, env, err, se.String())
	}
	return so.String()
}

// buildStamped runs `go build ./cmd/assemble` without tags, in a git
// checkout so that the go command stamps the VCS revision. That is the
// repository itself, unless it is a git worktree, whose .git is a file, where
// cmd/go looks for no VCS information: then a clone of its HEAD with the
// working tree's changes applied.
func buildStamped(t *testing.T) (bin, rev string) {
	t.Helper()
	git := testtool.RequireTool(t, "git")
	root := moduleRoot(t)
	out, err := exec.Command(git, "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("%s is not a git checkout: %v", root, err)
	}
	rev = strings.TrimSpace(string(out))
	dir := root
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		dir = filepath.Join(t.TempDir(), "clone")
		cloneWorkingTree(t, git, root, dir)
	}
	bin = filepath.Join(t.TempDir(), "assemble")
	goCmd(t, dir, nil, "build", "-buildvcs=true", "-o", bin, "./cmd/assemble")
	return bin, rev
}

// cloneWorkingTree clones root's HEAD into dir and brings over its
// uncommitted changes and untracked files.
func cloneWorkingTree(t *testing.T, git, root, dir string) {
	t.Helper()
	run := func(stdin []byte, args ...string) []byte {
		cmd := exec.Command(git, args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Run(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, se.String())
		}
		return so.Bytes()
	}
	run(nil, "clone", "-q", "--shared", root, dir)
	if diff := run(nil, "-C", root, "diff", "--binary", "HEAD"); len(diff) > 0 {
		run(diff, "-C", dir, "apply", "--binary", "-")
	}
	for _, name := range strings.Split(string(run(nil, "-C", root, "ls-files", "-z", "--others", "--exclude-standard")), "\x00") {
		if name == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlainBuild: plain `go build` works without the libbtrfs-dev headers
// (hack/test.sh does not install them) because no linked package's cgo
// includes them; the binary's `version` prints the stamped module version
// and the commit it was built from; the README's first command runs as
// written.
func TestPlainBuild(t *testing.T) {
	root := moduleRoot(t)
	deps := goCmd(t, root, nil, "list", "-deps", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .CgoFiles \" \"}}", "./cmd/assemble")
	for _, line := range strings.Split(strings.TrimSpace(deps), "\n") {
		f := append(strings.Split(line, "\t"), "", "") // the last line's empty fields are trimmed
		if strings.Contains(f[0], "btrfs") || f[0] == "go.podman.io/storage/drivers/register" {
			t.Errorf("cmd/assemble links %s", f[0])
		}
		for _, name := range strings.Fields(f[2]) {
			src, err := os.ReadFile(filepath.Join(f[1], name))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(src, []byte("#include <btrfs/")) {
				t.Errorf("%s/%s includes btrfs headers", f[0], name)
			}
		}
	}

	bin, rev := buildStamped(t)
	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		line := string(out)
		t.Logf("assemble version: %s", strings.TrimSpace(line))
		if !strings.HasPrefix(line, "assemble v") || !strings.Contains(line, "(revision "+rev) || !strings.Contains(line, "; go1.") {
			t.Errorf("assemble version printed %q, want the stamped version, revision %s and Go version", line, rev)
		}
	})
	t.Run("readme", func(t *testing.T) {
		readme, err := os.ReadFile(filepath.Join(root, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(readme, []byte("\n"+readmeCommand+"\n")) {
			t.Fatalf("README.md does not show %q", readmeCommand)
		}
		// The command's arguments, with the layout in a temporary directory.
		layout := t.TempDir()
		cmd := exec.Command(bin, "--cache-dir", t.TempDir(), "build", "testdata/hello", "-o", "oci:"+layout)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", readmeCommand, err, out)
		}
		if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
			t.Errorf("the README's command wrote no layout: %v", err)
		}
	})
}

// TestVersionLine covers each piece of build info the line reports.
func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0a1b2c"}, {Key: "vcs.time", Value: "2026-12-06T12:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "assemble v1.2.0 (revision 0a1b2c, modified, 2026-12-06T12:00:00Z; go1.26.8 linux/amd64)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "assemble v1.2.0 (no VCS revision; go1.26.8 linux/amd64)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8"}, "assemble (devel) (no VCS revision; go1.26.8 linux/amd64)"},
	} {
		if got := versionLine(tc.bi, "linux/amd64"); got != tc.want {
			t.Errorf("versionLine = %q, want %q", got, tc.want)
		}
	}
	if got := versionLine(nil, "linux/amd64"); !strings.HasPrefix(got, "assemble (no build info; go") {
		t.Errorf("versionLine(nil) = %q", got)
	}
}

// TestBuildWithoutCgo: CGO_ENABLED=0 builds, and the one output that needs
// cgo (containers-storage) says so when asked for.
func TestBuildWithoutCgo(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "assemble")
	goCmd(t, moduleRoot(t), []string{"CGO_ENABLED=0"}, "build", "-o", bin, "./cmd/assemble")
	cmd := exec.Command(bin, "--cache-dir", t.TempDir(), "build", "../../testdata/hello", "-o", "containers-storage:localhost/hello:1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "containers-storage: needs a build with cgo (CGO_ENABLED=1)") {
		t.Errorf("want the containers-storage output refused for needing cgo, got %v:\n%s", err, out)
	}
}
