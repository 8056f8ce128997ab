package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci/source"
)

// globals are the flags every command shares.
type globals struct {
	verbose  bool
	cacheDir string
	progress string
	insecure []string
	jobs     int
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "assemble",
		Short: "Build OCI images from a repository's conventions, with no container daemon",
		Long: `assemble reads a repository's conventions (assemble.toml), plans its images,
writes every layer itself with a content-addressed cache, and writes OCI layouts,
archives, or pushes to registries. No Docker daemon, no root.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			if g.verbose {
				// Only at -v: ggcr's request dumps cost a copy of every uploaded body.
				source.RouteGGCRLogs()
			}
		},
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logs on stderr")
	pf.StringVar(&g.cacheDir, "cache-dir", layers.DefaultCacheDir(), "layer and download cache")
	pf.StringVar(&g.progress, "progress", "auto", "progress output: auto, tty (bars), plain (one line per step) or none")
	pf.StringArrayVar(&g.insecure, "insecure-registry", nil, "registry HOST[:PORT] reached over plain HTTP or with unverified TLS (repeatable)")
	pf.IntVar(&g.jobs, "jobs", 4, "parallel blob uploads per registry")
	root.AddCommand(newBuildCmd(g), newPlanCmd(g), newCopyCmd(g), newInspectCmd(g), newCacheCmd(g), newVersionCmd())
	return root
}

// remote holds the registry settings of one run: credentials, insecure
// registries, retries and jobs, with one HTTP transport for every call.
func (g *globals) remote() *source.Remote {
	return &source.Remote{Keychain: source.DefaultKeychain(), Insecure: g.insecure, Jobs: g.jobs}
}

func (g *globals) openCache() (*layers.Cache, error) {
	return layers.OpenCache(g.cacheDir)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
