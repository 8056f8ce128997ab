package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// bin is the assemble the end-to-end tests run: this test binary itself,
// which runs the CLI instead of the tests when mainEnv is set. It is built
// with the tests' own tags, so the tests work with or without them.
var bin string

// mainEnv makes the test binary run main() (see TestMain).
const mainEnv = "ASSEMBLE_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main() // exits non-zero itself on failure
		os.Exit(0)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the test binary:", err)
		os.Exit(2)
	}
	bin = exe
	// Set for the whole run, so that a test running bin directly (with
	// exec.Command and the inherited environment) gets the CLI too.
	os.Setenv(mainEnv, "1")
	os.Exit(m.Run())
}

type result struct {
	stdout, stderr string
	err            error
}

// assemble runs the CLI (bin, re-executed) with a cache directory and plain progress.
func assemble(t testing.TB, cache string, args ...string) result {
	t.Helper()
	full := append([]string{"--cache-dir", cache, "--progress", "plain"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=", mainEnv+"=1")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return result{so.String(), se.String(), err}
}

func mustAssemble(t testing.TB, cache string, args ...string) result {
	t.Helper()
	r := assemble(t, cache, args...)
	if r.err != nil {
		t.Fatalf("assemble %s: %v\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// busyboxRepo is testdata/busybox with Debian's static busybox added.
func busyboxRepo(t testing.TB) string {
	t.Helper()
	bb := testtool.StaticBusybox(t)
	repo := filepath.Join(t.TempDir(), "busybox")
	testtool.CopyTree(t, "../../testdata/busybox", repo)
	if err := os.WriteFile(filepath.Join(repo, "rootfs/bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	return repo
}

func readIndex(t testing.TB, layout string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	out := map[string]string{}
	for _, m := range idx.Manifests {
		// Unnamed entries are the images' referrers (SBOMs, provenance).
		if n := m.Annotations["org.opencontainers.image.ref.name"]; n != "" {
			out[n] = m.Digest
		}
	}
	return out
}

func podmanRun(t testing.TB, image string, args ...string) string {
	t.Helper()
	// One store per test, so an image is imported once however often it runs.
	v, _ := podmanRoots.LoadOrStore(t.Name(), "")
	root := v.(string)
	if root == "" {
		// podman refuses a runroot longer than 50 characters: t.TempDir is too deep.
		root = shortTempDir(t)
		podmanRoots.Store(t.Name(), root)
		t.Cleanup(func() { podmanRoots.Delete(t.Name()) })
	}
	return testtool.PodmanRun(t, root, nil, image, args...)
}

func hostIsAmd64(t testing.TB) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the busybox image is built for the host; podman checks run on amd64 here")
	}
}

var podmanRoots sync.Map // test name -> podman storage root

// shortTempDir is testtool.ShortTempDir (podman's short, lower-case paths).
func shortTempDir(t testing.TB) string { return testtool.ShortTempDir(t) }

// debianWheels is the directory of Debian's real wheels (python3-pip-whl
// and friends), which the Python tests install from with no index.
func debianWheels(t testing.TB) string {
	t.Helper()
	wheels := "/usr/share/python-wheels"
	if _, err := os.Stat(filepath.Join(wheels, "pip-23.0.1-py3-none-any.whl")); err != nil {
		testtool.Missing(t, "Debian's wheels", "python3-pip-whl")
	}
	return wheels
}
