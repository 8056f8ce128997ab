package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// bigInput is the size of the random file each convention file is made of:
// the size that cost 450 MB of RSS before it was refused.
const bigInput = 100 << 20

// maxRSS bounds the CLI's peak resident memory while it refuses a file.
const maxRSS = 100 << 20

// writeRandom writes n random bytes (a few newlines in them, as a random
// file has) to path.
func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	r := rand.New(rand.NewChaCha8([32]byte{17}))
	b := make([]byte, 1<<20)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for written := 0; written < n; written += len(b) {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// runMeasured runs the CLI and returns its result and peak RSS in bytes.
func runMeasured(t *testing.T, cache string, args ...string) (result, int64) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--cache-dir", cache, "--progress", "plain"}, args...)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=", mainEnv+"=1")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the CLI's process")
	}
	return result{so.String(), se.String(), err}, ru.Maxrss * 1024 // Linux: KiB
}

// Every convention file read whole, made of 100 MB of random bytes, is
// refused before it is read: the error names the file, its size and the
// limit; nothing is written; the CLI's peak RSS stays under 100 MB.
func TestOversizedInputsRefused(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	writeRandom(t, big, bigInput)
	const df = "FROM scratch\nCOPY . /\n"
	cases := []struct {
		name  string
		from  string            // a repository to start from
		files map[string]string // repository files
		big   string            // the file that is big, relative to the repository
		limit string
		args  []string // REPO is the repository; default: build REPO --offline -o oci:OUT
		// warned: the file is generated and rewritten by the build, so one
		// too large is ignored with a warning, not refused.
		warned bool
	}{
		{name: "Dockerfile", big: "Dockerfile", limit: "the 4 MiB that assemble reads of a Dockerfile"},
		{name: "Containerfile", big: "Containerfile", limit: "the 4 MiB that assemble reads of a Dockerfile"},
		{name: "dockerignore", files: map[string]string{"Dockerfile": df}, big: ".dockerignore", limit: "the 4 MiB that assemble reads of an ignore file"},
		{name: "assemble.toml", big: "assemble.toml", limit: "the 4 MiB that assemble reads of a configuration file"},
		{name: "devfile", big: "stacks/go/devfile.yaml", limit: "the 4 MiB that assemble reads of a configuration file"},
		{name: "pieces config.toml", files: map[string]string{"pieces/.keep": ""}, big: "config.toml", limit: "the 4 MiB that assemble reads of a configuration file"},
		{name: "binder requirements.txt", big: "binder/requirements.txt", limit: "the 16 MiB that assemble reads of a package list"},
		{name: "binder environment.yml", big: "binder/environment.yml", limit: "the 16 MiB that assemble reads of a package list"},
		// The build opens the base before it reads apt.txt; plan reads it first.
		{name: "binder apt.txt", big: "binder/apt.txt", limit: "the 16 MiB that assemble reads of a package list", args: []string{"plan", "REPO"}},
		{name: "oci layout index.json", files: map[string]string{"Dockerfile": "FROM scratch\n"}, big: "out/index.json", limit: "the 16 MiB that assemble reads of a generated index"},
		{name: "pieces metadata.json", from: piecesRepo, big: "pieces/AddPiece/metadata.json", limit: "the 4 MiB that assemble reads of a configuration file", args: []string{"plan", "REPO"}},
		{name: "pieces dependencies_map.json", from: piecesRepo, big: ".domino/dependencies_map.json", limit: "the 16 MiB that assemble reads of a generated index", args: []string{"plan", "REPO"}, warned: true},
		{name: "image-syncer images", big: "images.yaml", limit: "the 4 MiB that assemble reads of a configuration file", args: []string{"sync", "--images", "REPO/images.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			if c.from != "" {
				testtool.CopyTree(t, c.from, repo)
			}
			for rel, content := range c.files {
				mustWrite(t, filepath.Join(repo, rel), content)
			}
			p := filepath.Join(repo, filepath.FromSlash(c.big))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if err := os.Link(big, p); err != nil {
				t.Fatal(err)
			}
			before := treeListing(t, repo)
			out := filepath.Join(t.TempDir(), "out")
			if strings.HasPrefix(c.big, "out/") {
				out = filepath.Join(repo, "out")
			}
			args := []string{"build", repo, "--offline", "-o", "oci:" + out}
			if c.args != nil {
				args = nil
				for _, a := range c.args {
					args = append(args, strings.ReplaceAll(a, "REPO", repo))
				}
			}
			r, rss := runMeasured(t, t.TempDir(), args...)
			if c.warned && r.err != nil {
				t.Fatalf("a 100 MB %s (generated, rewritten) is ignored, not refused: %v\n%s", c.big, r.err, r.stderr)
			}
			if !c.warned && r.err == nil {
				t.Fatalf("a 100 MB %s was taken:\n%s", c.big, r.stderr)
			}
			for _, want := range []string{filepath.Base(c.big), "100 MiB", c.limit, "Inputs with bounds"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("the error does not say %q:\n%s", want, r.stderr)
				}
			}
			if rss >= maxRSS {
				t.Errorf("peak RSS %d MB refusing a 100 MB %s, want under %d MB", rss>>20, c.big, maxRSS>>20)
			}
			t.Logf("peak RSS %d MB", rss>>20)
			if after := treeListing(t, repo); after != before {
				t.Errorf("the repository changed:\nbefore %s\nafter  %s", before, after)
			}
			if _, err := os.Stat(out); c.big != "out/index.json" && err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeListing lists every path under dir with its size.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s:%v:%d ", rel, fi.Mode(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
