package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tag templates and the LabNow preset name images from the branch and commit
// (here from GitHub Actions' variables).
func TestTagTemplatesAndLabNow(t *testing.T) {
	repo := repoWith(t, "[[image]]\nname = \"quay.io/labnow/base\"\ntags = [\"latest\"]\n", nil)
	run := func(args ...string) map[string]string {
		t.Helper()
		layout := filepath.Join(t.TempDir(), "l")
		cmd := exec.Command(bin, append([]string{"--cache-dir", t.TempDir(), "--progress", "none", "build", repo, "-o", "oci:" + layout}, args...)...)
		cmd.Env = append(os.Environ(), "GITHUB_HEAD_REF=Feat/New-Thing", "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567", "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %v: %v\n%s", args, err, out)
		}
		return readIndex(t, layout)
	}
	refs := run("--tag", "{branch}-{sha}", "--tag", "v{timestamp:%Y%m%d}")
	for _, want := range []string{"quay.io/labnow/base:Feat-New-Thing-0123456", "quay.io/labnow/base:v20231114"} {
		if _, ok := refs[want]; !ok {
			t.Errorf("no %s in %v", want, refs)
		}
	}
	refs = run("--tag-scheme", "labnow", "--tag-timezone", "Asia/Shanghai")
	for _, want := range []string{"quay.io/labnow0feat/base:latest", "quay.io/labnow0feat/base:2023.1115.0613-0123456"} {
		if _, ok := refs[want]; !ok {
			t.Errorf("no %s in %v", want, refs)
		}
	}
	r := assemble(t, t.TempDir(), "build", repo, "-o", "oci:"+filepath.Join(t.TempDir(), "x"), "--tag", "{nope}")
	if r.err == nil || !strings.Contains(r.stderr, "{nope}") {
		t.Errorf("bad template: %v\n%s", r.err, r.stderr)
	}
}
