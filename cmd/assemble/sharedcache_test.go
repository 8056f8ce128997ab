package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/oci/ocitest"
)

type layerJSON struct {
	Cached bool `json:"cached"`
}

func builtLayers(t *testing.T, stdout string) []layerJSON {
	t.Helper()
	var rep struct {
		Images []struct {
			Layers []layerJSON `json:"layers"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Images) == 0 {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	return rep.Images[0].Layers
}

// Runner A builds and pushes with --cache-to; runner B, with an empty
// --cache-dir and --cache-from, builds nothing, gets the same digest and
// pushes without moving a layer blob (mounted from the cache repository);
// runner C writes a local layout and downloads each blob once.
func TestSharedCacheBetweenRunners(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	cacheRef := "docker://" + reg.Ref("ci/cache")
	hello := "../../testdata/hello"
	a := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "build", hello, "-o", "docker://"+reg.Ref("ci/hello-a:1"), "--cache-to", cacheRef, "--json")
	digest := jsonDigest(t, a.stdout)
	if !strings.Contains(a.stderr, "2 entries written") {
		t.Errorf("runner A did not report the entries written:\n%s", a.stderr)
	}

	reg.Reset()
	b := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "build", hello, "-o", "docker://"+reg.Ref("ci/hello-b:1"), "--cache-from", cacheRef, "--json")
	if got := jsonDigest(t, b.stdout); got != digest {
		t.Errorf("runner B built %s, runner A %s", got, digest)
	}
	for i, l := range builtLayers(t, b.stdout) {
		if !l.Cached {
			t.Errorf("runner B built layer %d", i)
		}
	}
	if n := reg.Count(ocitest.BlobGet); n != 0 {
		t.Errorf("runner B downloaded %d blobs, want 0", n)
	}
	if n := reg.Count(ocitest.Mount); n != 2 {
		t.Errorf("runner B mounted %d blobs, want 2 (the layers)", n)
	}
	cacheReads := 0
	for _, r := range reg.Requests() {
		if r.Repo == "ci/cache" {
			cacheReads++
		}
	}
	if cacheReads != 1 || !strings.Contains(b.stderr, "shared cache "+cacheRef+":assemble-cache: 1 requests, 2 hits, 0 misses") {
		t.Errorf("runner B: %d requests to the cache repository, want 1, reported:\n%s", cacheReads, b.stderr)
	}
	var stats struct {
		SharedCache []struct {
			Ref            string
			Requests, Hits int64
		} `json:"sharedCache"`
	}
	if err := json.Unmarshal([]byte(b.stdout), &stats); err != nil || len(stats.SharedCache) != 1 || stats.SharedCache[0].Requests != 1 || stats.SharedCache[0].Hits != 2 {
		t.Errorf("--json sharedCache: %v %+v", err, stats)
	}

	reg.Reset()
	layout := filepath.Join(t.TempDir(), "layout")
	c := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "build", hello, "-o", "oci:"+layout, "--cache-from", cacheRef, "--json")
	if got := jsonDigest(t, c.stdout); got != digest {
		t.Errorf("runner C built %s, want %s", got, digest)
	}
	if n := reg.Count(ocitest.BlobGet); n != 2 {
		t.Errorf("runner C downloaded %d blobs, want 2 (each layer once)", n)
	}

	du := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "cache", "du", "--cache-ref", cacheRef)
	if !strings.Contains(du.stdout, "entries: 2") {
		t.Errorf("cache du --cache-ref:\n%s", du.stdout)
	}
	pr := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "cache", "prune", "--cache-ref", cacheRef, "--keep-days", "0")
	if !strings.Contains(pr.stdout, "removed 2 entries") {
		t.Errorf("cache prune --cache-ref:\n%s", pr.stdout)
	}
}

// plan --matrix lists one job per image; build --image builds just one.
func TestPlanMatrixAndBuildImage(t *testing.T) {
	repo := t.TempDir()
	toml := `[[image]]
name = "example.test/ns/web"
tags = ["1"]
base = "scratch"
[[image.layer]]
dir = "web"
dest = "/web"

[[image]]
name = "example.test/ns/api"
tags = ["1"]
base = "scratch"
platforms = ["linux/arm64"]
[[image.layer]]
dir = "api"
dest = "/api"
`
	for p, body := range map[string]string{"assemble.toml": toml, "web/index.html": "web", "api/main.txt": "api"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	r := mustAssemble(t, cache, "plan", "--matrix", repo)
	var m []matrixEntry
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || len(m) != 2 {
		t.Fatalf("plan --matrix: %v\n%s", err, r.stdout)
	}
	api := m[1]
	if api.ID != "api" || api.Name != "example.test/ns/api" || api.Image != api.Name || strings.Join(api.Platforms, ",") != "linux/arm64" || api.Command != "assemble build --image example.test/ns/api "+repo {
		t.Errorf("matrix entry: %+v", api)
	}
	layout := filepath.Join(t.TempDir(), "out")
	args := append(strings.Fields(api.Command)[1:], "-o", "oci:"+layout)
	mustAssemble(t, cache, args...)
	if ix := readIndex(t, layout); len(ix) != 1 || ix["example.test/ns/api:1"] == "" {
		t.Errorf("build --image wrote %v, want api:1 alone", ix)
	}
	bad := assemble(t, cache, "build", "--image", "nope", repo, "-o", "oci:"+layout)
	if bad.err == nil || !strings.Contains(bad.stderr, "example.test/ns/api, example.test/ns/web") {
		t.Errorf("--image nope: %v\n%s", bad.err, bad.stderr)
	}
}

// Images sharing a name (Domino's groups) are told apart by tag, in the
// matrix and by --image.
func TestImageSelectorSharedNames(t *testing.T) {
	p := &plan.Plan{Images: []plan.Image{
		{Name: "ghcr.io/org/pieces", Tags: []string{"0.2.0-group0"}},
		{Name: "ghcr.io/org/pieces", Tags: []string{"0.2.0-group1"}},
		{Name: "ghcr.io/org/other", Tags: []string{"1"}},
	}}
	if got := imageSelector(p, p.Images[1]); got != "ghcr.io/org/pieces:0.2.0-group1" {
		t.Errorf("selector %q", got)
	}
	if got := imageSelector(p, p.Images[2]); got != "ghcr.io/org/other" {
		t.Errorf("selector %q", got)
	}
	for sel, want := range map[string]string{"pieces:0.2.0-group1": "0.2.0-group1", "ghcr.io/org/pieces:0.2.0-group0": "0.2.0-group0", "other": "1"} {
		q := &plan.Plan{Images: slices.Clone(p.Images)}
		f := sharedCacheFlags{image: sel}
		if err := f.pickImage(q); err != nil || len(q.Images) != 1 || q.Images[0].Tags[0] != want {
			t.Errorf("--image %s: %v %+v", sel, err, q.Images)
		}
	}
	f := sharedCacheFlags{image: "pieces"}
	if err := f.pickImage(&plan.Plan{Images: slices.Clone(p.Images)}); err == nil || !strings.Contains(err.Error(), "ghcr.io/org/pieces:0.2.0-group0") {
		t.Errorf("--image pieces (ambiguous): %v", err)
	}
}

// Four runners building different repositories write one cache ref at
// the same time: afterwards every entry is there.
func TestSharedCacheConcurrentRunners(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	cacheRef := "docker://" + reg.Ref("ci/cache")
	var wg sync.WaitGroup
	errs := make([]string, 4)
	for i := range 4 {
		repo := t.TempDir()
		toml := fmt.Sprintf("[[image]]\nname = \"app%d\"\nbase = \"scratch\"\n[[image.layer]]\ndir = \"a\"\n[[image.layer]]\ndir = \"b\"\n", i)
		for p, body := range map[string]string{"assemble.toml": toml, "a/a.txt": fmt.Sprint("a", i), "b/b.txt": fmt.Sprint("b", i)} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(repo, p), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cache := t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := assemble(t, cache, "--insecure-registry", reg.Host, "build", repo, "-o", "docker://"+reg.Ref(fmt.Sprintf("ci/app%d:1", i)), "--cache-to", cacheRef)
			if r.err != nil {
				errs[i] = r.stderr
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("runner %d failed:\n%s", i, e)
		}
	}
	du := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "cache", "du", "--cache-ref", cacheRef)
	if !strings.Contains(du.stdout, "entries: 8") {
		t.Errorf("after 4 runners of 2 layers each:\n%s", du.stdout)
	}
}
