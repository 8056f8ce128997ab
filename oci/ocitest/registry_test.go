package ocitest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRegistryCountsAndFaults(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img := ocitest.Image(t, 1, 2, 512, ocitest.AMD64)
	ref, err := name.ParseReference(reg.Ref("counted/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	c := reg.Counts()
	if c[ocitest.ManifestPut] != 1 {
		t.Errorf("manifest PUTs = %d, want 1\n%s", c[ocitest.ManifestPut], reg)
	}
	// Two layers and a config: each is started, sent and committed.
	if c[ocitest.UploadPut] != 3 || reg.BlobUploads() < 3 {
		t.Errorf("upload PUTs = %d (uploads %d), want 3\n%s", c[ocitest.UploadPut], reg.BlobUploads(), reg)
	}
	for _, q := range reg.Requests() {
		if q.Repo != "" && q.Repo != "counted/app" {
			t.Errorf("request %s %s classified with repo %q", q.Method, q.Path, q.Repo)
		}
	}

	// Faults answer instead of the registry, the given number of times.
	reg.Reset()
	reg.Inject(ocitest.Fault{Kind: ocitest.ManifestGet, Times: 2, Status: http.StatusServiceUnavailable, Header: map[string]string{"Retry-After": "0"}})
	for i, want := range []int{503, 503, 200} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+reg.Host+"/v2/counted/app/manifests/1", nil)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d", i, resp.StatusCode, want)
		}
		if want == 503 && resp.Header.Get("Retry-After") != "0" {
			t.Errorf("request %d: no Retry-After header", i)
		}
	}
	if reg.PendingFaults() != 0 {
		t.Errorf("pending faults = %d", reg.PendingFaults())
	}
	if got := reg.Count(ocitest.ManifestGet); got != 3 {
		t.Errorf("manifest GETs = %d, want 3", got)
	}

	// Basic auth.
	reg.RequireBasicAuth("u", "p")
	resp, err := http.Get("http://" + reg.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("without credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+reg.Host+"/v2/", nil)
	req.SetBasicAuth("u", "p")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with credentials: %d", resp.StatusCode)
	}
}

func TestImageDeterministic(t *testing.T) {
	a := ocitest.Digest(t, ocitest.Image(t, 7, 2, 100, ocitest.ARM64))
	b := ocitest.Digest(t, ocitest.Image(t, 7, 2, 100, ocitest.ARM64))
	c := ocitest.Digest(t, ocitest.Image(t, 8, 2, 100, ocitest.ARM64))
	if a != b || a == c {
		t.Errorf("digests: same seed %s %s, other seed %s", a, b, c)
	}
	idx := ocitest.Index(t, 1, 1, 100, ocitest.AMD64, ocitest.ARM64)
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 || m.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("index manifests: %+v", m.Manifests)
	}
}

// The in-process registry takes pushes through the same proxy: requests are
// classified, and basic auth is enforced.
func TestInProcessRegistry(t *testing.T) {
	reg := ocitest.StartInProcess(t)
	reg.RequireBasicAuth("u", "p")
	img := ocitest.Image(t, 1, 2, 512, ocitest.AMD64)
	ref, err := name.ParseReference(reg.Ref("mem/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("anonymous push: %v", err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "u", Password: "p"})); err != nil {
		t.Fatal(err)
	}
	if n := reg.Count(ocitest.ManifestPut); n != 1 {
		t.Errorf("manifest PUTs = %d, want 1\n%s", n, reg)
	}
	d, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: "u", Password: "p"}))
	if err != nil || d.Digest != ocitest.Digest(t, img) {
		t.Errorf("registry holds %v (%v), want %s", d, err, ocitest.Digest(t, img))
	}
}

// A DropAfter fault reads part of the body and closes the connection with
// no answer and nothing forwarded; When narrows a fault to some requests;
// chunked-upload requests are classified with their Content-Range.
func TestDropConnectionFault(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	resp, err := http.Post("http://"+reg.Host+"/v2/drop/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("POST: %d, Location %q", resp.StatusCode, loc)
	}
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, DropAfter: 10,
		When: func(r *http.Request) bool { return r.Header.Get("Content-Range") == "0-99" }})
	patch := func(body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPatch, loc, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("0-%d", len(body)-1))
		return http.DefaultClient.Do(req)
	}
	if resp, err := patch(strings.Repeat("x", 100)); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped PATCH answered %d", resp.StatusCode)
	}
	// Nothing reached the registry: it still holds no byte.
	resp, err = http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-0" {
		t.Errorf("upload status after the drop: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	// When did not match: the registry answers.
	resp, err = patch(strings.Repeat("y", 50))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-49" {
		t.Errorf("PATCH after the drop: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	var kinds []string
	for _, q := range reg.Requests() {
		kinds = append(kinds, fmt.Sprintf("%s[%s]:%d", q.Kind, q.ContentRange, q.Status))
	}
	if got, want := strings.Join(kinds, " "), "upload-start[]:202 upload-patch[0-99]:0 upload-status[]:204 upload-patch[0-49]:202"; got != want {
		t.Errorf("requests %s, want %s", got, want)
	}
}
