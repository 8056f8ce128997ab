package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// A build killed while it writes into a layout leaves the layout as it was.
func TestKilledBuildLeavesLayoutValid(t *testing.T) {
	skopeo := testtool.RequireTool(t, "skopeo")
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "layout")
	r := mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout, "--json")
	before := jsonDigest(t, r.stdout)
	indexBefore, _ := os.ReadFile(filepath.Join(layout, "index.json"))

	// A repository with a large layer, so the kill lands while blobs are written.
	big := repoWith(t, "[[image]]\nname = \"big\"\n[[image.layer]]\ndir = \"data\"\n", nil)
	os.MkdirAll(filepath.Join(big, "data"), 0o755)
	f, _ := os.Open("/dev/urandom")
	buf := make([]byte, 64<<20)
	for i := 0; i < 4; i++ {
		if _, err := f.Read(buf); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(big, "data", "blob"+string(rune('a'+i))), buf, 0o644)
	}
	f.Close()

	killed := false
	for attempt := 0; attempt < 3 && !killed; attempt++ {
		cmd := exec.Command(bin, "--cache-dir", t.TempDir(), "--progress", "plain", "build", big, "-o", "oci:"+layout)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill as soon as the layout write starts.
		buf := make([]byte, 4096)
		var seen strings.Builder
		for !strings.Contains(seen.String(), "writing oci:") {
			n, err := stderr.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				break
			}
		}
		time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && !ee.Success() {
			killed = true
		}
	}
	if !killed {
		t.Fatal("the build finished before it could be killed three times")
	}
	indexAfter, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	if string(indexAfter) != string(indexBefore) {
		t.Errorf("index.json changed by a killed build:\n%s\n%s", indexBefore, indexAfter)
	}
	out, err := exec.Command(skopeo, "inspect", "oci:"+layout+":hello:latest").CombinedOutput()
	if err != nil || !strings.Contains(string(out), before) {
		t.Fatalf("previous image unreadable after the kill: %v\n%s", err, out)
	}
}
