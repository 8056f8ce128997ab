package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
)

// indexer is a base that can give its whole multi-platform index.
type indexer interface {
	Index(ctx context.Context) (v1.ImageIndex, error)
}

func newCopyCmd(g *globals) *cobra.Command {
	var platform string
	var rf remoteFlags
	var ma multiArchFlags
	var deb debianSourceFlags
	var noReferrers bool
	var chunks chunkFlags
	cmd := &cobra.Command{
		Use:   "copy SRC DEST",
		Short: "Copy an image between any two transports (oci:, oci-archive:, docker-archive:, docker://, deb:SUITE)",
		Long: `Copy reads SRC and writes it to DEST. From a multi-platform SRC, as skopeo
copy does, only the image for this machine's platform is copied unless --all
(--multi-arch all) copies the index and every image, or --platform picks
another one (docker-archive: needs one platform). --multi-arch index-only
writes the index alone, to a docker:// destination that holds its images.
SRC may be deb:SUITE, a minimal Debian root built from packages (for
--platform, or this machine's). A DEST that names no image (oci:DIR,
docker-archive:FILE) gets SRC's repository and tag. The image's OCI
referrers (SBOMs, provenance) come along unless --no-referrers.`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeRefs(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mode, err := ma.resolve()
			if err != nil {
				return err
			}
			if mode != multiArchSystem && platform != "" {
				return fmt.Errorf("--platform %s picks one image: drop it, or --all/--multi-arch", platform)
			}
			srcRem, err := rf.registries(g, &rf.src)
			if err != nil {
				return err
			}
			dstRem, err := rf.registries(g, &rf.dest)
			if err != nil {
				return err
			}
			pr, err := newProgress(g.progress, os.Stderr)
			if err != nil {
				return err
			}
			defer pr.Wait()
			src, err := g.parseSource(args[0], srcRem, append(deb.options(), assembler.WithReporter(pr))...)
			if err != nil {
				return err
			}
			if mode == multiArchIndexOnly {
				return copyIndexOnly(cmd, src, args[1], dstRem)
			}
			var plats []string
			if platform != "" {
				plats = []string{platform}
			}
			// A chunked upload that resumes reads the source again from its
			// offset, with the source's credentials.
			dst, err := g.parseSink(args[1], plats, []sink.Option{sink.WithRemote(dstRem), sink.WithSourceRemote(srcRem), sink.WithProgress(pr), chunks.sinkOption()})
			if err != nil {
				return err
			}
			item, err := readItem(ctx, src, platform, mode)
			if err != nil {
				return err
			}
			if !noReferrers {
				if item.Referrers, err = referrersOf(ctx, src, item); err != nil {
					return err
				}
			}
			res, err := dst.Write(ctx, []sink.Item{item})
			if err != nil {
				return writeError(dst, err)
			}
			for _, r := range res {
				fmt.Fprintln(cmd.OutOrStdout(), r.Pinned())
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&platform, "platform", "", "copy only this platform of a multi-platform image (os/arch[/variant]; default: this machine's)")
	ma.add(cmd)
	rf.addTwo(fl)
	chunks.add(fl)
	addQuiet(fl, g)
	deb.add(fl)
	fl.BoolVar(&noReferrers, "no-referrers", false, "leave SRC's referrers (SBOMs, provenance, signatures) behind")
	return cmd
}

// copyIndexOnly writes SRC's index alone to a registry that holds its
// images (skopeo copy --multi-arch index-only). A layout or archive would be
// left with an index of missing images, so only docker:// takes it.
func copyIndexOnly(cmd *cobra.Command, src source.Base, dest string, rem *remote.Registries) error {
	ctx := cmd.Context()
	r, ok := strings.CutPrefix(dest, "docker://")
	if !ok {
		return fmt.Errorf("--multi-arch index-only writes to docker:// only (%s would hold an index of missing images): use --all", dest)
	}
	ref, err := rem.Reference(r)
	if err != nil {
		return err
	}
	ix, ok := src.(indexer)
	var idx v1.ImageIndex
	if ok {
		if idx, err = ix.Index(ctx); err != nil {
			return err
		}
	}
	if idx == nil {
		return fmt.Errorf("--multi-arch index-only: %s is one image, not an index", src)
	}
	if err := rem.PutManifest(ctx, ref, idx); err != nil {
		if remote.IsManifestBlobUnknown(err) {
			return fmt.Errorf("writing %s: the registry lacks the index's images: copy them first (--all): %w", dest, err)
		}
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", ref, d)
	return nil
}

// readItem reads one platform of src (this machine's when platform is ""),
// or, with multiArchAll, src whole (its index, when it has one), named
// after its repository and tag.
func readItem(ctx context.Context, src source.Base, platform string, mode multiArch) (sink.Item, error) {
	item := sink.Item{Name: oci.LocalName("image", "")}
	if n, ok := src.(source.Named); ok {
		item.Name = n.ImageName()
	}
	if mode == multiArchAll {
		if ix, ok := src.(indexer); ok {
			idx, err := ix.Index(ctx)
			if err != nil {
				return item, err
			}
			if idx != nil {
				item.Index = idx
				return item, nil
			}
		}
	}
	p := v1.Platform{OS: "linux", Architecture: hostArch()}
	if platform != "" {
		var err error
		if p, err = oci.ParsePlatform(platform); err != nil {
			return item, err
		}
	}
	img, err := src.Image(ctx, p)
	if err != nil {
		return item, err
	}
	item.Image = img
	return item, nil
}
