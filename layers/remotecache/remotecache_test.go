package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// specs are n small layers, different for each runner name.
func specs(runner string, n int) []layers.Spec {
	var out []layers.Spec
	for i := range n {
		out = append(out, &layers.Generated{Name: fmt.Sprintf("%s-%d", runner, i), Files: []layers.GeneratedFile{
			{Path: fmt.Sprintf("%s/%d.txt", runner, i), Content: []byte(strings.Repeat(runner, 100*(i+1))), Mode: 0o644},
		}})
	}
	return out
}

// runner builds specs in a fresh local cache with shared caches c and
// returns the results.
func runner(t *testing.T, ctx context.Context, c *Caches, ss []layers.Spec) []layers.Result {
	t.Helper()
	out, err := buildAll(ctx, t.TempDir(), c, ss)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// buildAll is runner for goroutines, which may not call t.Fatal.
func buildAll(ctx context.Context, dir string, c *Caches, ss []layers.Spec) ([]layers.Result, error) {
	local, err := layers.OpenCache(dir)
	if err != nil {
		return nil, err
	}
	var out []layers.Result
	for _, s := range ss {
		r, err := local.Build(ctx, s, layers.WithShared(c))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func newCaches(t *testing.T, from []string, to string, opts ...Option) *Caches {
	t.Helper()
	c, err := New(from, to, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func count(reqs []ocitest.Request, kind ocitest.Kind, repo string) int {
	n := 0
	for _, r := range reqs {
		if r.Kind == kind && (repo == "" || r.Repo == repo) {
			n++
		}
	}
	return n
}

// A second runner with an empty local cache takes every layer from the
// registry cache: one manifest read for all keys, each blob downloaded once
// and verified, the same digests.
func TestRegistryCacheSharedBetweenRunners(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.StartRegistry(t)
	ref := "docker://" + reg.Ref("ns/cache")
	ss := specs("a", 3)

	a := newCaches(t, nil, ref)
	built := runner(t, ctx, a, ss)
	if n, err := a.Flush(ctx); err != nil || n != 3 {
		t.Fatalf("Flush = %d, %v; want 3 entries", n, err)
	}
	reg.Reset()
	b := newCaches(t, []string{ref}, "")
	got := runner(t, ctx, b, ss)
	for i := range got {
		if !got[i].Hit || !got[i].Shared || got[i].Digest != built[i].Digest {
			t.Errorf("layer %d: hit=%v shared=%v digest %s, want a shared hit with %s", i, got[i].Hit, got[i].Shared, got[i].Digest, built[i].Digest)
		}
	}
	reqs := reg.Requests()
	if n := count(reqs, ocitest.ManifestGet, "ns/cache"); n != 1 {
		t.Errorf("%d manifest reads for 3 lookups, want 1", n)
	}
	if n := count(reqs, ocitest.BlobGet, "ns/cache"); n != 3 {
		t.Errorf("%d blob downloads, want 3 (one per layer)", n)
	}
	st := b.Stats()[0]
	if st.Hits != 3 || st.Misses != 0 || st.Requests != 4 {
		t.Errorf("stats %+v, want 3 hits, 0 misses, 4 requests", st)
	}
}

// With the output on the cache's registry, a hit is used in place and the
// push mounts it: no blob is downloaded or uploaded.
func TestRegistryHitMountedIntoOutput(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.StartRegistry(t)
	ref := "docker://" + reg.Ref("ns/cache")
	ss := specs("m", 2)
	a := newCaches(t, nil, ref)
	runner(t, ctx, a, ss)
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	b := newCaches(t, []string{ref}, "", WithMountInto(reg.Host))
	local, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := empty.Image
	for _, s := range ss {
		r, err := local.Build(ctx, s, layers.WithShared(b))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, local.LayerOf(r)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := name.ParseReference(reg.Ref("ns/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ggcr.Write(out, img); err != nil {
		t.Fatal(err)
	}
	reqs := reg.Requests()
	if n := count(reqs, ocitest.BlobGet, ""); n != 0 {
		t.Errorf("%d blobs downloaded, want 0", n)
	}
	if n := count(reqs, ocitest.UploadStart, ""); n != 1 { // the config only
		t.Errorf("%d uploads started, want 1 (the image config; layers mounted)", n)
	}
	if n := count(reqs, ocitest.Mount, "ns/app"); n != 2 {
		t.Errorf("%d mounts, want 2", n)
	}
}

// Four runners writing one cache ref at once lose no entry.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.StartRegistry(t)
	ref := "docker://" + reg.Ref("ns/cache:shared")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		c, dir := newCaches(t, nil, ref), t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errs[i] = buildAll(ctx, dir, c, specs(fmt.Sprintf("w%d", i), 3)); errs[i] == nil {
				_, errs[i] = c.Flush(ctx)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	r, err := OpenRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	es, err := r.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 12 {
		t.Errorf("%d entries after 4 writers of 3, want 12", len(es))
	}
}

// An entry whose blob is not what it says (a layout blob overwritten; a
// registry entry pointing at another layer's blob) is ignored with a
// warning, and the layer built.
func TestPoisonedEntryIgnored(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	lctx := logctx.With(ctx, slog.New(slog.NewTextHandler(&logs, nil)))

	t.Run("layout blob overwritten", func(t *testing.T) {
		logs.Reset()
		dir := t.TempDir()
		ss := specs("p", 1)
		a := newCaches(t, nil, "oci:"+dir)
		built := runner(t, ctx, a, ss)
		if _, err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		blob := filepath.Join(dir, "blobs", "sha256", built[0].Digest.Hex)
		if err := os.WriteFile(blob, []byte("not the layer"), 0o644); err != nil {
			t.Fatal(err)
		}
		got := runner(t, lctx, newCaches(t, []string{"oci:" + dir}, ""), ss)
		if got[0].Hit || got[0].Digest != built[0].Digest {
			t.Errorf("hit=%v digest %s: want the layer rebuilt as %s", got[0].Hit, got[0].Digest, built[0].Digest)
		}
		if !strings.Contains(logs.String(), "level=WARN msg=\"ignoring shared cache entry") {
			t.Errorf("no warning; log:\n%s", logs.String())
		}
	})
	t.Run("registry entry naming another blob", func(t *testing.T) {
		logs.Reset()
		reg := ocitest.StartRegistry(t)
		ref := "docker://" + reg.Ref("ns/cache")
		ss := specs("q", 2)
		a := newCaches(t, nil, ref)
		built := runner(t, ctx, a, ss)
		if _, err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Point layer 0's key at layer 1's blob, keeping layer 0's diffID.
		r, _ := OpenRef(ref)
		m, err := readEntries(ctx, r.store)
		if err != nil {
			t.Fatal(err)
		}
		e := m[built[0].Key]
		e.Digest, e.Size = built[1].Digest, built[1].Size
		m[built[0].Key] = e
		fallback := false
		if err := put(ctx, r.store, m, &fallback); err != nil {
			t.Fatal(err)
		}
		got := runner(t, lctx, newCaches(t, []string{ref}, ""), ss)
		if got[0].Hit || got[0].Digest != built[0].Digest {
			t.Errorf("poisoned layer: hit=%v digest %s, want rebuilt as %s", got[0].Hit, got[0].Digest, built[0].Digest)
		}
		if !got[1].Hit {
			t.Error("the sound entry was not used")
		}
		if !strings.Contains(logs.String(), "uncompressed digest") {
			t.Errorf("warning does not say what did not match; log:\n%s", logs.String())
		}
	})
}

// An oci:DIR cache carried to another machine (copied) serves there, and
// skopeo copies it into another layout that serves too.
func TestLayoutCacheCopied(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ss := specs("l", 2)
	a := newCaches(t, nil, "oci:"+dir)
	built := runner(t, ctx, a, ss)
	if n, err := a.Flush(ctx); err != nil || n != 2 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	copied := t.TempDir()
	testtool.CopyTree(t, dir, copied)
	got := runner(t, ctx, newCaches(t, []string{"oci:" + copied}, ""), ss)
	for i := range got {
		if !got[i].Shared || got[i].Digest != built[i].Digest {
			t.Errorf("copied cache, layer %d: shared=%v digest %s, want %s", i, got[i].Shared, got[i].Digest, built[i].Digest)
		}
	}
	skopeo := testtool.RequireTool(t, "skopeo")
	other := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command(skopeo, "copy", "--all", "oci:"+dir+":"+DefaultTag, "oci:"+other+":"+DefaultTag).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	got = runner(t, ctx, newCaches(t, []string{"oci:" + other}, ""), ss)
	for i := range got {
		if !got[i].Shared {
			t.Errorf("skopeo-copied cache, layer %d: not a shared hit", i)
		}
	}
}

// skopeo and oras read a registry cache ref like any artifact.
func TestToolsReadRegistryCache(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.StartRegistry(t)
	ref := reg.Ref("ns/cache")
	a := newCaches(t, nil, "docker://"+ref)
	built := runner(t, ctx, a, specs("t", 2))
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+ref+":"+DefaultTag).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var m manifest
	if err := json.Unmarshal(out, &m); err != nil || m.ArtifactType != ArtifactType || len(m.Layers) != 2 {
		t.Fatalf("skopeo inspect --raw: %v\n%s", err, out)
	}
	oras := testtool.RequireTool(t, "oras")
	out, err = exec.Command(oras, "manifest", "fetch", "--plain-http", ref+":"+DefaultTag).CombinedOutput()
	if err != nil || !strings.Contains(string(out), built[0].Key) {
		t.Fatalf("oras manifest fetch: %v\n%s", err, out)
	}
	out, err = exec.Command(oras, "blob", "fetch", "--plain-http", "--output", "-", ref+"@"+built[0].Digest.String()).Output()
	if err != nil {
		t.Fatalf("oras blob fetch: %v", err)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(out)); h != built[0].Digest {
		t.Errorf("oras blob fetch: %s, want %s", h, built[0].Digest)
	}
}

// A registry refusing artifactType gets the image-manifest form, which
// reads back the same.
func TestFallbackForm(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.StartRegistry(t)
	reg.Inject(ocitest.Fault{Kind: ocitest.ManifestPut, Status: 400, Body: `{"errors":[{"code":"MANIFEST_INVALID","message":"artifactType"}]}`})
	ref := "docker://" + reg.Ref("ns/cache")
	ss := specs("f", 1)
	a := newCaches(t, nil, ref)
	runner(t, ctx, a, ss)
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := OpenRef(ref)
	raw, err := r.store.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.ArtifactType != "" || m.Config.MediaType != ArtifactType {
		t.Fatalf("fallback manifest: %v\n%s", err, raw)
	}
	if got := runner(t, ctx, newCaches(t, []string{ref}, ""), ss); !got[0].Shared {
		t.Error("fallback form not read")
	}
}

// Prune drops entries older than keep-days; du counts what is left.
func TestPruneAndUsage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newCaches(t, nil, "oci:"+dir, WithClock(func() time.Time { return old }))
	runner(t, ctx, a, specs("old", 2))
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now := old.Add(10 * 24 * time.Hour)
	b := newCaches(t, nil, "oci:"+dir, WithClock(func() time.Time { return now }))
	runner(t, ctx, b, specs("new", 1))
	if _, err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRef("oci:"+dir, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	u, err := r.Usage(ctx)
	if err != nil || u.Entries != 3 || !u.Oldest.Equal(old) || !u.Newest.Equal(now) {
		t.Fatalf("usage %+v, %v", u, err)
	}
	res, err := r.Prune(ctx, 5)
	if err != nil || res.Removed != 2 || res.Kept != 1 {
		t.Fatalf("prune: %+v, %v; want 2 removed, 1 kept", res, err)
	}
}

func TestBadRefs(t *testing.T) {
	for _, spec := range []string{"registry/ns/cache", "oci:", "docker://reg.example/ns/cache@sha256:" + strings.Repeat("0", 64)} {
		if _, err := New([]string{spec}, ""); err == nil || !strings.Contains(err.Error(), "--cache-from") {
			t.Errorf("%q: %v, want an error naming --cache-from", spec, err)
		}
	}
}

// Writers of one oci:DIR cache take turns under its lock: none is lost.
func TestLayoutConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		c, local := newCaches(t, nil, "oci:"+dir), t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errs[i] = buildAll(ctx, local, c, specs(fmt.Sprintf("d%d", i), 2)); errs[i] == nil {
				_, errs[i] = c.Flush(ctx)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	r, _ := OpenRef("oci:" + dir)
	if es, err := r.Entries(ctx); err != nil || len(es) != 8 {
		t.Errorf("%d entries, %v; want 8", len(es), err)
	}
}
