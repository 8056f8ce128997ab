package attest

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/oci"
)

// Document is one file written about an image.
type Document struct {
	// Kind is "sbom" or "provenance".
	Kind string
	// Filename is its file name, "sbom.spdx.json" or "provenance.intoto.json".
	Filename  string
	MediaType string
	Content   []byte
}

// FileName is the document's file name for one image and platform, made
// of characters every file system takes:
// "registry.example-ns-app_linux-amd64.sbom.spdx.json".
func (d Document) FileName(image, platform string) string {
	return spdxIDPart(image) + "_" + spdxIDPart(platform) + "." + d.Filename
}

// Documents writes in's SBOM, in format, and its provenance.
func Documents(in Input, format string) ([]Document, error) {
	sbom, err := SBOM(in, format)
	if err != nil {
		return nil, err
	}
	prov, err := Provenance(in)
	if err != nil {
		return nil, err
	}
	sd := Document{Kind: "sbom", Filename: "sbom.spdx.json", MediaType: SPDXMediaType, Content: sbom}
	if format == FormatCycloneDX {
		sd.Filename, sd.MediaType = "sbom.cdx.json", CycloneDXMediaType
	}
	return []Document{sd, {Kind: "provenance", Filename: "provenance.intoto.json", MediaType: InTotoMediaType, Content: prov}}, nil
}

// emptyConfig is the OCI 1.1 empty descriptor's media type: an artifact
// whose meaning is in its artifactType has "{}" as config.
const emptyConfig = "application/vnd.oci.empty.v1+json"

// Referrer packs d as an OCI 1.1 artifact that refers to subject: its
// artifactType is the document's media type, its one layer the document
// (titled with its file name, so oras pull writes it under that name).
func Referrer(subject v1.Descriptor, d Document, created time.Time) (v1.Image, error) {
	ann := map[string]string{oci.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	if d.Kind == "provenance" {
		ann[annotationPredicate] = ProvenanceType
	}
	sub := v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	img, err := oci.Artifact(oci.Spec{
		ConfigMediaType: emptyConfig, ArtifactType: d.MediaType,
		Layers:      []oci.Blob{{MediaType: d.MediaType, Content: d.Content, Title: d.Filename}},
		Annotations: ann, Subject: &sub,
	})
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", d.Kind, subject.Digest, err)
	}
	return img, nil
}
