package sink_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var ctx = context.Background()

func write(t *testing.T, spec string, items []sink.Item, opts ...sink.Option) []sink.Result {
	t.Helper()
	s, err := sink.Parse(spec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Write(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(items) {
		t.Fatalf("%d results for %d items", len(res), len(items))
	}
	return res
}

func readIndex(t *testing.T, dir string) *v1.IndexManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m v1.IndexManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// refs maps ref.name to digest.
func refs(m *v1.IndexManifest) map[string]v1.Hash {
	r := map[string]v1.Hash{}
	for _, d := range m.Manifests {
		r[d.Annotations[source.RefNameAnnotation]] = d.Digest
	}
	return r
}

// ggcrReads checks ggcr's layout package reads every named entry fully.
func ggcrReads(t *testing.T, dir string) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("ggcr validate of %s: %v", dir, err)
	}
}

func TestLayoutReplaceAndKeep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	img1 := ocitest.Image(t, 1, 2, 1024, amd64)
	idx := ocitest.Index(t, 10, 1, 1024, ocitest.AMD64, ocitest.ARM64)
	prog := &recProgress{}
	res := write(t, "oci:"+dir, []sink.Item{{Name: "app:1", Image: img1}, {Name: "registry.example/ns/multi:2", Index: idx}}, sink.WithProgress(prog))
	if res[0].Ref != "app:1" || res[0].Digest != ocitest.Digest(t, img1) || res[1].Digest != ocitest.Digest(t, idx) || res[0].Sink != "oci:"+dir {
		t.Errorf("results %+v", res)
	}
	m := readIndex(t, dir)
	if got := refs(m); len(got) != 2 || got["app:1"] != res[0].Digest || got["registry.example/ns/multi:2"] != res[1].Digest {
		t.Errorf("index.json refs %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "oci-layout")); !strings.Contains(string(b), `"imageLayoutVersion":"1.0.0"`) {
		t.Errorf("oci-layout = %s", b)
	}
	ggcrReads(t, dir)
	idxImgs := []v1.Image{img1}
	for _, p := range []v1.Platform{ocitest.AMD64, ocitest.ARM64} {
		b, _ := source.Parse("oci:" + dir + ":registry.example/ns/multi:2")
		img, err := b.Image(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		idxImgs = append(idxImgs, img)
	}
	prog.check(t, idxImgs...)

	// Same layer blob again: the file is kept, not rewritten.
	m1, _ := img1.Manifest()
	blob := filepath.Join(dir, "blobs", "sha256", m1.Layers[0].Digest.Hex)
	before, _ := os.Stat(blob)

	// Replace app:1; multi stays, untouched and first.
	img2 := ocitest.Append(t, img1, 2, 1, 512)
	res2 := write(t, "oci:"+dir+":app:1", []sink.Item{{Name: "ignored", Image: img2}})
	m = readIndex(t, dir)
	got := refs(m)
	if len(m.Manifests) != 2 || got["app:1"] != ocitest.Digest(t, img2) || got["registry.example/ns/multi:2"] != res[1].Digest || res2[0].Ref != "app:1" {
		t.Errorf("after replace: %v", got)
	}
	if m.Manifests[0].Annotations[source.RefNameAnnotation] != "registry.example/ns/multi:2" {
		t.Errorf("kept entry moved: %+v", m.Manifests)
	}
	after, _ := os.Stat(blob)
	if !os.SameFile(before, after) {
		t.Error("an existing blob was rewritten")
	}
	ggcrReads(t, dir)

	// Errors.
	s, _ := sink.Parse("oci:" + dir + ":one")
	if _, err := s.Write(ctx, []sink.Item{{Name: "a", Image: img1}, {Name: "b", Image: img2}}); err == nil || !strings.Contains(err.Error(), "names one image but 2") {
		t.Errorf("two items to one REF: %v", err)
	}
	s, _ = sink.Parse("oci:" + dir)
	if _, err := s.Write(ctx, []sink.Item{{Image: img1}}); err == nil || !strings.Contains(err.Error(), "no name") {
		t.Errorf("nameless item: %v", err)
	}
	if _, err := s.Write(ctx, []sink.Item{{Name: "x", Image: img1}, {Name: "x", Image: img2}}); err == nil || !strings.Contains(err.Error(), "both named") {
		t.Errorf("duplicate names: %v", err)
	}
	if _, err := s.Write(ctx, []sink.Item{{Name: "x", Image: img1, Index: idx}}); err == nil {
		t.Error("item with image and index accepted")
	}
}

func TestLayoutFailedWriteKeepsPreviousLayout(t *testing.T) {
	dir := t.TempDir()
	img := ocitest.Image(t, 1, 1, 2048, amd64)
	write(t, "oci:"+dir, []sink.Item{{Name: "app:1", Image: img}})
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))

	for name, broken := range map[string]v1.Image{
		"source fails mid-copy": withLayer(t, img, func(l v1.Layer) v1.Layer { return &brokenLayer{Layer: l, n: 1000} }),
		"source lies":           withLayer(t, img, func(l v1.Layer) v1.Layer { return &lyingLayer{Layer: l} }),
	} {
		t.Run(name, func(t *testing.T) {
			s, _ := sink.Parse("oci:" + dir)
			_, err := s.Write(ctx, []sink.Item{{Name: "app:1", Image: broken}, {Name: "other:1", Image: img}})
			if err == nil {
				t.Fatal("write succeeded")
			}
			if name == "source lies" && !strings.Contains(err.Error(), "digest") {
				t.Errorf("error does not mention the digest: %v", err)
			}
			if name == "source fails mid-copy" && !errors.Is(err, errBroken) {
				t.Errorf("error %v does not wrap the source error", err)
			}
			after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
			if !bytes.Equal(before, after) {
				t.Errorf("index.json changed:\n%s\n%s", before, after)
			}
			if left := tempFiles(t, dir); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			m, _ := broken.Manifest()
			bad := m.Layers[len(m.Layers)-1].Digest
			if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", bad.Hex)); err == nil {
				t.Error("the bad blob was stored")
			}
			ggcrReads(t, dir)
			b, _ := source.Parse("oci:" + dir + ":app:1")
			got, err := b.Image(ctx, amd64)
			if err != nil || ocitest.Digest(t, got) != ocitest.Digest(t, img) {
				t.Errorf("previous image not readable: %v", err)
			}
		})
	}

	// A broken index.json is reported, never overwritten.
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := sink.Parse("oci:" + dir)
	if _, err := s.Write(ctx, []sink.Item{{Name: "x", Image: img}}); err == nil || !strings.Contains(err.Error(), "index.json") {
		t.Errorf("broken index.json: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "index.json")); string(b) != "{broken" {
		t.Error("broken index.json was overwritten")
	}
}

func TestDockerArchive(t *testing.T) {
	dir := t.TempDir()
	a := ocitest.Image(t, 1, 2, 1024, amd64)
	b := ocitest.Append(t, a, 2, 1, 1024) // shares a's layers
	file := filepath.Join(dir, "images.tar")
	prog := &recProgress{}
	res := write(t, "docker-archive:"+file, []sink.Item{{Name: "app:1", Image: a}, {Name: "registry.example/ns/b", Image: b}}, sink.WithProgress(prog))
	if res[0].Ref != "app:1" || res[1].Ref != "registry.example/ns/b:latest" || res[0].Digest != ocitest.Digest(t, a) {
		t.Errorf("results %+v", res)
	}
	prog.check(t, a, b)
	for i, want := range []v1.Image{a, b} {
		tag, _ := name.NewTag(res[i].Ref)
		got, err := tarball.ImageFromPath(file, &tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("validate %s: %v", tag, err)
		}
		gc, _ := got.ConfigName()
		wc, _ := want.ConfigName()
		gl, _ := got.Manifest()
		wl, _ := want.Manifest()
		if gc != wc || len(gl.Layers) != len(wl.Layers) {
			t.Fatalf("%s: config %s want %s", tag, gc, wc)
		}
		for j := range wl.Layers {
			if gl.Layers[j].Digest != wl.Layers[j].Digest {
				t.Errorf("%s layer %d: %s, want %s", tag, j, gl.Layers[j].Digest, wl.Layers[j].Digest)
			}
		}
	}
	// Shared layers are stored once; bytes are reproducible.
	names := tarNames(t, file)
	if len(names) != 2+3+1 {
		t.Errorf("archive entries %v: want 2 configs, 3 layers, manifest.json", names)
	}
	again := filepath.Join(dir, "again.tar")
	write(t, "docker-archive:"+again, []sink.Item{{Name: "app:1", Image: a}, {Name: "registry.example/ns/b", Image: b}})
	if x, y := mustRead(t, file), mustRead(t, again); !bytes.Equal(x, y) {
		t.Error("two writes of the same images differ")
	}

	s, _ := sink.Parse("docker-archive:" + file)
	idx := ocitest.Index(t, 3, 1, 100, ocitest.AMD64, ocitest.ARM64)
	if _, err := s.Write(ctx, []sink.Item{{Name: "m:1", Index: idx}}); err == nil || !strings.Contains(err.Error(), "--platform") || !strings.Contains(err.Error(), "single-platform") {
		t.Errorf("index to docker-archive: %v", err)
	}
	if _, err := sink.Parse("docker-archive:" + file + ":Not A Tag"); err == nil {
		t.Error("bad tag accepted")
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tarNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	testtool.EachTarEntry(t, f, func(h *tar.Header, _ io.Reader) {
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d uname %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname)
		}
		names = append(names, h.Name)
	})
	return names
}

func TestOCIArchive(t *testing.T) {
	dir := t.TempDir()
	img := ocitest.Image(t, 1, 2, 1024, amd64)
	idx := ocitest.Index(t, 5, 1, 512, ocitest.AMD64, ocitest.ARM64)
	file := filepath.Join(dir, "out.tar")
	res := write(t, "oci-archive:"+file, []sink.Item{{Name: "app:1", Image: img}, {Name: "multi", Index: idx}})
	names := tarNames(t, file)
	if !sort.StringsAreSorted(names) || names[0] != "blobs/" || names[len(names)-1] != "oci-layout" {
		t.Errorf("entries not sorted: %v", names)
	}
	b, _ := source.Parse("oci-archive:" + file + ":app:1")
	got, err := b.Image(ctx, amd64)
	if err != nil {
		t.Fatal(err)
	}
	if ocitest.Digest(t, got) != res[0].Digest {
		t.Error("archive image digest differs from the result")
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate: %v", err)
	}
	b, _ = source.Parse("oci-archive:" + file + ":multi")
	gi, err := b.Index(ctx)
	if err != nil || ocitest.Digest(t, gi) != res[1].Digest {
		t.Errorf("index from archive: %v", err)
	}
	again := filepath.Join(dir, "again.tar")
	write(t, "oci-archive:"+again, []sink.Item{{Name: "app:1", Image: img}, {Name: "multi", Index: idx}})
	if !bytes.Equal(mustRead(t, file), mustRead(t, again)) {
		t.Error("two writes of the same images differ")
	}
	// A failing source leaves the previous archive in place.
	s, _ := sink.Parse("oci-archive:" + file + ":app:1")
	broken := withLayer(t, img, func(l v1.Layer) v1.Layer { return &brokenLayer{Layer: l, n: 10} })
	if _, err := s.Write(ctx, []sink.Item{{Name: "x", Image: broken}}); err == nil {
		t.Error("broken source written")
	}
	if !bytes.Equal(mustRead(t, file), mustRead(t, again)) {
		t.Error("failed write changed the archive")
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"out":                "no transport",
		"oci:":               "missing path",
		"oci:dir:":           "empty REF",
		"docker:x":           "docker://REF",
		"docker://Bad Ref":   "invalid",
		"zip:x":              `unknown transport "zip"`,
		"oci:dir:with space": "whitespace",
	} {
		_, err := sink.Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "oci-archive:FILE[:REF]") {
			t.Errorf("Parse(%q): %v (want %q and the accepted forms)", spec, err, want)
		}
	}
}

type skopeoInspect struct {
	Digest string
	Layers []string
}

func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := testtool.RequireTool(t, "skopeo")
	cmd := exec.Command(bin, append([]string{"--insecure-policy"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("skopeo %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("skopeo %v: %v", args, err)
	}
	return out
}

func TestSkopeoReadsOutputs(t *testing.T) {
	testtool.RequireTool(t, "skopeo")
	dir := t.TempDir()
	img := ocitest.Image(t, 1, 2, 1024, amd64)
	idx := ocitest.Index(t, 7, 1, 512, ocitest.AMD64, ocitest.ARM64)
	layoutDir := filepath.Join(dir, "layout")
	res := write(t, "oci:"+layoutDir, []sink.Item{{Name: "app:1.0", Image: img}, {Name: "registry.example/ns/multi:2", Index: idx}})
	m, _ := img.Manifest()
	var wantLayers []string
	for _, l := range m.Layers {
		wantLayers = append(wantLayers, l.Digest.String())
	}
	check := func(ref string, want v1.Hash, layers []string) {
		t.Helper()
		var got skopeoInspect
		if err := json.Unmarshal(skopeo(t, "inspect", ref), &got); err != nil {
			t.Fatal(err)
		}
		if want.Hex != "" && got.Digest != want.String() {
			t.Errorf("skopeo inspect %s: digest %s, want %s", ref, got.Digest, want)
		}
		if layers != nil && strings.Join(got.Layers, ",") != strings.Join(layers, ",") {
			t.Errorf("skopeo inspect %s: layers %v, want %v", ref, got.Layers, layers)
		}
	}
	check("oci:"+layoutDir+":app:1.0", res[0].Digest, wantLayers)
	// The index: skopeo's raw manifest is ours, byte for byte.
	raw := skopeo(t, "inspect", "--raw", "oci:"+layoutDir+":registry.example/ns/multi:2")
	if d := sha256Hex(raw); d != res[1].Digest.Hex {
		t.Errorf("skopeo raw index digest %s, want %s", d, res[1].Digest.Hex)
	}

	archive := filepath.Join(dir, "oci.tar")
	ares := write(t, "oci-archive:"+archive+":app:1.0", []sink.Item{{Image: img}})
	check("oci-archive:"+archive+":app:1.0", ares[0].Digest, wantLayers)

	// A docker archive has no manifest of its own: skopeo synthesises one
	// listing the layers by diffID, so compare what identifies the image:
	// the config (image ID) and the diffIDs.
	darchive := filepath.Join(dir, "docker.tar")
	write(t, "docker-archive:"+darchive, []sink.Item{{Name: "app:1.0", Image: img}})
	cf, _ := img.ConfigFile()
	var diffIDs []string
	for _, d := range cf.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	check("docker-archive:"+darchive, v1.Hash{}, diffIDs)
	var dm v1.Manifest
	if err := json.Unmarshal(skopeo(t, "inspect", "--raw", "docker-archive:"+darchive), &dm); err != nil {
		t.Fatal(err)
	}
	if dm.Config.Digest != m.Config.Digest {
		t.Errorf("docker-archive config %s, want %s", dm.Config.Digest, m.Config.Digest)
	}
	// skopeo can copy the layout into a fresh layout (reads every blob).
	copyDir := filepath.Join(dir, "copy")
	skopeo(t, "copy", "oci:"+layoutDir+":app:1.0", "oci:"+copyDir+":app")
	check("oci:"+copyDir+":app", res[0].Digest, nil)
}

func TestPodmanLoadsDockerArchive(t *testing.T) {
	podman := testtool.RequireTool(t, "podman")
	dir := t.TempDir()
	img := ocitest.Image(t, 4, 2, 1024, amd64)
	file := filepath.Join(dir, "d.tar")
	write(t, "docker-archive:"+file, []sink.Item{{Name: "app:1.0", Image: img}})
	// podman refuses a runroot path longer than 50 characters.
	runroot, err := os.MkdirTemp("", "rr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runroot) })
	base := []string{"--storage-driver", "vfs", "--root", filepath.Join(dir, "root"), "--runroot", runroot, "--cgroup-manager", "cgroupfs"}
	if out, err := exec.Command(podman, append(base, "load", "-i", file)...).CombinedOutput(); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	out, err := exec.Command(podman, append(base, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman images: %v\n%s", err, out)
	}
	cfg, _ := img.ConfigName()
	if !strings.Contains(string(out), "app:1.0") || !strings.Contains(string(out), cfg.Hex) {
		t.Errorf("podman images = %s, want app:1.0 with ID %s", out, cfg.Hex)
	}
}

// TestArchiveIntoMissingDirectory: oci-archive: and docker-archive: make
// the file's folder, as oci: makes its layout's, and skopeo reads the result.
func TestArchiveIntoMissingDirectory(t *testing.T) {
	testtool.RequireTool(t, "skopeo")
	img := ocitest.Image(t, 1, 1, 256, amd64)
	for _, transport := range []string{"oci-archive", "docker-archive"} {
		file := filepath.Join(t.TempDir(), "not", "yet", transport+".tar")
		res := write(t, transport+":"+file+":app:1.0", []sink.Item{{Image: img}})
		if len(res) != 1 {
			t.Fatalf("%s: %d results", transport, len(res))
		}
		skopeo(t, "inspect", transport+":"+file)
	}
}

// Writing the same images into a layout again leaves index.json and
// oci-layout as they are (no temporary file, fsync and rename each); a
// write that changes the index replaces index.json.
func TestLayoutUnchangedWriteLeavesFiles(t *testing.T) {
	dir := t.TempDir()
	img := ocitest.Image(t, 1, 1, 512, amd64)
	write(t, "oci:"+dir, []sink.Item{{Name: "app:1", Image: img}})
	inode := func(name string) uint64 {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	index, ociLayout := inode("index.json"), inode("oci-layout")
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	write(t, "oci:"+dir, []sink.Item{{Name: "app:1", Image: img}})
	if inode("index.json") != index || inode("oci-layout") != ociLayout {
		t.Error("an unchanged write replaced index.json or oci-layout")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "index.json")); !bytes.Equal(before, after) {
		t.Errorf("index.json changed:\n%s\n%s", before, after)
	}
	next := ocitest.Append(t, img, 2, 1, 512)
	write(t, "oci:"+dir, []sink.Item{{Name: "app:1", Image: next}})
	if inode("index.json") == index {
		t.Error("index.json was not replaced for a new image")
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := idx.IndexManifest(); len(m.Manifests) != 1 || m.Manifests[0].Digest != ocitest.Digest(t, next) {
		t.Errorf("index after the new image: %+v", m.Manifests)
	}
}
