package main

import (
	"context"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
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
	var deb debianSourceFlags
	cmd := &cobra.Command{
		Use:   "copy SRC DEST",
		Short: "Copy an image between any two transports (oci:, oci-archive:, docker-archive:, docker://, deb:SUITE)",
		Long: `Copy reads SRC and writes it to DEST. A multi-platform SRC is copied whole
unless --platform picks one (docker-archive: needs one platform). SRC may be
deb:SUITE, a minimal Debian root built from packages (for --platform, or
this machine's). A DEST that names no image (oci:DIR, docker-archive:FILE)
gets SRC's repository and tag.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			pr, err := newProgress(g.progress, os.Stderr)
			if err != nil {
				return err
			}
			defer pr.Wait()
			src, rem, err := g.parseSource(args[0], append(deb.options(), assembler.WithReporter(pr))...)
			if err != nil {
				return err
			}
			var plats []string
			if platform != "" {
				plats = []string{platform}
			}
			dst, err := g.parseSink(args[1], plats, []sink.Option{sink.WithRemote(rem), sink.WithProgress(pr)})
			if err != nil {
				return err
			}
			item, err := readItem(ctx, src, platform)
			if err != nil {
				return err
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
	cmd.Flags().StringVar(&platform, "platform", "", "copy only this platform of a multi-platform image (os/arch[/variant])")
	deb.add(cmd.Flags())
	return cmd
}

// readItem reads src whole (its index, when it has one) or one platform of
// it, named after its repository and tag.
func readItem(ctx context.Context, src source.Base, platform string) (sink.Item, error) {
	item := sink.Item{Name: oci.LocalName("image", "")}
	if n, ok := src.(source.Named); ok {
		item.Name = n.ImageName()
	}
	if platform == "" {
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
