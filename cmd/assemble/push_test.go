package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// Push to a real docker-registry: skopeo sees the layout's digest, and a
// second push uploads no blob and no manifest (counted at a proxy).
func TestPushToRealRegistry(t *testing.T) {
	hostIsAmd64(t)
	repo := busyboxRepo(t)
	reg := ocitest.StartRegistry(t)
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "layout")
	ref := reg.Ref("demo/busybox-hello:latest")
	r := mustAssemble(t, cache, "--insecure-registry", reg.Host, "build", repo, "-o", "oci:"+layout, "-o", "docker://"+ref, "--json")
	digest := jsonDigest(t, r.stdout)
	// Two of the image (one layer, one config) and three of its referrers
	// (the SBOM, the provenance, and the empty config they share).
	if up := reg.Count(ocitest.UploadPut); up != 2+3 {
		t.Errorf("first push uploaded %d blobs, want 5 (one layer, one config; SBOM, provenance, empty config)", up)
	}

	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var info struct{ Digest string }
	json.Unmarshal(out, &info)
	if info.Digest != digest || readIndex(t, layout)["busybox-hello:latest"] != digest {
		t.Fatalf("registry has %s, layout %s, build said %s", info.Digest, readIndex(t, layout)["busybox-hello:latest"], digest)
	}

	reg.Reset()
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "build", repo, "-o", "docker://"+ref)
	if up, puts := reg.BlobUploads(), reg.Count(ocitest.ManifestPut); up != 0 || puts != 0 {
		t.Errorf("re-push uploaded %d blobs and %d manifests, want none:\n%v", up, puts, reg.Requests())
	}

	// copy between transports: registry -> archive -> layout keeps the digest.
	arch := filepath.Join(t.TempDir(), "img.tar")
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "copy", "docker://"+ref, "oci-archive:"+arch)
	back := filepath.Join(t.TempDir(), "back")
	c := mustAssemble(t, cache, "copy", "oci-archive:"+arch, "oci:"+back+":again")
	if !strings.Contains(c.stdout, digest) {
		t.Errorf("copy changed the digest: %s (want %s)", c.stdout, digest)
	}
	ins := mustAssemble(t, cache, "inspect", "oci:"+back+":again")
	if !strings.Contains(ins.stdout, digest) || !strings.Contains(ins.stdout, "GREETING=hello from assemble") {
		t.Errorf("inspect: %s", ins.stdout)
	}
}

// A registry that wants credentials gives an error that says how to log in.
func TestPushUnauthorized(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	reg.RequireBasicAuth("user", "secret")
	r := assemble(t, t.TempDir(), "--insecure-registry", reg.Host, "build", "../../testdata/hello", "-o", "docker://"+reg.Ref("x/hello:1"))
	if r.err == nil {
		t.Fatal("push without credentials succeeded")
	}
	for _, want := range []string{reg.Host, "login"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "secret") {
		t.Error("a password reached the output")
	}
}

// A registry that fails twice with 503 then answers: the push succeeds.
func TestPushRetriesServerErrors(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadStart, Status: 503, Times: 2, Header: map[string]string{"Retry-After": "1"}})
	r := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "build", "../../testdata/hello", "-o", "docker://"+reg.Ref("x/hello:1"), "--json")
	if n := reg.PendingFaults(); n != 0 {
		t.Fatalf("%d injected failures were never hit", n)
	}
	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+reg.Ref("x/hello:1")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), jsonDigest(t, r.stdout)) {
		t.Fatalf("after retries: %v\n%s", err, out)
	}
}
