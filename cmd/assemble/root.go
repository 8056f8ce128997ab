package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/logs"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/deb"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/cstorage"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
)

// globals are the flags every command shares.
type globals struct {
	verbose  bool
	cacheDir string
	progress string
	insecure []string
	jobs     int
	storage  storageFlags
	// logger is the run's logger, set before any command runs: the pipeline
	// gets it as an option, libraries from the command's context.
	logger *slog.Logger
}

// storageFlags choose podman's store for containers-storage: outputs.
type storageFlags struct {
	root, runRoot, driver string
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
			g.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			// Still the default, for libraries that log without a context.
			slog.SetDefault(g.logger)
			cmd.SetContext(logctx.With(cmd.Context(), g.logger))
			if g.verbose {
				// Only at -v: ggcr's request dumps cost a copy of every uploaded body.
				logs.Warn, logs.Progress, logs.Debug = remote.GGCRLoggers(g.logger)
			}
		},
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logs on stderr")
	pf.StringVar(&g.cacheDir, "cache-dir", layers.DefaultCacheDir(), "layer and download cache")
	pf.StringVar(&g.progress, "progress", "auto", "progress output: auto, tty (bars), plain (one line per step) or none")
	pf.StringArrayVar(&g.insecure, "insecure-registry", nil, "registry HOST[:PORT] reached over plain HTTP or with unverified TLS (repeatable)")
	pf.IntVar(&g.jobs, "jobs", 4, "parallel blob uploads per registry")
	pf.StringVar(&g.storage.root, "storage-root", "", "containers-storage: outputs: the store's root (default: podman's, from storage.conf)")
	pf.StringVar(&g.storage.runRoot, "storage-runroot", "", "containers-storage: outputs: the store's run root")
	pf.StringVar(&g.storage.driver, "storage-driver", "", "containers-storage: outputs: the storage driver (overlay, vfs)")
	root.AddCommand(newBuildCmd(g), newBundleCmd(g), newPlanCmd(g), newCopyCmd(g), newInspectCmd(g), newSyncCmd(g), newCacheCmd(g), newVersionCmd(),
		newLoginCmd(g), newLogoutCmd())
	return root
}

// remote holds the registry settings of one run: credentials, insecure
// registries, retries and jobs, with one HTTP transport for every call.
func (g *globals) remote() *remote.Registries {
	return &remote.Registries{Keychain: remote.DefaultKeychain(), Insecure: g.insecure, Jobs: g.jobs}
}

// parseSource opens a source reference (oci:, docker://, deb:SUITE, ...)
// with the registry settings rem (see remoteFlags.registries) and the
// global cache; opts are the command's own (Debian archive, progress).
func (g *globals) parseSource(ref string, rem *remote.Registries, opts ...assembler.Option) (source.Base, error) {
	all := append([]assembler.Option{assembler.WithCacheDir(g.cacheDir), assembler.WithLogger(g.logger),
		assembler.WithSourceOptions(source.WithRemote(rem))}, opts...)
	return assembler.Source(ref, all...)
}

// dirArg is a command's optional DIR argument, "." when it is not given.
func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "."
}

func (g *globals) openCache() (*layers.Cache, error) {
	c, err := layers.OpenCache(g.cacheDir)
	if err != nil {
		return nil, err
	}
	// Registered here for `cache verify`, which checks its entries.
	deb.ExpandedNamespace(c)
	return c, nil
}

// parseSink parses an output; containers-storage: goes to podman's store
// (entering a user namespace first when not root, as podman does).
func (g *globals) parseSink(spec string, platforms []string, opts []sink.Option) (sink.Sink, error) {
	if !strings.HasPrefix(spec, "containers-storage:") {
		return sink.Parse(spec, opts...)
	}
	var plat *v1.Platform
	if len(platforms) == 1 {
		p, err := oci.ParsePlatform(platforms[0])
		if err != nil {
			return nil, err
		}
		plat = &p
	}
	if os.Geteuid() != 0 {
		cstorage.EnterUserNamespace()
	}
	var copts []cstorage.Option
	if g.storage.root != "" {
		copts = append(copts, cstorage.WithRoot(g.storage.root))
	}
	if g.storage.runRoot != "" {
		copts = append(copts, cstorage.WithRunRoot(g.storage.runRoot))
	}
	if g.storage.driver != "" {
		copts = append(copts, cstorage.WithDriver(g.storage.driver))
	}
	return cstorage.NewSink(spec, plat, copts...)
}
