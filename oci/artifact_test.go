package oci_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
)

const devfileConfigMT = "application/vnd.devfileio.devfile.config.v2+json"

// devfileSpec is a stack version as a devfile registry pushes it.
func devfileSpec(p oci.Packing) oci.Spec {
	return oci.Spec{
		ConfigMediaType: devfileConfigMT,
		Packing:         p,
		Layers: []oci.Blob{
			{MediaType: "application/vnd.devfileio.devfile.layer.v1", Content: []byte("schemaVersion: 2.2.0\n"), Title: "devfile.yaml"},
			{MediaType: "application/x-tar", Content: []byte("not really a tar"), Title: "archive.tar"},
			{MediaType: "image/svg+xml", Content: []byte("<svg/>"), Title: "logo.svg"},
		},
	}
}

// TestArtifactMatchesORASv1 compares with the bytes oras-go v1.2.5 (the
// version the devfile index server pushes with) wrote for the same files:
// content.Memory.Add for each file, content.GenerateConfig with the devfile
// config media type, content.GenerateManifest. No mediaType in the body,
// layers sorted by digest, title annotations, config "{}".
func TestArtifactMatchesORASv1(t *testing.T) {
	const want = `{"schemaVersion":2,"config":{"mediaType":"application/vnd.devfileio.devfile.config.v2+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/x-tar","digest":"sha256:5e9a5ec87ab511bc877cf1fc7950c3caffb902cb2cfe1f682401a976907014bc","size":16,"annotations":{"org.opencontainers.image.title":"archive.tar"}},{"mediaType":"application/vnd.devfileio.devfile.layer.v1","digest":"sha256:6c6275cdcc14cce6a1cf62ec8018a28a1dd53eb2b7b3a5f90ffb8ebcb1f72607","size":21,"annotations":{"org.opencontainers.image.title":"devfile.yaml"}},{"mediaType":"image/svg+xml","digest":"sha256:d4dc56669143034f31aa309635d4113d9ad76a02b1739da22c965ed2049be9e6","size":6,"annotations":{"org.opencontainers.image.title":"logo.svg"}}]}`
	const wantDigest = "sha256:ddea54daab6aafe1ceb86dedd20bb5432a450cc7a38dafc0310fa1d20248f4c2"
	img, err := oci.Artifact(devfileSpec(oci.PackORASv1))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != want {
		t.Errorf("manifest\n got %s\nwant %s", raw, want)
	}
	d, err := img.Digest()
	if err != nil || d.String() != wantDigest {
		t.Errorf("digest = %v, %v; want %s", d, err, wantDigest)
	}
	mt, _ := img.MediaType()
	if mt != types.OCIManifestSchema1 {
		t.Errorf("media type %s, want the OCI manifest type (the Content-Type it is pushed with)", mt)
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		t.Fatal(err)
	}
	if cmt, _ := cl.MediaType(); cmt != devfileConfigMT {
		t.Errorf("config layer media type %s, want %s", cmt, devfileConfigMT)
	}
	files, err := oci.ArtifactFiles(img)
	if err != nil {
		t.Fatal(err)
	}
	if string(files["devfile.yaml"]) != "schemaVersion: 2.2.0\n" || string(files["logo.svg"]) != "<svg/>" || len(files) != 3 {
		t.Errorf("files by title: %q", files)
	}
}

func TestArtifactOCIPacking(t *testing.T) {
	s := devfileSpec(oci.PackOCI)
	s.ArtifactType = "application/vnd.example.thing"
	s.Annotations = map[string]string{"org.opencontainers.image.source": "https://example.com/r"}
	s.Layers[0].Annotations = map[string]string{"x": "y"}
	img, err := oci.Artifact(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	var m struct {
		MediaType    string `json:"mediaType"`
		ArtifactType string `json:"artifactType"`
		Layers       []struct {
			MediaType   string            `json:"mediaType"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != string(types.OCIManifestSchema1) || m.ArtifactType != s.ArtifactType {
		t.Errorf("mediaType %q artifactType %q", m.MediaType, m.ArtifactType)
	}
	var order []string
	for _, l := range m.Layers {
		order = append(order, l.Annotations[oci.AnnotationTitle])
	}
	if strings.Join(order, ",") != "devfile.yaml,archive.tar,logo.svg" {
		t.Errorf("layers in order %v, want the order given", order)
	}
	if m.Layers[0].Annotations["x"] != "y" || m.Annotations["org.opencontainers.image.source"] != "https://example.com/r" {
		t.Errorf("annotations lost: %s", raw)
	}
	if !strings.HasPrefix(string(raw), `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":`) {
		t.Errorf("field order: %s", raw)
	}
	// The caller's map is not changed by adding the title.
	if len(s.Layers[0].Annotations) != 1 {
		t.Errorf("the spec's annotations were modified: %v", s.Layers[0].Annotations)
	}

	// Same spec, same digest; a changed byte, another digest.
	again, _ := oci.Artifact(s)
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	s.Layers[1].Content = []byte("not really a tar!")
	other, _ := oci.Artifact(s)
	d3, _ := other.Digest()
	if d1 != d2 || d1 == d3 {
		t.Errorf("digests %s %s %s: want the first two equal and the third different", d1, d2, d3)
	}
}

func TestArtifactErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(*oci.Spec)
		want string
	}{
		{"no config media type", func(s *oci.Spec) { s.ConfigMediaType = "" }, "config media type"},
		{"layer without media type", func(s *oci.Spec) { s.Layers[1].MediaType = "" }, "no media type"},
		{"two layers with one title", func(s *oci.Spec) { s.Layers[1].Title = "devfile.yaml" }, "two layers are titled"},
		{"title escaping the pull directory", func(s *oci.Spec) { s.Layers[0].Title = "../devfile.yaml" }, "no .. in it"},
		{"absolute title", func(s *oci.Spec) { s.Layers[0].Title = "/etc/passwd" }, "relative"},
		{"artifactType with oras v1 packing", func(s *oci.Spec) { s.ArtifactType = "x/y" }, "no artifactType"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := devfileSpec(oci.PackORASv1)
			c.edit(&s)
			_, err := oci.Artifact(s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestArtifactPushedToRegistry pushes through the registry sink to an
// in-process registry and reads back the exact manifest bytes and blobs.
func TestArtifactPushedToRegistry(t *testing.T) {
	reg := ocitest.StartInProcess(t)
	img, err := oci.Artifact(devfileSpec(oci.PackORASv1))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Ref("devfile-catalog/go:2.0.0")
	s, err := sink.Parse("docker://"+ref, sink.WithInsecureRegistries(reg.Host))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Write(ctx, []sink.Item{{Name: ref, Image: img}}); err != nil {
		t.Fatalf("push: %v\n%s", err, reg)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.RawManifest()
	if string(desc.Manifest) != string(want) {
		t.Errorf("registry holds\n%s\nwant\n%s", desc.Manifest, want)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("registry serves it as %s", desc.MediaType)
	}
	got, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := partial.ConfigLayer(got)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cl.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := io.ReadAll(rc)
	rc.Close()
	if string(cfg) != "{}" {
		t.Errorf("config blob %q", cfg)
	}
	files, err := oci.ArtifactFiles(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(files["archive.tar"]) != "not really a tar" {
		t.Errorf("pulled files %q", files)
	}
}
