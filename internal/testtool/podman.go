package testtool

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ShortTempDir is a short, lower-case temporary directory: podman refuses a
// run root longer than 50 characters (t.TempDir is too deep) and takes an
// oci: layout's path as an image name, which must be lower-case.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "asm")
	if err != nil {
		t.Fatal(err)
	}
	dir = strings.ToLower(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// PodmanRun runs cmd in image with podman as it works on this machine (vfs
// storage under root, runc, no network, bounded ulimits), options going
// before the image, and returns what it printed on standard output.
func PodmanRun(t testing.TB, root string, options []string, image string, cmd ...string) string {
	t.Helper()
	podman := RequireTool(t, "podman")
	RequireTool(t, "runc")
	args := append([]string{"--storage-driver", "vfs", "--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"),
		"--cgroup-manager", "cgroupfs", "--runtime", "runc", "run", "--rm", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}, options...)
	args = append(append(args, image), cmd...)
	c := exec.Command(podman, args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr // podman's pull progress
	out, err := c.Output()
	AwaitProcesses(t, filepath.Join(root, "root"))
	if err != nil {
		t.Fatalf("podman run %s: %v\n%s%s", image, err, out, stderr.String())
	}
	return string(out)
}
