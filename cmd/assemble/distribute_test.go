package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// -o containers-storage: writes into podman's store: podman runs the image
// with no registry and no `podman load`.
func TestContainersStorageOutput(t *testing.T) {
	hostIsAmd64(t)
	testtool.RequireRoot(t) // podman's vfs store in a temporary root
	repo := busyboxRepo(t)
	store := shortTempDir(t)
	root, runRoot := filepath.Join(store, "r"), filepath.Join(store, "rr")
	mustAssemble(t, t.TempDir(), "--storage-driver", "vfs", "--storage-root", root, "--storage-runroot", runRoot,
		"build", repo, "-o", "containers-storage:localhost/busybox-hello:latest")
	podman := testtool.RequireTool(t, "podman")
	testtool.RequireTool(t, "runc")
	out, err := exec.Command(podman, "--storage-driver", "vfs", "--root", root, "--runroot", runRoot,
		"--cgroup-manager", "cgroupfs", "--runtime", "runc", "run", "--rm", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/busybox-hello:latest").Output()
	testtool.AwaitProcesses(t, root)
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	if want := "hello from assemble\nmotd: built without a daemon\n"; string(out) != want {
		t.Errorf("podman run printed %q, want %q", out, want)
	}
}

// assemble sync mirrors with image-syncer's files; a second run copies
// nothing; bad credentials fail the run, the other images still sync.
func TestSyncBetweenRegistries(t *testing.T) {
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	cache := t.TempDir()
	mustAssemble(t, cache, "--insecure-registry", src.Host, "build", "../../testdata/hello", "-o", "docker://"+src.Ref("team/hello:1.0"))
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.yaml")
	images := filepath.Join(dir, "images.yaml")
	os.WriteFile(auth, []byte(src.Host+":\n  insecure: true\n"+dst.Host+":\n  insecure: true\n"), 0o644)
	os.WriteFile(images, []byte(src.Ref("team/hello")+": "+dst.Ref("mirror/hello")+"\n"), 0o644)
	r := mustAssemble(t, cache, "sync", "--auth", auth, "--images", images)
	skopeo := testtool.RequireTool(t, "skopeo")
	if out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+dst.Ref("mirror/hello:1.0")).CombinedOutput(); err != nil {
		t.Fatalf("mirrored image missing: %v\n%s\nsync said:\n%s", err, out, r.stdout)
	}
	dst.Reset()
	mustAssemble(t, cache, "sync", "--auth", auth, "--images", images)
	if n := dst.BlobUploads() + dst.Count(ocitest.ManifestPut); n != 0 {
		t.Errorf("second sync wrote %d times", n)
	}

	// A destination that wants credentials we do not have.
	locked := ocitest.StartRegistry(t)
	locked.RequireBasicAuth("u", "p")
	os.WriteFile(auth, []byte(src.Host+":\n  insecure: true\n"+dst.Host+":\n  insecure: true\n"+locked.Host+":\n  username: u\n  password: wrong\n  insecure: true\n"), 0o644)
	os.WriteFile(images, []byte(src.Ref("team/hello:1.0")+":\n  - "+locked.Ref("x/hello")+"\n  - "+dst.Ref("other/hello")+"\n"), 0o644)
	r = assemble(t, cache, "sync", "--auth", auth, "--images", images, "--retries", "0")
	if r.err == nil {
		t.Fatal("sync with bad credentials succeeded")
	}
	if !strings.Contains(r.stderr+r.stdout, locked.Host) || strings.Contains(r.stderr+r.stdout, "wrong") {
		t.Errorf("bad-credentials error:\n%s%s", r.stdout, r.stderr)
	}
	if out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+dst.Ref("other/hello:1.0")).CombinedOutput(); err != nil {
		t.Errorf("the image for the good destination was not synced: %v\n%s", err, out)
	}
}
