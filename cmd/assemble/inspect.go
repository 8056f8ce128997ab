package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/oci/sink"
)

func hostArch() string { return runtime.GOARCH }

type inspectLayer struct {
	MediaType types.MediaType `json:"mediaType"`
	Digest    v1.Hash         `json:"digest"`
	DiffID    v1.Hash         `json:"diffID"`
	Size      int64           `json:"size"`
}

type inspectImage struct {
	Platform    string            `json:"platform"`
	Digest      v1.Hash           `json:"digest"`
	MediaType   types.MediaType   `json:"mediaType"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Config      v1.Config         `json:"config"`
	Created     string            `json:"created"`
	Layers      []inspectLayer    `json:"layers"`
}

type inspectReport struct {
	Reference   string            `json:"reference"`
	Digest      v1.Hash           `json:"digest"`
	MediaType   types.MediaType   `json:"mediaType"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Images      []inspectImage    `json:"images"`
}

func newInspectCmd(g *globals) *cobra.Command {
	var rf remoteFlags
	var deb debianSourceFlags
	var raw, config, sbom bool
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Print an image's manifest digest, platforms, config and layers as JSON",
		Long: `Inspect reads REF (oci:, oci-archive:, docker-archive:, docker://, or
deb:SUITE, built for this machine's platform) and prints its digest, media
type, and each image's platform, config and layers as JSON. As skopeo
inspect does, --raw prints the manifest (or index) bytes as stored, --config
the image config (this machine's platform's, from an index) indented, and
--config --raw the config blob as stored. --sbom prints the SBOM that
assemble build attached to the image (an OCI referrer), as stored.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRefs(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rem, err := rf.registries(g, &rf.src)
			if err != nil {
				return err
			}
			src, err := g.parseSource(args[0], rem, deb.options()...)
			if err != nil {
				return err
			}
			mode := multiArchAll
			if config || sbom {
				mode = multiArchSystem
			}
			item, err := readItem(ctx, src, "", mode)
			if err != nil {
				return err
			}
			if sbom {
				return printSBOM(ctx, cmd.OutOrStdout(), src, item)
			}
			if raw || config {
				return printRaw(cmd.OutOrStdout(), item, config, raw)
			}
			r := inspectReport{Reference: args[0]}
			var imgs []v1.Image
			if item.Index != nil {
				if r.Digest, err = item.Index.Digest(); err != nil {
					return err
				}
				im, err := item.Index.IndexManifest()
				if err != nil {
					return err
				}
				r.MediaType, r.Annotations = im.MediaType, im.Annotations
				for _, d := range im.Manifests {
					img, err := item.Index.Image(d.Digest)
					if err != nil {
						return err
					}
					imgs = append(imgs, img)
				}
			} else {
				if r.Digest, err = item.Image.Digest(); err != nil {
					return err
				}
				if r.MediaType, err = item.Image.MediaType(); err != nil {
					return err
				}
				imgs = append(imgs, item.Image)
			}
			for _, img := range imgs {
				ii, err := describeImage(img)
				if err != nil {
					return err
				}
				r.Images = append(r.Images, ii)
			}
			if item.Index == nil && len(r.Images) == 1 {
				r.Annotations = r.Images[0].Annotations
			}
			return printJSON(cmd, r)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&raw, "raw", false, "print the manifest or index bytes as stored (with --config: the config blob as stored)")
	fl.BoolVar(&config, "config", false, "print the image config (from an index: this machine's platform's)")
	fl.BoolVar(&sbom, "sbom", false, "print the SBOM attached to the image (from an index: this machine's platform's) as stored")
	rf.addOne(fl)
	deb.add(fl)
	return cmd
}

// printRaw writes what inspect --raw and --config ask for.
func printRaw(w io.Writer, item sink.Item, config, raw bool) error {
	var b []byte
	var err error
	switch {
	case config:
		if b, err = item.Image.RawConfigFile(); err != nil {
			return fmt.Errorf("reading the config: %w", err)
		}
	case item.Index != nil:
		b, err = item.Index.RawManifest()
	default:
		b, err = item.Image.RawManifest()
	}
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	if config && !raw {
		var buf bytes.Buffer
		if err := json.Indent(&buf, b, "", "    "); err != nil {
			return fmt.Errorf("the config is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		b = buf.Bytes()
	}
	_, err = w.Write(b)
	return err
}

func describeImage(img v1.Image) (inspectImage, error) {
	var ii inspectImage
	var err error
	if ii.Digest, err = img.Digest(); err != nil {
		return ii, err
	}
	m, err := img.Manifest()
	if err != nil {
		return ii, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return ii, err
	}
	ii.MediaType, ii.Annotations, ii.Config = m.MediaType, m.Annotations, cf.Config
	ii.Created = cf.Created.UTC().Format("2006-01-02T15:04:05Z")
	ii.Platform = cf.Platform().String()
	for i, l := range m.Layers {
		il := inspectLayer{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}
		if i < len(cf.RootFS.DiffIDs) {
			il.DiffID = cf.RootFS.DiffIDs[i]
		}
		ii.Layers = append(ii.Layers, il)
	}
	return ii, nil
}
