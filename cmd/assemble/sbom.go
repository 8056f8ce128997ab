package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/oci/attest"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
)

// sbomFlags are build's SBOM and provenance settings.
type sbomFlags struct {
	on     bool
	format string
	out    string
}

func (f *sbomFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.on, "sbom", true, "attach an SBOM and a SLSA provenance statement to every image, as OCI referrers (--sbom=false: none)")
	fl.StringVar(&f.format, "sbom-format", attest.FormatSPDX, "SBOM format: spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.5 JSON)")
	fl.StringVar(&f.out, "sbom-out", "", "also write each image's SBOM and provenance as files under DIR")
}

// options turns the flags into the pipeline's option.
func (f *sbomFlags) options() ([]assembler.Option, error) {
	if !f.on {
		if f.out != "" {
			return nil, errors.New("--sbom-out writes the SBOMs that --sbom=false turns off: drop one of them")
		}
		return nil, nil
	}
	return []assembler.Option{assembler.WithSBOM(f.format)}, nil
}

// writeFiles writes the documents of built under --sbom-out, one file each:
// NAME_PLATFORM.sbom.spdx.json, NAME_PLATFORM.provenance.intoto.json.
func (f *sbomFlags) writeFiles(built []assembler.Built) error {
	if f.out == "" {
		return nil
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("--sbom-out: %w", err)
	}
	for _, b := range built {
		for _, a := range b.Attestations {
			name := a.FileName(b.Plan.Name, a.Platform)
			if err := atomicfile.WriteFile(filepath.Join(f.out, name), a.Content); err != nil {
				return fmt.Errorf("--sbom-out: %w", err)
			}
		}
	}
	return nil
}

// referrersOf returns src's referrers of the item's manifests: of the
// image, or of the index and each image it lists. A source that keeps no
// referrers (docker-archive:, deb:) has none.
func referrersOf(ctx context.Context, src source.Base, item sink.Item) ([]v1.Image, error) {
	rs, ok := src.(source.Referring)
	if !ok {
		return nil, nil
	}
	var digests []v1.Hash
	if item.Image != nil {
		d, err := item.Image.Digest()
		if err != nil {
			return nil, err
		}
		digests = append(digests, d)
	} else {
		d, err := item.Index.Digest()
		if err != nil {
			return nil, err
		}
		m, err := item.Index.IndexManifest()
		if err != nil {
			return nil, err
		}
		digests = append(digests, d)
		for _, c := range m.Manifests {
			digests = append(digests, c.Digest)
		}
	}
	var out []v1.Image
	for _, d := range digests {
		r, err := rs.Referrers(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

// printSBOM prints the SBOM attached to item's image (SPDX or CycloneDX,
// as stored), or says that it has none.
func printSBOM(ctx context.Context, w io.Writer, src source.Base, item sink.Item) error {
	refs, err := referrersOf(ctx, src, item)
	if err != nil {
		return err
	}
	for _, r := range refs {
		m, err := r.Manifest()
		if err != nil {
			return err
		}
		if m.ArtifactType != attest.SPDXMediaType && m.ArtifactType != attest.CycloneDXMediaType {
			continue
		}
		if len(m.Layers) == 0 {
			continue
		}
		l, err := r.LayerByDigest(m.Layers[0].Digest)
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(w, rc)
		return err
	}
	return fmt.Errorf("%s has no SBOM attached (build it with --sbom, the default, and write it to a layout or registry)", src)
}
