package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
)

// The sample image runs under podman and reads back with skopeo and umoci.
func TestBusyboxImageRunsAndReadsBack(t *testing.T) {
	hostIsAmd64(t)
	repo := busyboxRepo(t)
	cache := t.TempDir()
	layout := filepath.Join(shortTempDir(t), "layout")
	refs := filepath.Join(t.TempDir(), "refs.txt")
	r := mustAssemble(t, cache, "build", repo, "-o", "oci:"+layout, "--image-refs", refs, "--json")
	var rep struct {
		Images []struct {
			Digest string `json:"digest"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Images) != 1 {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	digest := rep.Images[0].Digest
	if got := readIndex(t, layout)["busybox-hello:latest"]; got != digest {
		t.Fatalf("layout has %q for busybox-hello:latest, build said %s", got, digest)
	}
	b, _ := os.ReadFile(refs)
	if !strings.Contains(string(b), "busybox-hello:latest@"+digest) {
		t.Errorf("--image-refs: %q", b)
	}

	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, "inspect", "oci:"+layout+":busybox-hello:latest").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var info struct {
		Digest string
		Env    []string
		Layers []string
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Digest != digest || len(info.Layers) != 1 || !strings.Contains(strings.Join(info.Env, " "), "GREETING=hello from assemble") {
		t.Errorf("skopeo inspect: %+v", info)
	}

	umoci := testtool.RequireTool(t, "umoci")
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--rootless", "--image", layout+":busybox-hello:latest", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	fi, err := os.Stat(filepath.Join(bundle, "rootfs/bin/busybox"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("unpacked busybox: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(bundle, "rootfs/bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh: %q %v", l, err)
	}
	motd, _ := os.ReadFile(filepath.Join(bundle, "rootfs/etc/motd"))
	if string(motd) != "motd: built without a daemon\n" {
		t.Errorf("motd: %q", motd)
	}

	got := podmanRun(t, "oci:"+layout+":busybox-hello:latest")
	if want := "hello from assemble\nmotd: built without a daemon\n"; got != want {
		t.Errorf("podman run printed %q, want %q", got, want)
	}
	got = podmanRun(t, "oci:"+layout+":busybox-hello:latest", "id -u; ls /bin | wc -l")
	if strings.Fields(got)[0] != "0" {
		t.Errorf("podman run printed %q", got)
	}

	// A second build changes nothing: every layer is a cache hit, same digest.
	r2 := mustAssemble(t, cache, "build", repo, "-o", "oci:"+layout, "--json")
	if !strings.Contains(r2.stdout, digest) || strings.Contains(r2.stdout, `"cached": false`) {
		t.Errorf("no-op rebuild: %s", r2.stdout)
	}
}

// The same repository from two checkouts (other mtimes, other umask) and with
// an empty and a full cache gives the same manifest digest; the sample's
// digest is pinned.
func TestReproducibleAcrossCheckoutsAndCaches(t *testing.T) {
	const golden = "sha256:849e8f25f216c1937c8f8686f928b7714bd6cf410f04da87f6b03b1fbaa3d803"
	a := filepath.Join(t.TempDir(), "a")
	testtool.CopyTree(t, "../../testdata/hello", a)
	old := syscall.Umask(0o077)
	b := filepath.Join(t.TempDir(), "b")
	testtool.CopyTree(t, "../../testdata/hello", b)
	syscall.Umask(old)
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	filepath.Walk(b, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, past, past) })
	os.Chmod(filepath.Join(b, "site/index.html"), 0o600)

	digests := map[string]string{}
	for name, args := range map[string][]string{
		"a-empty": {t.TempDir(), a}, "b-empty": {t.TempDir(), b}, "testdata": {t.TempDir(), "../../testdata/hello"},
	} {
		r := mustAssemble(t, args[0], "build", args[1], "-o", "oci:"+filepath.Join(t.TempDir(), "l"), "--json")
		digests[name] = jsonDigest(t, r.stdout)
		// Again with the cache now full.
		r = mustAssemble(t, args[0], "build", args[1], "-o", "oci:"+filepath.Join(t.TempDir(), "l"), "--json")
		digests[name+"-full"] = jsonDigest(t, r.stdout)
	}
	for name, d := range digests {
		if d != digests["testdata"] {
			t.Errorf("%s: %s, testdata: %s", name, d, digests["testdata"])
		}
	}
	if digests["testdata"] != golden {
		t.Errorf("testdata/hello digest %s, golden %s: if the layer format changed on purpose, update the golden digest", digests["testdata"], golden)
	}
}

func jsonDigest(t testing.TB, s string) string {
	t.Helper()
	var rep struct {
		Images []struct {
			Digest string `json:"digest"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(s), &rep); err != nil || len(rep.Images) == 0 {
		t.Fatalf("--json: %v\n%s", err, s)
	}
	return rep.Images[0].Digest
}

// A layout on the cache's file system shares layer blobs with the cache
// (hard links) instead of copying them.
func TestLayoutLinksCachedLayers(t *testing.T) {
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "l")
	mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout)
	blobs, _ := filepath.Glob(filepath.Join(cache, "blobs/sha256/*"))
	if len(blobs) != 2 {
		t.Fatalf("cache holds %d blobs, want the 2 layers", len(blobs))
	}
	for _, b := range blobs {
		c, _ := os.Stat(b)
		l, err := os.Stat(filepath.Join(layout, "blobs/sha256", filepath.Base(b)))
		if err != nil || !os.SameFile(c, l) {
			t.Errorf("layer %s is not linked from the cache: %v", filepath.Base(b), err)
		}
	}
}
