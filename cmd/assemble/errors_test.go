package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/internal/testhook"
	"github.com/assemble-build/assemble/internal/testtool"
)

func repoWith(t *testing.T, toml string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "assemble.toml"), []byte(toml), 0o644)
	return dir
}

// Each bad input fails with a message naming the file (and line) and saying
// what to do, and writes no output.
func TestBadInputIsAClearError(t *testing.T) {
	outside := t.TempDir()
	symlinkRepo := repoWith(t, "[[image]]\nname = \"x\"\n[[image.layer]]\ndir = \"app\"\n", map[string]string{"app/ok": "x"})
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(symlinkRepo, "app/leak"))

	cases := []struct {
		name string
		dir  string
		args []string
		want []string
	}{
		{"malformed toml", repoWith(t, "[[image]]\nname = \"x\"\ntags = [\"a\"\n", nil), nil,
			[]string{"assemble.toml:", "fix the TOML syntax"}},
		{"unknown key", repoWith(t, "[[image]]\nname = \"x\"\n\n[[image.layer]]\ndir = \".\"\ndestination = \"/x\"\n", nil), nil,
			[]string{"assemble.toml:6", `unknown key "image.layer.destination"`}},
		{"missing path", repoWith(t, "[[image]]\nname = \"x\"\n[[image.layer]]\ndir = \"nope\"\n", nil), nil,
			[]string{"assemble.toml:3", `dir "nope" does not exist`}},
		{"path escapes", repoWith(t, "[[image]]\nname = \"x\"\n[[image.layer]]\ndir = \"../..\"\n", nil), nil,
			[]string{"assemble.toml:3", "leaves the repository"}},
		{"symlink outside", symlinkRepo, nil,
			[]string{"app/leak", "outside the repository", "relative link"}},
		{"invalid base reference", repoWith(t, "[[image]]\nname = \"x\"\nbase = \"docker://Not A Ref!!\"\n", nil), nil,
			[]string{"Not A Ref!!"}},
		{"unknown transport", repoWith(t, "[[image]]\nname = \"x\"\nbase = \"ftp:thing\"\n", nil), nil,
			[]string{"ftp:thing"}},
		{"bad image name", repoWith(t, "[[image]]\nname = \"Bad Name\"\n", nil), nil,
			[]string{"assemble.toml:1", "not a valid image reference"}},
		{"no convention", t.TempDir(), nil,
			[]string{"no convention matched", "assemble.toml"}},
		{"bad output", repoWith(t, "[[image]]\nname = \"x\"\n", nil), []string{"-o", "nowhere:x"},
			[]string{"nowhere:x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "layout")
			args := append([]string{"build", c.dir, "-o", "oci:" + out}, c.args...)
			r := assemble(t, t.TempDir(), args...)
			if r.err == nil {
				t.Fatalf("succeeded; stderr:\n%s", r.stderr)
			}
			if ee, ok := r.err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("exit: %v", r.err)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("panicked:\n%s", r.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output %s was written", out)
			}
		})
	}
}

// A truncated cache blob is a miss: the layer is rebuilt, the output is right.
func TestTruncatedCacheBlobIsRebuilt(t *testing.T) {
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "l")
	r := mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout, "--json")
	digest := jsonDigest(t, r.stdout)
	blobs, _ := filepath.Glob(filepath.Join(cache, "blobs/sha256/*"))
	if len(blobs) == 0 {
		t.Fatal("no blobs cached")
	}
	for _, b := range blobs {
		os.Truncate(b, 10)
	}
	layout2 := filepath.Join(t.TempDir(), "l")
	r = mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout2, "--json")
	if jsonDigest(t, r.stdout) != digest || strings.Contains(r.stdout, `"cached": true`) {
		t.Fatalf("after truncation: %s", r.stdout)
	}
	skopeo := testtool.RequireTool(t, "skopeo")
	if out, err := exec.Command(skopeo, "inspect", "oci:"+layout2+":hello:latest").CombinedOutput(); err != nil {
		t.Fatalf("rebuilt layout unreadable: %v\n%s", err, out)
	}
	v := mustAssemble(t, cache, "cache", "verify")
	if !strings.Contains(v.stdout, "cache ok") {
		t.Errorf("cache verify after rebuild: %s", v.stdout)
	}
}

// A build killed while it writes into a layout leaves the layout as it was:
// the test hook stops the build after the new blobs and the new index.json
// are written but before index.json is renamed into place, and the kill
// lands exactly there.
func TestKilledBuildLeavesLayoutValid(t *testing.T) {
	skopeo := testtool.RequireTool(t, "skopeo")
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "layout")
	r := mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout, "--json")
	before := jsonDigest(t, r.stdout)
	indexBefore, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	blobsBefore, _ := filepath.Glob(filepath.Join(layout, "blobs/sha256/*"))

	other := repoWith(t, "[[image]]\nname = \"other\"\n[[image.layer]]\ndir = \"data\"\n", map[string]string{"data/file": "new content\n"})
	killAtHook(t, "layout-index", "--cache-dir", cache, "--progress", "plain", "build", other, "-o", "oci:"+layout)

	blobsAfter, _ := filepath.Glob(filepath.Join(layout, "blobs/sha256/*"))
	if len(blobsAfter) <= len(blobsBefore) {
		t.Errorf("the killed build wrote no blobs (%d before, %d after): the hook fired too early", len(blobsBefore), len(blobsAfter))
	}
	indexAfter, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	if string(indexAfter) != string(indexBefore) {
		t.Errorf("index.json changed by a killed build:\n%s\n%s", indexBefore, indexAfter)
	}
	out, err := exec.Command(skopeo, "inspect", "oci:"+layout+":hello:latest").CombinedOutput()
	if err != nil || !strings.Contains(string(out), before) {
		t.Fatalf("previous image unreadable after the kill: %v\n%s", err, out)
	}
	// The layout's lock died with the process: the next build writes.
	mustAssemble(t, cache, "build", other, "-o", "oci:"+layout)
	if out, err := exec.Command(skopeo, "inspect", "oci:"+layout+":other:latest").CombinedOutput(); err != nil {
		t.Fatalf("build after the kill: %v\n%s", err, out)
	}
}

// killAtHook runs assemble with the test hook set to point, waits until it
// says it paused there and kills it.
func killAtHook(t *testing.T, point string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=", testhook.Env+"="+point)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if sc.Text() == testhook.Paused+point {
			break
		}
	}
	if !strings.Contains(seen.String(), testhook.Paused+point) {
		err := cmd.Wait()
		t.Fatalf("assemble never reached the hook %s (%v):\n%s", point, err, seen.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("assemble exited cleanly after SIGKILL")
	}
}
