package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// deb:bookworm + python3 and jq from an apt.txt, built from Debian's mirror
// with no registry, run under podman.
func TestDebianImagesRun(t *testing.T) {
	hostIsAmd64(t)
	layout := filepath.Join(shortTempDir(t), "layout")
	r := mustAssemble(t, testtool.CacheDir(t), "build", "../../testdata/debian", "-o", "oci:"+layout, "--json")
	if !strings.Contains(r.stdout, "deb requested") {
		t.Errorf("no requested-packages layer reported:\n%s", r.stdout)
	}
	out := podmanRun(t, "oci:"+layout+":debian-python:latest")
	if !strings.HasPrefix(out, "OpenSSL 3.") {
		t.Errorf("python3 printed %q, want an OpenSSL version", out)
	}
	if out := podmanRun(t, "oci:"+layout+":debian-jq:latest"); !strings.HasPrefix(out, "jq-1.") {
		t.Errorf("jq --version printed %q", out)
	}
	// dpkg's database lists every package with its version.
	list := podmanRun(t, "oci:"+layout+":debian-python:latest", "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n")
	for _, want := range []string{"python3 3.11", "base-files 12", "ca-certificates ", "tzdata ", "netbase "} {
		if !strings.Contains(list, "\n"+want) && !strings.HasPrefix(list, want) {
			t.Errorf("dpkg-query lacks %q", want)
		}
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	for _, line := range lines {
		if f := strings.Fields(line); len(f) != 3 || f[2] != "ii" {
			t.Errorf("package not installed: %q", line)
		}
	}
	if len(lines) < 90 {
		t.Errorf("dpkg-query lists %d packages, want the whole base and python3", len(lines))
	}
	// apt inside the image knows where its packages came from.
	if src := podmanRun(t, "oci:"+layout+":debian-python:latest", "cat", "/etc/apt/sources.list"); src != "deb http://deb.debian.org/debian bookworm main\n" {
		t.Errorf("sources.list: %q", src)
	}
	// The OS layer is shared by both images.
	digests := map[string]int{}
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, `"digest": "sha256:`) && strings.Contains(l, "          ") {
			digests[strings.TrimSpace(l)]++
		}
	}
	shared := false
	for _, n := range digests {
		shared = shared || n > 1
	}
	if !shared {
		t.Error("the two images share no layer")
	}
}

// The same environment for linux/arm64: an index with both platforms, and an
// aarch64 python3.
func TestDebianMultiPlatform(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "layout")
	mustAssemble(t, testtool.CacheDir(t), "build", "../../testdata/debian", "--platform", "linux/amd64,linux/arm64", "-o", "oci:"+layout)
	ins := mustAssemble(t, t.TempDir(), "inspect", "oci:"+layout+":debian-python:latest")
	if !strings.Contains(ins.stdout, `"platform": "linux/amd64"`) || !strings.Contains(ins.stdout, `"platform": "linux/arm64"`) || !strings.Contains(ins.stdout, "image.index") {
		t.Fatalf("index lacks a platform:\n%s", ins.stdout)
	}
	arm := filepath.Join(t.TempDir(), "arm")
	mustAssemble(t, t.TempDir(), "copy", "--platform", "linux/arm64", "oci:"+layout+":debian-python:latest", "oci:"+arm+":arm")
	umoci := testtool.RequireTool(t, "umoci")
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--rootless", "--image", arm+":arm", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	out, err := exec.Command(testtool.RequireTool(t, "file"), filepath.Join(bundle, "rootfs/usr/bin/python3.11")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "aarch64") {
		t.Fatalf("file: %v %s", err, out)
	}
}

// Bad Debian input: an unknown package names its apt.txt line and leaves no
// output; --offline with an empty cache lists what is missing.
func TestDebianErrors(t *testing.T) {
	repo := repoWith(t, "[[image]]\nname = \"x\"\nbase = \"deb:bookworm\"\n[[image.layer]]\ntype = \"deb\"\napt = [\"apt.txt\"]\n",
		map[string]string{"apt.txt": "# tools\njq\nno-such-package-xyz\n"})
	out := filepath.Join(t.TempDir(), "layout")
	r := assemble(t, testtool.CacheDir(t), "build", repo, "-o", "oci:"+out)
	if r.err == nil || !strings.Contains(r.stderr, "no-such-package-xyz") || !strings.Contains(r.stderr, "apt.txt:3") {
		t.Errorf("unknown package: %v\n%s", r.err, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed build wrote its output")
	}
	r = assemble(t, t.TempDir(), "build", "../../testdata/debian", "--offline", "-o", "oci:"+out)
	if r.err == nil || !strings.Contains(r.stderr, "InRelease") {
		t.Errorf("offline with an empty cache: %v\n%s", r.err, r.stderr)
	}
}

// A Python layer from Debian's own wheels: pip list shows the resolved
// versions, pip check passes, console scripts from entry points run.
func TestPythonLayerRuns(t *testing.T) {
	hostIsAmd64(t)
	wheels := debianWheels(t)
	layout := filepath.Join(shortTempDir(t), "layout")
	mustAssemble(t, testtool.CacheDir(t), "build", "../../testdata/python", "--find-links", wheels, "--no-index", "-o", "oci:"+layout)
	img := "oci:" + layout + ":python-tools:latest"
	list := podmanRun(t, img)
	for _, want := range []string{"pip        23.0.1", "setuptools 66.1.1", "wheel      0.38.4"} {
		if !strings.Contains(list, want) {
			t.Errorf("pip list lacks %q:\n%s", want, list)
		}
	}
	out := podmanRun(t, img, "sh", "-c", "python3 -m pip check && pip --version && wheel version && python3 /app/check.py")
	for _, want := range []string{"No broken requirements found.", "pip 23.0.1 from /usr/local/lib/python3.11/dist-packages/pip", "wheel 0.38.4", "setuptools 66.1.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// `assemble plan --resolve` shows the interpreter probed from the base and
// the resolved set as a pinned, hashed requirements file.
func TestPlanResolvesPython(t *testing.T) {
	wheels := debianWheels(t)
	r := mustAssemble(t, testtool.CacheDir(t), "plan", "--resolve", "../../testdata/python", "--find-links", wheels, "--no-index")
	for _, want := range []string{"interpreter /usr/bin/python3 (Python 3.11.", "installs into /usr/local/lib/python3.11/dist-packages",
		"pip==23.0.1 --hash=sha256:", "setuptools==66.1.1 --hash=sha256:", "wheel==0.38.4 --hash=sha256:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan --resolve lacks %q:\n%s", want, r.stdout)
		}
	}
}

// A relative --find-links is in the directory assemble runs in, as pip's
// is, not in the repository.
func TestFindLinksRelativeToWorkingDirectory(t *testing.T) {
	hostIsAmd64(t)
	wd := t.TempDir()
	if err := os.Symlink(debianWheels(t), filepath.Join(wd, "house")); err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("../../testdata/python")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--cache-dir", testtool.CacheDir(t), "--progress", "plain", "plan", repo, "--resolve", "--find-links", "house", "--no-index")
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=", mainEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plan --resolve --find-links house (in %s): %v\n%s", wd, err, out)
	}
	if !strings.Contains(string(out), "pip==23.0.1 --hash=sha256:") {
		t.Errorf("the plan does not pin pip from the wheelhouse:\n%s", out)
	}
}
