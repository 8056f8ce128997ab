package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/oci/sync"
)

func newSyncCmd(g *globals) *cobra.Command {
	var auth, images, legacy string
	var procs, retries int
	var noReferrers bool
	var rf remoteFlags
	var chunks chunkFlags
	var osFilter, archFilter []string
	cmd := &cobra.Command{
		Use:   "sync --auth AUTH --images IMAGES | --config CONFIG",
		Short: "Mirror images between registries, from image-syncer's configuration files",
		Long: `Sync copies images registry to registry as image-syncer does, reading its
files as they are: --auth (registry or namespace -> credentials, $ENV expanded,
insecure) and --images (source -> destination(s); no tag means all tags, a
comma list, /regex/ tags or a digest), YAML or JSON by extension, or the legacy
combined --config. Manifests, indexes and blobs stream without touching disk;
an image whose destination is already equal is skipped, as is every blob the
destination has; blobs are mounted within one registry. Each image's OCI
referrers (SBOMs, provenance, signatures) come along, read through the
referrers API or the sha256-HEX fallback tag, unless --no-referrers. Prints a
summary and exits non-zero if anything failed (the rest is still synced).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg *sync.Config
			var err error
			switch {
			case legacy != "" && (auth != "" || images != ""):
				return errors.New("give either --config or --auth/--images, not both")
			case legacy != "":
				cfg, err = sync.LoadLegacyConfig(legacy)
			case images != "":
				cfg, err = sync.LoadConfig(auth, images)
			default:
				return errors.New("no images to sync: give --images FILE (and --auth FILE), or --config FILE")
			}
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				slog.Warn(w)
			}
			opts, err := rf.syncOptions()
			if err != nil {
				return err
			}
			opts = append(opts, sync.WithProcs(procs), sync.WithRetries(retries), sync.WithOS(osFilter...), sync.WithArch(archFilter...), sync.WithReferrers(!noReferrers), sync.WithLogger(slog.Default()), chunks.syncOption())
			sum, runErr := sync.Run(cmd.Context(), cfg, opts...)
			if sum != nil {
				if _, err := sum.WriteTo(os.Stdout); err != nil {
					return err
				}
			}
			if runErr != nil {
				return fmt.Errorf("sync: %w", runErr)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&auth, "auth", "", "image-syncer auth file (YAML or JSON)")
	fl.StringVar(&images, "images", "", "image-syncer images file (YAML or JSON)")
	fl.StringVar(&legacy, "config", "", "image-syncer's legacy combined config file")
	fl.IntVar(&procs, "proc", 5, "concurrent blob copies")
	fl.IntVar(&retries, "retries", 2, "times to retry a failed image")
	rf.addSync(fl, &retries)
	chunks.add(fl)
	fl.StringSliceVar(&osFilter, "os", nil, "keep only these OSes of multi-platform images")
	fl.BoolVar(&noReferrers, "no-referrers", false, "leave the images' referrers (SBOMs, provenance, signatures) behind")
	fl.StringSliceVar(&archFilter, "arch", nil, "keep only these architectures of multi-platform images")
	return cmd
}
