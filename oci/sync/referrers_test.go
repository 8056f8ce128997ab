package sync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/attest"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// attach pushes a referrer of subject (an artifact with that subject) to
// repo; on docker-registry ggcr adds it to the sha256-HEX fallback tag.
func attach(t *testing.T, repo string, subject v1.Descriptor, kind, content string) v1.Descriptor {
	t.Helper()
	doc := attest.Document{Kind: kind, Filename: kind + ".json", MediaType: "application/vnd.test." + kind + "+json", Content: []byte(content)}
	img, err := attest.Referrer(subject, doc, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	push(t, repo+"@"+ocitest.Digest(t, img).String(), img)
	raw, _ := img.RawManifest()
	return v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: ocitest.Digest(t, img), Size: int64(len(raw))}
}

func descOf(t *testing.T, ref string) v1.Descriptor {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return *d
}

// Sync carries each image's referrers between two docker-registries (no
// referrers API: both read and written through the sha256-HEX fallback
// tag): the image's, an index child's, and a referrer's own; fallback tags
// are not synced as images; a second run writes nothing; a referrer
// attached later is carried though the image is unchanged; --no-referrers
// leaves them all behind.
func TestSyncCarriesReferrers(t *testing.T) {
	oras := testtool.RequireTool(t, "oras")
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	app := src.Host + "/ns/app"
	imgD := push(t, app+":1", ocitest.Image(t, 1, 1, 256, ocitest.AMD64))
	idx := ocitest.Index(t, 2, 1, 256, ocitest.AMD64, ocitest.ARM64)
	idxD := push(t, app+":multi", idx)
	child := childDigests(t, idx)["arm64"]
	sbom := attach(t, app, descOf(t, app+"@"+imgD.String()), "sbom", `{"spdx":1}`)
	attach(t, app, descOf(t, app+"@"+imgD.String()), "provenance", `{"slsa":1}`)
	attach(t, app, sbom, "signature", `{"sig":1}`)
	attach(t, app, descOf(t, app+"@"+child.String()), "sbom", `{"spdx":2}`)

	dir := t.TempDir()
	// No tag: every tag of ns/app, which lists the sha256-HEX fallback tags too.
	images := writeFile(t, dir, "images.yaml", app+": "+dst.Host+"/ns/app\n")
	cfg, err := LoadConfig("", images)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), cfg, WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 2 || sum.ReferrersCopied != 4 {
		t.Fatalf("summary %+v: want 2 images and 4 referrers copied", sum)
	}
	for _, r := range sum.Images {
		if strings.Contains(r.Source, ":sha256-") {
			t.Errorf("a fallback tag was synced as an image: %+v", r)
		}
	}
	out := dst.Direct + "/ns/app@"
	want := []string{"application/vnd.test.provenance+json", "application/vnd.test.sbom+json"}
	if got := ocitest.DiscoverTypes(t, oras, out+imgD.String()); !slices.Equal(got, want) {
		t.Errorf("oras discover on the destination image: %v, want %v", got, want)
	}
	if got := ocitest.DiscoverTypes(t, oras, out+sbom.Digest.String()); !slices.Equal(got, []string{"application/vnd.test.signature+json"}) {
		t.Errorf("oras discover on the destination SBOM: %v, want its signature", got)
	}
	if got := ocitest.DiscoverTypes(t, oras, out+child.String()); !slices.Equal(got, want[1:]) {
		t.Errorf("oras discover on the destination index's arm64 image: %v, want %v", got, want[1:])
	}
	if got := ocitest.DiscoverTypes(t, oras, out+idxD.String()); len(got) != 0 {
		t.Errorf("the index has no referrers at the source, but at the destination: %v", got)
	}

	dst.Reset()
	if sum, err := Run(context.Background(), cfg, WithRetries(0)); err != nil || sum.Skipped != 2 || sum.ReferrersCopied != 0 {
		t.Fatalf("second run: %v %+v", err, sum)
	}
	if w := writes(dst); len(w) != 0 {
		t.Errorf("second run wrote to the destination: %v", w)
	}

	// Attached after the image was mirrored: the next run carries it.
	attach(t, app, descOf(t, app+"@"+idxD.String()), "vex", `{"vex":1}`)
	sum, err = Run(context.Background(), cfg, WithRetries(0))
	if err != nil || sum.ReferrersCopied != 1 {
		t.Fatalf("run after a new referrer: %v %+v", err, sum)
	}
	if got := ocitest.DiscoverTypes(t, oras, out+idxD.String()); !slices.Equal(got, []string{"application/vnd.test.vex+json"}) {
		t.Errorf("oras discover on the destination index: %v", got)
	}

	// --no-referrers: a fresh destination gets the images alone.
	bare := ocitest.StartRegistry(t)
	images = writeFile(t, dir, "bare.yaml", app+": "+bare.Host+"/ns/app\n")
	if cfg, err = LoadConfig("", images); err != nil {
		t.Fatal(err)
	}
	if sum, err := Run(context.Background(), cfg, WithRetries(0), WithReferrers(false)); err != nil || sum.Copied != 2 || sum.ReferrersCopied != 0 {
		t.Fatalf("--no-referrers: %v %+v", err, sum)
	}
	if got := ocitest.DiscoverTypes(t, oras, bare.Direct+"/ns/app@"+imgD.String()); len(got) != 0 {
		t.Errorf("--no-referrers carried %v", got)
	}
	repo, err := name.NewRepository(bare.Direct + "/ns/app")
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repo)
	slices.Sort(tags)
	if err != nil || !slices.Equal(tags, []string{"1", "multi"}) {
		t.Errorf("--no-referrers: destination tags %v (%v), want 1 and multi", tags, err)
	}
}
