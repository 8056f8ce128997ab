package dockerfile

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// Two checkouts of one repository made under umask 002 and 077 give one
// image: COPY takes modes as git records them (0644, 0755 when
// executable), directories 0755, files git does not track 0644 or 0755
// from their execute bits; --chmod still wins.
func TestCopyReproducibleAcrossUmasks(t *testing.T) {
	gitBin := testtool.RequireTool(t, "git")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY . /app/\nCOPY --chmod=0600 sub/b.txt /secret.txt\n",
		".dockerignore": ".git\n",
		"a.txt":         "a\n",
		"run.sh":        "#!/bin/sh\n",
		"sub/b.txt":     "b\n",
	})
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	gitRun := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitRun(src, "init", "-q")
	gitRun(src, "add", "-A")
	gitRun(src, "commit", "-q", "-m", "init")

	var digests []string
	for _, umask := range []string{"002", "077"} {
		dst := filepath.Join(t.TempDir(), "checkout")
		// The clone, and a file git does not track, made under the umask.
		script := "umask " + umask + " && git clone -q \"$1\" \"$2\" && echo u > \"$2/untracked.txt\" && chmod a+x \"$2/a.txt\""
		if out, err := exec.Command("sh", "-c", script, "sh", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("clone under umask %s: %v\n%s", umask, err, out)
		}
		img := build(t, newServices(t), dst)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
		files := flatten(t, img)
		for p, mode := range map[string]int64{
			"app": 0o755, "app/sub": 0o755, "app/sub/b.txt": 0o644, "app/run.sh": 0o755,
			"app/a.txt":         0o644, // executable on disk, 100644 in git: git wins
			"app/untracked.txt": 0o644, // 0600 under umask 077
			"secret.txt":        0o600, // --chmod
		} {
			if f, ok := files[p]; !ok || f.mode != mode {
				t.Errorf("umask %s: %s = %v, want mode %04o", umask, p, f, mode)
			}
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("umask 002 gives %s, umask 077 gives %s", digests[0], digests[1])
	}
}

// Outside a git work tree the same rule holds: 0644, 0755 when any execute
// bit is set, directories 0755, set-id bits dropped.
func TestCopyModesOutsideGit(t *testing.T) {
	dir := repo(t, map[string]string{
		"Dockerfile":  "FROM scratch\nCOPY . /app/\n",
		"private.txt": "p\n",
		"tool":        "t\n",
		"d/f":         "f\n",
	})
	for p, m := range map[string]os.FileMode{"private.txt": 0o600, "tool": 0o700 | os.ModeSetuid, "d": 0o700} {
		if err := os.Chmod(filepath.Join(dir, p), m); err != nil {
			t.Fatal(err)
		}
	}
	files := flatten(t, build(t, newServices(t), dir))
	for p, mode := range map[string]int64{"app/private.txt": 0o644, "app/tool": 0o755, "app/d": 0o755, "app/d/f": 0o644} {
		if f := files[p]; f.mode != mode {
			t.Errorf("%s = %v, want mode %04o", p, f, mode)
		}
	}
}

// An ignore file that is a symbolic link is read when it leads inside the
// context; one that leads outside is an error naming it, and nothing of
// the host is read.
func TestIgnoreFileSymlink(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"ignore": "secret.txt\n"})
	for _, tc := range []struct {
		name, link, target string
	}{
		{"dockerignore-inside", ".dockerignore", "ignore/patterns"},
		{"dockerfile-ignore-inside", "Dockerfile.dockerignore", "ignore/patterns"},
		{"dockerignore-outside", ".dockerignore", filepath.Join(outside, "ignore")},
		{"dockerfile-ignore-outside", "Dockerfile.dockerignore", filepath.Join(outside, "ignore")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo(t, map[string]string{
				"Dockerfile":      "FROM scratch\nCOPY . /app/\n",
				"secret.txt":      "s\n",
				"kept.txt":        "k\n",
				"ignore/patterns": "secret.txt\nignore\n",
			})
			if err := os.Symlink(tc.target, filepath.Join(dir, tc.link)); err != nil {
				t.Fatal(err)
			}
			if filepath.IsAbs(tc.target) {
				mustContain(t, buildErr(t, newServices(t), dir), tc.link, "outside")
				return
			}
			files := flatten(t, build(t, newServices(t), dir))
			if _, ok := files["app/secret.txt"]; ok {
				t.Errorf("secret.txt copied: the ignore file was not read")
			}
			if _, ok := files["app/kept.txt"]; !ok {
				t.Errorf("kept.txt missing: %v", keys(files))
			}
		})
	}
}

// A GitModesMemo asks git once per directory: its builds see the modes git
// recorded when it first asked; a new memo (a new run) asks again, and no
// memo asks every time.
func TestGitModesMemo(t *testing.T) {
	gitBin := testtool.RequireTool(t, "git")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"run.sh": "#!/bin/sh\n"})
	gitRun := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(gitBin, append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitRun("init", "-q")
	gitRun("add", "-A")
	gitRun("update-index", "--chmod=-x", "run.sh")
	m := NewGitModesMemo()
	if got := m.get(dir)["run.sh"]; got != 0o644 {
		t.Fatalf("run.sh: %o, want 0644", got)
	}
	gitRun("update-index", "--chmod=+x", "run.sh")
	for what, got := range map[string]fs.FileMode{
		"the same memo": m.get(dir)["run.sh"], "a new memo": NewGitModesMemo().get(dir)["run.sh"], "no memo": (*GitModesMemo)(nil).get(dir)["run.sh"],
	} {
		want := fs.FileMode(0o755)
		if what == "the same memo" {
			want = 0o644
		}
		if got != want {
			t.Errorf("%s: run.sh %o, want %o", what, got, want)
		}
	}
}
