package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/assemble-build/assemble/assembler"
)

// conventionFlags are the flags conventions read, shared by build and plan.
type conventionFlags struct {
	registry, version, sourceURL string
	writeMetadata                bool
	pieces                       assembler.PiecesSettings
	binder                       assembler.BinderSettings
	devfile                      assembler.DevfileSettings
}

func (c *conventionFlags) add(fl *pflag.FlagSet) {
	user := assembler.DefaultBinderSettings()
	fl.StringVar(&c.registry, "registry", "", "registry and namespace for image names (replaces e.g. ghcr.io/OWNER; devfile: the registry prefix)")
	fl.StringVar(&c.version, "version-tag", "", "version in image tags (Domino: replaces config.toml's VERSION, e.g. development)")
	fl.StringVar(&c.sourceURL, "source-url", "", "the repository's URL for generated metadata (default: the git remote)")
	fl.BoolVar(&c.writeMetadata, "write-metadata", false, "also write generated metadata (.domino/*.json, index.json) into the repository")
	fl.StringVar(&c.devfile.RegistryImage, "registry-image", "", "devfile: also build the registry's bootstrap image under this reference")
	fl.BoolVar(&c.devfile.CheckIcons, "check-icons", false, "devfile: check that every icon URL answers")
	fl.StringVar(&c.pieces.MetadataPython, "metadata-python", "", "Domino: a host Python (with pydantic) to read the pieces' models with, instead of each group's image")
	fl.BoolVar(&c.pieces.NoSchemas, "no-schemas", false, "Domino: leave the pieces' JSON schemas out of compiled_metadata.json")
	fl.StringVar(&c.binder.UserName, "user-name", user.UserName, "Binder: the notebook user's name")
	fl.IntVar(&c.binder.UserID, "user-id", user.UserID, "Binder: the notebook user's uid and gid (not 0)")
	fl.StringVar(&c.binder.TargetRepoDir, "target-repo-dir", "", "Binder: where the repository goes in the image (default: the user's home)")
	fl.StringSliceVar(&c.binder.CondaBaseEnv, "conda-base-env", nil, "Binder: the base conda environment's packages besides python, as MatchSpecs (default: repo2docker's notebook stack)")
}

// options hands the conventions' flags to the pipeline; a notebook user
// repo2docker would refuse (root, a bad name) fails assembler.New.
func (c *conventionFlags) options() []assembler.Option {
	return []assembler.Option{
		assembler.WithRegistry(c.registry), assembler.WithVersion(c.version),
		assembler.WithSourceURL(c.sourceURL), assembler.WithWriteMetadata(c.writeMetadata),
		assembler.WithPieces(c.pieces), assembler.WithBinder(c.binder), assembler.WithDevfile(c.devfile),
	}
}

// sourceFlags choose where packages come from, shared by build and plan.
type sourceFlags struct {
	debian assembler.Debian
	python assembler.Python
	conda  assembler.Conda
}

func (s *sourceFlags) add(fl *pflag.FlagSet) {
	s.addDebian(fl)
	p := &s.python
	fl.StringVar(&p.IndexURL, "index-url", "", "Python package index (PEP 503/691) for python layers")
	fl.StringArrayVar(&p.ExtraIndex, "extra-index-url", nil, "extra Python package index (repeatable)")
	fl.StringArrayVar(&p.FindLinks, "find-links", nil, "a directory of wheels (wheelhouse) or a page of links (repeatable)")
	fl.BoolVar(&p.NoIndex, "no-index", false, "use only --find-links for Python packages")
	fl.StringVar(&s.conda.ChannelAlias, "conda-channel-alias", "", "where conda channel names point (conda's channel_alias, for a mirror; default https://conda.anaconda.org)")
}

// addDebian adds the Debian archive flags alone (copy and inspect, for deb:SUITE).
func (s *sourceFlags) addDebian(fl *pflag.FlagSet) {
	d := &s.debian
	fl.StringVar(&d.Mirror, "debian-mirror", "", "Debian mirror URL (http, https or file; default http://deb.debian.org/debian or assemble.toml's)")
	fl.StringVar(&d.Keyring, "keyring", "", "OpenPGP keyring that signs the Debian archive (default: Debian's archive keyring)")
	fl.StringVar(&d.LocalDir, "debian-dir", "", "a local directory of .deb files to install from (air-gapped)")
}

// debianSourceFlags are what a deb:SUITE source reads (copy, inspect).
type debianSourceFlags struct {
	sources sourceFlags
	offline bool
}

func (d *debianSourceFlags) add(fl *pflag.FlagSet) {
	d.sources.addDebian(fl)
	fl.BoolVar(&d.offline, "offline", false, "deb:SUITE: never use the network; fail naming what the cache lacks")
}

func (d *debianSourceFlags) options() []assembler.Option {
	return []assembler.Option{assembler.WithDebian(d.sources.debian), assembler.WithOffline(d.offline)}
}

func (s *sourceFlags) options() []assembler.Option {
	return []assembler.Option{assembler.WithDebian(s.debian), assembler.WithPython(s.python), assembler.WithConda(s.conda)}
}

// dockerfileFlags are the Dockerfile frontend's flags, shared by build and plan.
type dockerfileFlags struct {
	file, target        string
	buildArgs, contexts []string
	// secrets and ssh are build's --secret and --ssh.
	secrets, ssh []string
}

// options parses the Dockerfile flags; a --build-context that is a local
// directory is made absolute.
func (d *dockerfileFlags) options() ([]assembler.Option, error) {
	buildArgs, err := keyValues("--build-arg", d.buildArgs)
	if err != nil {
		return nil, err
	}
	contexts, err := keyValues("--build-context", d.contexts)
	if err != nil {
		return nil, err
	}
	for name, src := range contexts {
		if fi, err := os.Stat(src); err == nil && fi.IsDir() && !strings.Contains(src, ":") {
			abs, _ := filepath.Abs(src)
			contexts[name] = abs
		}
	}
	var secrets []assembler.Secret
	for _, v := range d.secrets {
		s, err := assembler.ParseSecret(v)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, s)
	}
	var agents []assembler.SSHAgent
	for _, v := range d.ssh {
		a, err := assembler.ParseSSH(v)
		if err != nil {
			return nil, err
		}
		agents = append(agents, a)
	}
	return []assembler.Option{assembler.WithBuildArgs(buildArgs), assembler.WithBuildContexts(contexts),
		assembler.WithTarget(d.target), assembler.WithDockerfile(d.file),
		assembler.WithSecrets(secrets), assembler.WithSSH(agents)}, nil
}

// keyValues parses repeated NAME=VALUE flags.
func keyValues(flag string, vals []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: use NAME=VALUE", flag, v)
		}
		m[k] = val
	}
	return m, nil
}
