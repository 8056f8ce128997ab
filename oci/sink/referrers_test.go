package sink_test

import (
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
)

// referrer is an SBOM-like artifact whose subject is img.
func referrer(t *testing.T, img v1.Image, text string) v1.Image {
	t.Helper()
	d := v1.Descriptor{Digest: ocitest.Digest(t, img)}
	d.MediaType, _ = img.MediaType()
	d.Size, _ = img.Size()
	r, err := oci.Artifact(oci.Spec{ConfigMediaType: "application/vnd.oci.empty.v1+json", ArtifactType: "application/spdx+json",
		Layers: []oci.Blob{{MediaType: "application/spdx+json", Content: []byte(text), Title: "sbom.spdx.json"}}, Subject: &d})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// referrersOf reads the referrers of img back from a source.
func referrersOf(t *testing.T, ref string, img v1.Image) []v1.Hash {
	t.Helper()
	b, err := source.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := b.(source.Referring).Referrers(ctx, ocitest.Digest(t, img))
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, r := range rs {
		out = append(out, ocitest.Digest(t, r))
	}
	return out
}

// In a layout and an archive, referrers are untagged entries of index.json
// beside the image, listed once however often the image is written, and a
// reader still finds the one image when no name is given.
func TestLayoutReferrers(t *testing.T) {
	img := ocitest.Image(t, 1, 1, 512, amd64)
	ref := referrer(t, img, `{"spdxVersion":"SPDX-2.3"}`)
	item := sink.Item{Name: "app:1", Image: img, Referrers: []v1.Image{ref}}
	dir := filepath.Join(t.TempDir(), "l")
	write(t, "oci:"+dir, []sink.Item{item, {Name: "app:2", Image: img, Referrers: []v1.Image{ref}}})
	write(t, "oci:"+dir, []sink.Item{item})
	m := readIndex(t, dir)
	var listed []v1.Hash
	for _, d := range m.Manifests {
		if d.ArtifactType == "application/spdx+json" && d.Annotations["org.opencontainers.image.ref.name"] == "" {
			listed = append(listed, d.Digest)
		}
	}
	if len(m.Manifests) != 3 || len(listed) != 1 || listed[0] != ocitest.Digest(t, ref) {
		t.Fatalf("index.json: %+v", m.Manifests)
	}
	if got := referrersOf(t, "oci:"+dir+":app:1", img); len(got) != 1 || got[0] != ocitest.Digest(t, ref) {
		t.Errorf("layout referrers %v", got)
	}
	one := filepath.Join(t.TempDir(), "one")
	write(t, "oci:"+one, []sink.Item{item})
	b, err := source.Parse("oci:" + one)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Image(ctx, amd64)
	if err != nil || ocitest.Digest(t, got) != ocitest.Digest(t, img) {
		t.Errorf("oci:DIR with one image and its referrer: %v", err)
	}
	arch := filepath.Join(t.TempDir(), "a.tar")
	write(t, "oci-archive:"+arch, []sink.Item{item})
	if got := referrersOf(t, "oci-archive:"+arch, img); len(got) != 1 {
		t.Errorf("archive referrers %v", got)
	}
}

// docker-registry has no referrers API: the referrer is found through the
// sha256-HEX fallback tag, and a re-push puts nothing.
func TestRegistryReferrersFallback(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img := ocitest.Image(t, 2, 1, 512, amd64)
	ref := referrer(t, img, `{"spdxVersion":"SPDX-2.3"}`)
	items := []sink.Item{{Name: reg.Ref("ns/app:1"), Image: img, Referrers: []v1.Image{ref}}}
	push(t, items)
	if got := referrersOf(t, "docker://"+reg.Ref("ns/app:1"), img); len(got) != 1 || got[0] != ocitest.Digest(t, ref) {
		t.Errorf("registry referrers %v", got)
	}
	if got := pulled(t, reg.Ref("ns/app:sha256-"+ocitest.Digest(t, img).Hex)); got.Hex == "" {
		t.Error("no fallback tag")
	}
	reg.Reset()
	push(t, items)
	if n := reg.BlobUploads() + reg.Count(ocitest.ManifestPut); n != 0 {
		t.Errorf("re-push wrote %d times\n%s", n, reg)
	}
}
