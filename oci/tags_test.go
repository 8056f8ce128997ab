package oci_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // named zones without depending on the host's zoneinfo

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestExpandTag(t *testing.T) {
	shanghai := mustZone(t, "Asia/Shanghai")
	newYork := mustZone(t, "America/New_York")
	at := time.Date(2025, 9, 7, 13, 34, 5, 0, time.UTC)
	base := oci.TagVars{Version: "1.2.3", Group: "py311", Branch: "main", SHA: "588a32bd0c1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a", Time: at}
	with := func(f func(*oci.TagVars)) oci.TagVars { v := base; f(&v); return v }

	cases := []struct {
		name, tmpl string
		vars       oci.TagVars
		want       string
	}{
		{"version", "{version}", base, "1.2.3"},
		{"literal text around", "v{version}-final", base, "v1.2.3-final"},
		{"short sha is 7 characters", "{version}-{sha}", base, "1.2.3-588a32b"},
		{"group", "{group}-latest", base, "py311-latest"},
		{"branch on main", "{branch}", base, "main"},
		{"branch slashes become dashes", "{branch}-{sha}", with(func(v *oci.TagVars) { v.Branch = "feat/new+thing" }), "feat-new-thing-588a32b"},
		{"timestamp defaults to UTC", "{timestamp:%Y.%m%d.%H%M}", base, "2025.0907.1334"},
		{"timestamp in Asia/Shanghai (+8)", "{timestamp:%Y.%m%d.%H%M}", with(func(v *oci.TagVars) { v.Location = shanghai }), "2025.0907.2134"},
		{"timestamp in New York crosses the date line", "{timestamp:%Y%m%d-%H}", with(func(v *oci.TagVars) {
			v.Location = newYork
			v.Time = time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)
		}), "20241231-21"},
		{"timestamp without layout", "{timestamp}", base, "20250907133405"},
		{"all directives", "{timestamp:%y_%j_%S}", base, "25_250_05"},
		{"the LabNow tag", "{timestamp:%Y.%m%d.%H%M}-{sha}", with(func(v *oci.TagVars) { v.Location = shanghai }), "2025.0907.2134-588a32b"},
		{"short sha stays short", "{sha}", with(func(v *oci.TagVars) { v.SHA = "abc" }), "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := oci.ExpandTag(c.tmpl, c.vars)
			if err != nil {
				t.Fatalf("ExpandTag(%q): %v", c.tmpl, err)
			}
			if got != c.want {
				t.Errorf("ExpandTag(%q) = %q, want %q", c.tmpl, got, c.want)
			}
		})
	}
}

func TestExpandTagErrors(t *testing.T) {
	base := oci.TagVars{Version: "1.2.3", Branch: "main", SHA: "588a32bd0c1e", Time: time.Unix(1, 0)}
	cases := []struct {
		name, tmpl string
		vars       oci.TagVars
		wantMsg    string
	}{
		{"unknown placeholder", "{nope}", base, "unknown placeholder {nope}"},
		{"missing sha", "{sha}", oci.TagVars{}, "no commit"},
		{"missing group", "{group}", base, "no group"},
		{"missing time", "{timestamp:%Y}", oci.TagVars{}, "no time"},
		{"plus is not a tag character", "{version}", oci.TagVars{Version: "1.0.0+build.5"}, "may only hold"},
		{"space in literal text", "my tag", base, "may only hold"},
		{"leading dash", "-{version}", base, "must not start"},
		{"leading dot", ".{version}", base, "must not start"},
		{"longer than 128", strings.Repeat("a", 125) + "-{version}", base, "at most 128"},
		{"empty result", "", base, "empty"},
		{"unknown strftime directive", "{timestamp:%Q}", base, "unknown directive %Q"},
		{"lone percent", "{timestamp:%}", base, "lone %"},
		{"argument on a plain placeholder", "{version:x}", base, "takes no argument"},
		{"unbalanced brace", "{version", base, "unbalanced"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := oci.ExpandTag(c.tmpl, c.vars)
			if err == nil {
				t.Fatalf("ExpandTag(%q) = %q, want an error", c.tmpl, got)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not mention %q", err, c.wantMsg)
			}
			if !strings.Contains(err.Error(), "tag template "+`"`+c.tmpl+`"`) {
				t.Errorf("error %q does not name the template %q", err, c.tmpl)
			}
		})
	}
}

func TestLabNow(t *testing.T) {
	shanghai := mustZone(t, "Asia/Shanghai")
	at := time.Date(2025, 9, 7, 13, 34, 0, 0, time.UTC)
	sha := "588A32Bd0c1e2f3a"
	cases := []struct {
		name, ref, branch string
		loc               *time.Location
		wantRepo          string
		wantTags          []string
	}{
		{"main keeps the namespace", "quay.io/LabNow/base:latest", "main", shanghai,
			"quay.io/labnow/base", []string{"latest", "2025.0907.2134-588a32b"}},
		{"feature branch adds 0 and the first segment", "quay.io/LabNow/base:latest", "feat/x", shanghai,
			"quay.io/labnow0feat/base", []string{"latest", "2025.0907.2134-588a32b"}},
		{"branch without a slash", "quay.io/LabNow/python:3.13", "dev", shanghai,
			"quay.io/labnow0dev/python", []string{"3.13", "2025.0907.2134-588a32b"}},
		{"master is not main", "docker.io/LabNow/base", "master", shanghai,
			"docker.io/labnow0master/base", []string{"latest", "2025.0907.2134-588a32b"}},
		{"no registry", "LabNow/base:Py311", "Fix/Y", shanghai,
			"labnow0fix/base", []string{"py311", "2025.0907.2134-588a32b"}},
		{"registry with a port", "localhost:5000/LabNow/base:latest", "main", shanghai,
			"localhost:5000/labnow/base", []string{"latest", "2025.0907.2134-588a32b"}},
		{"UTC when no zone is given", "quay.io/LabNow/base:latest", "main", nil,
			"quay.io/labnow/base", []string{"latest", "2025.0907.1334-588a32b"}},
		{"unknown branch gets a bare 0, as tool.sh does", "quay.io/LabNow/base:latest", "", shanghai,
			"quay.io/labnow0/base", []string{"latest", "2025.0907.2134-588a32b"}},
		{"deeper paths suffix the component before the image", "ghcr.io/org/LabNow/base:latest", "feat/y", shanghai,
			"ghcr.io/org/labnow0feat/base", []string{"latest", "2025.0907.2134-588a32b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo, tags, err := oci.LabNow(c.ref, oci.TagVars{Branch: c.branch, SHA: sha, Time: at, Location: c.loc})
			if err != nil {
				t.Fatal(err)
			}
			if repo != c.wantRepo {
				t.Errorf("repo = %q, want %q", repo, c.wantRepo)
			}
			if strings.Join(tags, " ") != strings.Join(c.wantTags, " ") {
				t.Errorf("tags = %q, want %q", tags, c.wantTags)
			}
		})
	}

	bad := []struct {
		name, ref string
		v         oci.TagVars
		wantMsg   string
	}{
		{"no namespace", "quay.io/base:latest", oci.TagVars{Branch: "main", SHA: sha, Time: at}, "NAMESPACE/IMAGE"},
		{"digest", "quay.io/LabNow/base@sha256:abcd", oci.TagVars{Branch: "main", SHA: sha, Time: at}, "digest"},
		{"no commit", "quay.io/LabNow/base", oci.TagVars{Branch: "main", Time: at}, "commit is unknown"},
		{"no time", "quay.io/LabNow/base", oci.TagVars{Branch: "main", SHA: sha}, "no time"},
		{"branch that makes a bad namespace", "quay.io/LabNow/base", oci.TagVars{Branch: "feat+x/y", SHA: sha, Time: at}, "not a valid repository path component"},
		{"bad tag", "quay.io/LabNow/base:-x", oci.TagVars{Branch: "main", SHA: sha, Time: at}, "must not start"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			repo, tags, err := oci.LabNow(c.ref, c.v)
			if err == nil {
				t.Fatalf("LabNow(%q) = %q %q, want an error", c.ref, repo, tags)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not mention %q", err, c.wantMsg)
			}
		})
	}
}

func gitRun(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGitVars(t *testing.T) {
	testtool.RequireTool(t, "git")
	dir := t.TempDir()
	env := []string{
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com",
		"GIT_AUTHOR_DATE=2024-02-03T04:05:06Z", "GIT_COMMITTER_DATE=2025-09-07T13:34:00Z",
	}
	gitRun(t, dir, env, "init", "-q", "-b", "feature/abc")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, dir, env, "add", "f")
	gitRun(t, dir, env, "commit", "-q", "-m", "one")
	head := gitRun(t, dir, env, "rev-parse", "HEAD")
	noEnv := func(string) string { return "" }

	t.Run("from git", func(t *testing.T) {
		v, err := oci.GitVars(dir, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if v.Branch != "feature/abc" || v.SHA != head {
			t.Errorf("got branch %q sha %q, want feature/abc %s", v.Branch, v.SHA, head)
		}
		if want := time.Date(2025, 9, 7, 13, 34, 0, 0, time.UTC); !v.Time.Equal(want) {
			t.Errorf("time = %v, want the committer time %v", v.Time, want)
		}
		tag, err := oci.ExpandTag("{branch}-{sha}", v)
		if err != nil || tag != "feature-abc-"+head[:7] {
			t.Errorf("ExpandTag = %q, %v", tag, err)
		}
	})
	t.Run("pull request: GITHUB_HEAD_REF wins", func(t *testing.T) {
		vars := map[string]string{"GITHUB_HEAD_REF": "pr/branch", "GITHUB_REF_NAME": "12/merge", "GITHUB_SHA": "0123456789abcdef"}
		v, err := oci.GitVars(dir, func(k string) string { return vars[k] })
		if err != nil {
			t.Fatal(err)
		}
		if v.Branch != "pr/branch" || v.SHA != "0123456789abcdef" {
			t.Errorf("got branch %q sha %q", v.Branch, v.SHA)
		}
		if !v.Time.IsZero() {
			t.Errorf("time = %v for a commit git does not have, want zero", v.Time)
		}
	})
	t.Run("push: GITHUB_REF_NAME", func(t *testing.T) {
		vars := map[string]string{"GITHUB_REF_NAME": "main"}
		v, err := oci.GitVars(dir, func(k string) string { return vars[k] })
		if err != nil {
			t.Fatal(err)
		}
		if v.Branch != "main" || v.SHA != head {
			t.Errorf("got branch %q sha %q, want main %s", v.Branch, v.SHA, head)
		}
	})
	t.Run("detached head has no branch", func(t *testing.T) {
		gitRun(t, dir, env, "checkout", "-q", "--detach")
		v, err := oci.GitVars(dir, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if v.Branch != "" || v.SHA != head {
			t.Errorf("got branch %q sha %q", v.Branch, v.SHA)
		}
		if _, err := oci.ExpandTag("{branch}", v); err == nil || !strings.Contains(err.Error(), "no branch") {
			t.Errorf("ExpandTag({branch}) on a detached head: %v, want a 'no branch' error", err)
		}
	})
	t.Run("not a checkout", func(t *testing.T) {
		v, err := oci.GitVars(t.TempDir(), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if v != (oci.TagVars{}) {
			t.Errorf("got %+v, want nothing", v)
		}
	})
}
