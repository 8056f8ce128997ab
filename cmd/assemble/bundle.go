package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/bundle"
	"github.com/assemble-build/assemble/oci/source"
)

func newBundleCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	var out string
	cmd := &cobra.Command{
		Use:   "bundle [DIR] -o FILE",
		Short: "Write every input a build takes from the network into one file, for a build with no network",
		Long: `Bundle builds DIR's images as build does (online, or from the cache) and writes
every input the build took from outside the repository to FILE, an OCI layout
in a tar: Debian InRelease files, Packages indexes and .deb files, wheels and
Python index pages, ADD URLs, each under the URLs it came from, the
wheelhouse (--find-links DIR) and .deb (--debian-dir DIR) directories' listings
and the files used from them, and every
registry base (docker://REF, FROM): the manifest or index as the registry
served it, the config and layers of the images used, and which digest the
reference resolved to.

On a machine with no network:
  assemble build DIR --bundle FILE --offline -o oci:OUT
reads FILE (verifying every entry; a changed byte is refused, naming it) into
the cache and builds the same images, checking signatures and hashes as online;
registry bases keep their names, so annotations and digests do not change.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBundle(cmd, g, f, dirArg(args), out)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&out, "output", "o", "", "the bundle file to write")
	fl.StringSliceVar(&f.platforms, "platform", nil, "platforms to build, e.g. linux/amd64,linux/arm64 (default: the plan's, else the host's)")
	fl.StringVar(&f.base, "base", "", "override every image's base (scratch, oci:DIR:TAG, ...)")
	fl.BoolVar(&f.offline, "offline", false, "take the inputs from the cache only (it must hold them all)")
	f.sources.add(fl)
	f.conventions.add(fl)
	fl.BoolVar(&f.noRun, "no-run", false, "refuse any step that would execute a command (RUN, postBuild)")
	fl.StringVarP(&f.dockerfile.file, "file", "f", "", "the Dockerfile to build, relative to DIR")
	fl.StringVar(&f.dockerfile.target, "target", "", "build this stage of the Dockerfile")
	fl.StringArrayVar(&f.dockerfile.buildArgs, "build-arg", nil, "Dockerfile build argument NAME=VALUE (repeatable)")
	f.remote.addOne(fl)
	addQuiet(fl, g)
	return cmd
}

// runBundle builds dir into a scratch layout with the cache recording its
// inputs, then writes what it recorded to out.
func runBundle(cmd *cobra.Command, g *globals, f *buildFlags, dir, out string) error {
	if out == "" {
		return errors.New("no bundle file: give -o FILE")
	}
	cache, err := layers.OpenCache(g.cacheDir)
	if err != nil {
		return err
	}
	log := cache.LogInputs()
	f.cache = cache
	scratch, err := os.MkdirTemp("", "assemble-bundle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	f.outputs = []string{"oci:" + scratch}
	if err := runBuild(cmd, g, f, dir); err != nil {
		return err
	}
	st, err := bundle.Write(cache, log, out)
	if err != nil {
		return err
	}
	g.logger.Info("bundle written", "file", out, "inputs", st.Blobs, "names", st.Names, "bytes", st.Bytes)
	return nil
}

// importBundle reads --bundle into the cache the build uses.
func (f *buildFlags) importBundle(ctx context.Context, g *globals) error {
	if f.bundle == "" {
		return nil
	}
	cache, err := layers.OpenCache(g.cacheDir)
	if err != nil {
		return err
	}
	st, err := bundle.Import(ctx, f.bundle, cache)
	if err != nil {
		return err
	}
	f.cache = cache
	g.logger.Info("bundle read", "file", f.bundle, "inputs", st.Blobs, "names", st.Names, "bytes", st.Bytes)
	return nil
}

func (f *buildFlags) cacheOptions() []assembler.Option {
	if f.cache == nil {
		return nil
	}
	// The registry bases go through the download store too: recorded
	// online (so a bundle carries them), read from it offline.
	return []assembler.Option{assembler.WithCache(f.cache),
		assembler.WithSourceOptions(source.WithStore(f.cache, f.offline))}
}
