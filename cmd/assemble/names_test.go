package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// podmanIn runs podman with its own store under root (vfs, no daemon).
func podmanIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	podman := testtool.RequireTool(t, "podman")
	full := append([]string{"--storage-driver", "vfs", "--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"),
		"--cgroup-manager", "cgroupfs"}, args...)
	out, err := exec.Command(podman, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// skopeoInspect returns the digest skopeo reads at ref.
func skopeoInspect(t *testing.T, ref string, args ...string) string {
	t.Helper()
	d, _ := skopeoInspectArch(t, ref, args...)
	return d
}

// skopeoInspectArch returns the digest and architecture skopeo reads at ref.
func skopeoInspectArch(t *testing.T, ref string, args ...string) (string, string) {
	t.Helper()
	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, append(append([]string{"inspect"}, args...), ref)...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect %s: %v\n%s", ref, err, out)
	}
	var info struct{ Digest, Architecture string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("skopeo inspect %s: %v\n%s", ref, err, out)
	}
	return info.Digest, info.Architecture
}

// repoTags reads the RepoTags of a docker archive's manifest.json.
func repoTags(t *testing.T, archive string) []string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no manifest.json: %v", archive, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		b, _ := io.ReadAll(tr)
		var m []struct{ RepoTags []string }
		if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
			t.Fatalf("manifest.json: %v: %s", err, b)
		}
		return m[0].RepoTags
	}
}

// deb:SUITE is a source like any other: copy builds the Debian root for
// --platform (or this machine's) into any output, inspect describes it.
func TestCopyAndInspectDebianSource(t *testing.T) {
	cache := testtool.CacheDir(t)
	layout := filepath.Join(shortTempDir(t), "deb")
	r := mustAssemble(t, cache, "copy", "--platform", "linux/arm64", "deb:bookworm", "oci:"+layout+":bookworm-arm64")
	if !strings.HasPrefix(r.stdout, "oci:"+layout+":bookworm-arm64@sha256:") {
		t.Errorf("copy printed %q", r.stdout)
	}
	if d, arch := skopeoInspectArch(t, "oci:"+layout+":bookworm-arm64"); !strings.Contains(r.stdout, d) || arch != "arm64" {
		t.Errorf("skopeo reads %s for %s, copy wrote %s for arm64", d, arch, r.stdout)
	}

	// With no name in the destination the root is localhost/debian:SUITE.
	hostIsAmd64(t)
	r = mustAssemble(t, cache, "copy", "deb:bookworm", "oci:"+layout)
	if got := readIndex(t, layout); got["localhost/debian:bookworm"] == "" {
		t.Errorf("layout names: %v", got)
	}
	ins := mustAssemble(t, cache, "inspect", "deb:bookworm")
	digest := strings.TrimPrefix(strings.TrimSpace(r.stdout), "oci:"+layout+":localhost/debian:bookworm@")
	if !strings.Contains(ins.stdout, `"platform": "linux/amd64"`) || !strings.Contains(ins.stdout, digest) {
		t.Errorf("inspect deb:bookworm (copy wrote %s):\n%s", digest, ins.stdout)
	}
	if out := podmanRun(t, "oci:"+layout+":localhost/debian:bookworm", "cat", "/etc/debian_version"); !strings.HasPrefix(out, "12.") {
		t.Errorf("/etc/debian_version: %q", out)
	}
}

// A destination that names no image gets the source's repository and tag,
// never the transport string: podman load takes the archive, skopeo finds
// the layout's image under that name.
func TestCopyNamesAfterTheSource(t *testing.T) {
	cache := t.TempDir()
	dir := shortTempDir(t)
	layout := filepath.Join(dir, "layout")
	mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout)
	digest := readIndex(t, layout)["hello:1.0"]

	archive := filepath.Join(dir, "hello.tar")
	mustAssemble(t, cache, "copy", "oci:"+layout+":hello:1.0", "docker-archive:"+archive)
	if tags := repoTags(t, archive); len(tags) != 1 || tags[0] != "hello:1.0" {
		t.Errorf("RepoTags %q, want [hello:1.0]", tags)
	}
	if out := podmanIn(t, filepath.Join(dir, "p"), "load", "-i", archive); !strings.Contains(out, "Loaded image: localhost/hello:1.0") {
		t.Errorf("podman load: %s", out)
	}

	fromArchive := filepath.Join(dir, "fromarchive")
	mustAssemble(t, cache, "copy", "docker-archive:"+archive, "oci:"+fromArchive)
	if got := readIndex(t, fromArchive); len(got) != 1 || got["hello:1.0"] == "" {
		t.Errorf("layout from the archive names %v, want hello:1.0", got)
	}

	again := filepath.Join(dir, "again")
	mustAssemble(t, cache, "copy", "oci:"+layout+":hello:1.0", "oci:"+again)
	if got := readIndex(t, again); got["hello:1.0"] != digest || len(got) != 1 {
		t.Errorf("layout names %v, want hello:1.0 only", got)
	}
	if d := skopeoInspect(t, "oci:"+again+":hello:1.0"); d != digest {
		t.Errorf("skopeo reads %s, want %s", d, digest)
	}

	// A layout skopeo wrote names its image by a bare tag: the copy is
	// named after the layout's directory.
	skopeo := testtool.RequireTool(t, "skopeo")
	byTag := filepath.Join(dir, "bytag")
	if out, err := exec.Command(skopeo, "copy", "oci:"+layout+":hello:1.0", "oci:"+byTag+":v1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	tagged := filepath.Join(dir, "bytag.tar")
	mustAssemble(t, cache, "copy", "oci:"+byTag, "docker-archive:"+tagged)
	if tags := repoTags(t, tagged); len(tags) != 1 || tags[0] != "localhost/bytag:v1" {
		t.Errorf("RepoTags %q, want [localhost/bytag:v1]", tags)
	}

	// A registry source keeps its reference.
	reg := ocitest.StartRegistry(t)
	ref := reg.Ref("ns/hello:1.0")
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "copy", "oci:"+layout+":hello:1.0", "docker://"+ref)
	pulled := filepath.Join(dir, "pulled")
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "copy", "docker://"+ref, "oci:"+pulled)
	if got := readIndex(t, pulled); got[ref] != digest {
		t.Errorf("layout names %v, want %s", got, ref)
	}
}

// -o oci:DIR:REF writes exactly REF, a full reference included, and skopeo,
// umoci and podman find the image under it.
func TestLayoutOutputRef(t *testing.T) {
	hostIsAmd64(t)
	repo := busyboxRepo(t)
	layout := filepath.Join(shortTempDir(t), "layout")
	const ref = "registry.example:5000/ns/app:1.0"
	r := mustAssemble(t, t.TempDir(), "build", repo, "-o", "oci:"+layout+":"+ref, "--json")
	digest := jsonDigest(t, r.stdout)
	if got := readIndex(t, layout); len(got) != 1 || got[ref] != digest {
		t.Fatalf("layout names %v, want only %s", got, ref)
	}
	if d := skopeoInspect(t, "oci:"+layout+":"+ref); d != digest {
		t.Errorf("skopeo reads %s, want %s", d, digest)
	}
	umoci := testtool.RequireTool(t, "umoci")
	if out, err := exec.Command(umoci, "ls", "--layout", layout).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != ref {
		t.Errorf("umoci ls: %v %q", err, out)
	}
	if got := podmanRun(t, "oci:"+layout+":"+ref); !strings.HasPrefix(got, "hello from assemble") {
		t.Errorf("podman run printed %q", got)
	}
}

// -t takes a full reference as docker build -t does, beside tags and
// templates; one that names a second repository, or an image of a plan of
// several, is an error.
func TestTagFullReference(t *testing.T) {
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "layout")
	mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout,
		"-t", "registry.example:5000/ns/app:1.0", "-t", "latest", "-t", "v{timestamp:%Y}")
	got := readIndex(t, layout)
	for _, want := range []string{"registry.example:5000/ns/app:1.0", "registry.example:5000/ns/app:latest"} {
		if _, ok := got[want]; !ok {
			t.Errorf("no %s in %v", want, got)
		}
	}
	stamped := 0
	for ref := range got {
		if strings.HasPrefix(ref, "registry.example:5000/ns/app:v2") {
			stamped++
		}
	}
	if len(got) != 3 || stamped != 1 {
		t.Errorf("layout names %v, want 1.0, latest and v{year}", got)
	}
	r := assemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout, "-t", "a.example/x:1", "-t", "b.example/y:1")
	if r.err == nil || !strings.Contains(r.stderr, "two repositories") {
		t.Errorf("two names: %v\n%s", r.err, r.stderr)
	}
	two := repoWith(t, "[[image]]\nname = \"a\"\n[[image]]\nname = \"b\"\n", nil)
	r = assemble(t, cache, "build", two, "-o", "oci:"+layout, "-t", "registry.example/ns/app:1")
	if r.err == nil || !strings.Contains(r.stderr, "plans 2 images") {
		t.Errorf("a full reference for two images: %v\n%s", r.err, r.stderr)
	}
}

// --push of a name without a registry fails before building, saying how to
// name one; with --registry the same repository pushes there.
func TestPushNeedsARegistry(t *testing.T) {
	cache := t.TempDir()
	r := assemble(t, cache, "build", "../../testdata/hello", "--push")
	if r.err == nil {
		t.Fatal("--push of hello:latest succeeded")
	}
	for _, want := range []string{`"hello"`, "Docker Hub", "--registry", "-t REGISTRY/NAMESPACE/NAME:TAG"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "layer ") {
		t.Errorf("built before refusing:\n%s", r.stderr)
	}
	reg := ocitest.StartRegistry(t)
	r = mustAssemble(t, cache, "--insecure-registry", reg.Host, "build", "../../testdata/hello", "--push", "--registry", reg.Host+"/ns", "--json")
	if d := skopeoInspect(t, "docker://"+reg.Ref("ns/hello:1.0"), "--tls-verify=false"); d != jsonDigest(t, r.stdout) {
		t.Errorf("registry has %s, build said %s", d, r.stdout)
	}
}

// -f selects the Dockerfile convention with no Dockerfile at the root, the
// path relative to the repository or to the working directory; a repository
// with nothing to build names each convention once.
func TestDockerfileFlag(t *testing.T) {
	repo := repoWith(t, "", map[string]string{"docker/app.Dockerfile": "FROM scratch\nCOPY docker/hello.txt /hello.txt\n", "docker/hello.txt": "hi\n"})
	os.Remove(filepath.Join(repo, "assemble.toml"))
	os.WriteFile(filepath.Join(repo, "requirements.txt"), []byte(""), 0o644) // Binder, without -f
	if p := mustAssemble(t, t.TempDir(), "plan", repo); !strings.HasPrefix(p.stdout, "convention: binder") {
		t.Errorf("plan without -f:\n%s", p.stdout)
	}
	p := mustAssemble(t, t.TempDir(), "plan", repo, "-f", "docker/app.Dockerfile")
	if !strings.HasPrefix(p.stdout, "convention: dockerfile (docker/app.Dockerfile named with -f)") {
		t.Errorf("plan -f:\n%s", p.stdout)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	mustAssemble(t, t.TempDir(), "build", repo, "-f", filepath.Join(repo, "docker/app.Dockerfile"), "-o", "oci:"+layout+":app:1")
	if d := skopeoInspect(t, "oci:"+layout+":app:1"); d == "" {
		t.Error("no image")
	}
	r := assemble(t, t.TempDir(), "build", repo, "-f", "nope/Dockerfile", "-o", "oci:"+layout)
	if r.err == nil || !strings.Contains(r.stderr, "-f nope/Dockerfile") {
		t.Errorf("missing -f file: %v\n%s", r.err, r.stderr)
	}

	r = assemble(t, t.TempDir(), "plan", t.TempDir())
	if r.err == nil || !strings.Contains(r.stderr, "no convention matched") {
		t.Fatalf("empty repository: %v\n%s", r.err, r.stderr)
	}
	for _, c := range []string{"assemble.toml", "domino-pieces", "devfile", "binder", "dockerfile"} {
		if n := strings.Count(r.stderr, c+","); n > 1 {
			t.Errorf("%s listed %d times:\n%s", c, n, r.stderr)
		}
	}
}

// --image-refs lines are references a next step uses as they are: with
// their transport, once each, read back by assemble copy.
func TestImageRefsQualified(t *testing.T) {
	cache := t.TempDir()
	dir := t.TempDir()
	layout, archive, refs := filepath.Join(dir, "layout"), filepath.Join(dir, "hello.tar"), filepath.Join(dir, "refs.txt")
	mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout, "-o", "oci:"+layout, "-o", "oci-archive:"+archive, "--image-refs", refs)
	b, err := os.ReadFile(refs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	digest := readIndex(t, layout)["hello:latest"]
	want := []string{
		"oci:" + layout + ":hello:latest@" + digest, "oci:" + layout + ":hello:1.0@" + digest,
		"oci-archive:" + archive + ":hello:latest@" + digest, "oci-archive:" + archive + ":hello:1.0@" + digest,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("--image-refs:\n%s\nwant:\n%s", b, strings.Join(want, "\n"))
	}
	for _, l := range lines {
		c := mustAssemble(t, cache, "copy", l, "oci:"+filepath.Join(dir, "back"))
		if !strings.HasSuffix(strings.TrimSpace(c.stdout), "@"+digest) {
			t.Errorf("copy %s: %s", l, c.stdout)
		}
	}
	r := assemble(t, cache, "inspect", "oci:"+layout+":hello:latest@sha256:"+strings.Repeat("0", 64))
	if r.err == nil || !strings.Contains(r.stderr, "not the sha256:000") {
		t.Errorf("a stale digest was accepted: %v\n%s", r.err, r.stderr)
	}
}
