package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/assembler/binder"
	"github.com/assemble-build/assemble/assembler/pieces"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
)

type buildFlags struct {
	outputs     []string
	push        bool
	platforms   []string
	compression string
	base        string
	tags        []string
	imageRefs   string
	json        bool
	offline     bool
	debian      assembler.Debian
	python      assembler.Python
	input       plan.Input
	tagScheme   string
	tagZone     string
	metadataOut string
	noRun       bool
	file        string
	target      string
	buildArgs   []string
	contexts    []string
	imagesMap   string
	release     string
}

// addConventionFlags registers the flags conventions read, shared by build and plan.
func addConventionFlags(fl *pflag.FlagSet, in *plan.Input) {
	fl.StringVar(&in.Registry, "registry", "", "registry and namespace for image names (replaces e.g. ghcr.io/OWNER; devfile: the registry prefix)")
	fl.StringVar(&in.Version, "version-tag", "", "version in image tags (Domino: replaces config.toml's VERSION, e.g. development)")
	fl.StringVar(&in.SourceURL, "source-url", "", "the repository's URL for generated metadata (default: the git remote)")
	fl.BoolVar(&in.WriteMetadata, "write-metadata", false, "also write generated metadata (.domino/*.json, index.json) into the repository")
	fl.StringVar(&in.RegistryImage, "registry-image", "", "devfile: also build the registry's bootstrap image under this reference")
	fl.BoolVar(&in.CheckIcons, "check-icons", false, "devfile: check that every icon URL answers")
	fl.StringVar(&in.MetadataPython, "metadata-python", "", "Domino: a host Python (with pydantic) to read the pieces' models with, instead of each group's image")
	fl.BoolVar(&in.NoSchemas, "no-schemas", false, "Domino: leave the pieces' JSON schemas out of compiled_metadata.json")
	fl.StringVar(&in.UserName, "user-name", binder.DefaultUserName, "Binder: the notebook user's name")
	fl.IntVar(&in.UserID, "user-id", binder.DefaultUserID, "Binder: the notebook user's uid and gid (not 0)")
	fl.StringVar(&in.TargetRepoDir, "target-repo-dir", "", "Binder: where the repository goes in the image (default: the user's home)")
}

// checkBinderUser refuses a notebook user repo2docker would refuse (root,
// a bad name); the convention takes 0 as "unset".
func checkBinderUser(fl *pflag.FlagSet, in plan.Input) error {
	if fl.Changed("user-id") || fl.Changed("user-name") {
		return binder.ValidateUser(in.UserName, in.UserID)
	}
	return nil
}

// addSourceFlags registers the flags that choose where packages come from,
// shared by build and plan.
func addSourceFlags(fl *pflag.FlagSet, d *assembler.Debian, p *assembler.Python) {
	fl.StringVar(&d.Mirror, "debian-mirror", "", "Debian mirror URL (http, https or file; default http://deb.debian.org/debian or assemble.toml's)")
	fl.StringVar(&d.Keyring, "keyring", "", "OpenPGP keyring that signs the Debian archive (default: Debian's archive keyring)")
	fl.StringVar(&d.LocalDir, "debian-dir", "", "a local directory of .deb files to install from (air-gapped)")
	fl.StringVar(&p.IndexURL, "index-url", "", "Python package index (PEP 503/691) for python layers")
	fl.StringArrayVar(&p.ExtraIndex, "extra-index-url", nil, "extra Python package index (repeatable)")
	fl.StringArrayVar(&p.FindLinks, "find-links", nil, "a directory of wheels (wheelhouse) or a page of links (repeatable)")
	fl.BoolVar(&p.NoIndex, "no-index", false, "use only --find-links for Python packages")
}

func newBuildCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build the images a repository declares and write them to outputs",
		Long: `Build detects DIR's convention (default "."), builds every image it plans, and
writes the images to each output (-o, repeatable) and, with --push, to the
registry each image is named after.

Outputs:
  oci:DIR[:REF]              an OCI layout; images keep one another (ref.name annotations)
  oci-archive:FILE[:REF]     a tar of an OCI layout
  docker-archive:FILE[:REF]  a tarball for "podman load" / "docker load"
  docker://REF               a registry

assemble.toml:
  [[image]]
  name = "hello"                 # reference without tag
  tags = ["latest"]
  base = "scratch"               # or deb:bookworm, oci:DIR:TAG, oci-archive:FILE, docker-archive:FILE, docker://REF
  platforms = ["linux/amd64"]
  [image.config]
  env = { PATH = "/bin" }
  entrypoint = ["/bin/sh"]       # also: cmd, user, workdir, labels, ports, volumes, stop_signal
  [[image.layer]]
  type = "files"                 # a directory of the repository
  dir = "rootfs"
  dest = "/"
  owner = "0:0"                  # numeric UID:GID
  exclude = ["*.md"]             # also include; .dockerignore/.containerignore apply
  [[image.layer]]
  type = "deb"                   # Debian packages, resolved and unpacked without apt
  packages = ["python3"]
  apt = ["apt.txt"]              # one package a line, # comments
  [[image.layer]]
  type = "python"                # requirements installed as pip would, without pip
  requirements = ["requirements.txt"]
  find_links = ["wheels"]        # also index_url, extra_index_urls, no_index

SOURCE_DATE_EPOCH sets every timestamp (default 0).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runBuild(cmd, g, f, dir)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "where to write the images (repeatable): oci:DIR, oci-archive:FILE, docker-archive:FILE, docker://REF")
	fl.BoolVar(&f.push, "push", false, "push every image to the registry in its name")
	fl.StringSliceVar(&f.platforms, "platform", nil, "platforms to build, e.g. linux/amd64,linux/arm64 (default: the plan's, else the host's)")
	fl.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip or zstd")
	fl.StringVar(&f.base, "base", "", "override every image's base (scratch, oci:DIR:TAG, docker://REF, ...)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "override every image's tags (repeatable); a template: {version} {group} {branch} {sha} {timestamp:%Y%m%d%H%M}")
	fl.StringVar(&f.tagScheme, "tag-scheme", "", "a naming preset: labnow (namespace suffix 0<branch> off main, extra tag %Y.%m%d.%H%M-<sha>, lower-cased)")
	fl.StringVar(&f.tagZone, "tag-timezone", "UTC", "time zone of timestamps in tags (IANA name, e.g. Asia/Shanghai)")
	fl.StringVar(&f.imageRefs, "image-refs", "", "write each reference written, with its digest (REF@sha256:...), one a line, to FILE")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.BoolVar(&f.offline, "offline", false, "never use the network for inputs; fail naming what the cache lacks")
	addSourceFlags(fl, &f.debian, &f.python)
	addConventionFlags(fl, &f.input)
	fl.StringVar(&f.metadataOut, "metadata-out", "", "write the plan's generated files (metadata JSON, index.json) under DIR")
	fl.BoolVar(&f.noRun, "no-run", false, "refuse any step that would execute a command (RUN, postBuild); translated package installs still work")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile to build, relative to DIR (default Dockerfile or Containerfile)")
	fl.StringVar(&f.target, "target", "", "build this stage of the Dockerfile")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "Dockerfile build argument NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.contexts, "build-context", nil, "NAME=SOURCE: a Dockerfile FROM NAME or COPY --from=NAME takes SOURCE (oci:DIR:TAG, docker://REF, deb:bookworm, a directory) (repeatable)")
	fl.StringVar(&f.imagesMap, "pieces-images-map", "", "Domino: write PIECES_IMAGES_MAP (piece -> image) as JSON to FILE")
	fl.StringVar(&f.release, "release-archive", "", "Domino: write a reproducible VERSION.tar.gz of the repository to FILE")
	return cmd
}

func runBuild(cmd *cobra.Command, g *globals, f *buildFlags, dir string) error {
	ctx := cmd.Context()
	if len(f.outputs) == 0 && !f.push {
		return errors.New("no output: give -o oci:DIR (or another output) or --push")
	}
	comp, err := layers.ParseCompression(f.compression)
	if err != nil {
		return err
	}
	created, err := assembler.SourceDateEpoch()
	if err != nil {
		return err
	}
	pr, err := newProgress(g.progress, os.Stderr)
	if err != nil {
		return err
	}
	defer pr.Wait()
	rem := g.remote()
	sinkOpts := []sink.Option{sink.WithRemote(rem), sink.WithProgress(pr)}
	var sinks []sink.Sink
	var excludes []string
	for _, o := range f.outputs {
		s, err := g.parseSink(o, f.platforms, sinkOpts)
		if err != nil {
			return err
		}
		sinks = append(sinks, s)
		if p := localPath(o); p != "" {
			excludes = append(excludes, p)
		}
	}
	if f.push {
		sinks = append(sinks, sink.Registry(sinkOpts...))
	}
	if f.imageRefs != "" {
		excludes = append(excludes, f.imageRefs)
	}
	cache, err := g.openCache()
	if err != nil {
		return err
	}
	opts := []assembler.Option{
		assembler.WithCache(cache),
		assembler.WithCompression(comp),
		assembler.WithCreated(created),
		assembler.WithReporter(pr),
		assembler.WithOffline(f.offline),
		assembler.WithDebian(f.debian),
		assembler.WithPython(f.python),
		assembler.WithSourceOptions(source.WithRemote(rem)),
	}
	if len(f.platforms) > 0 {
		opts = append(opts, assembler.WithPlatforms(f.platforms...))
	}
	if f.base != "" {
		opts = append(opts, assembler.WithBase(f.base))
		f.input.Base = f.base
	}
	if err := checkBinderUser(cmd.Flags(), f.input); err != nil {
		return err
	}
	opts = append(opts, assembler.WithInput(f.input), assembler.WithNoRun(f.noRun), assembler.WithBuilder())
	buildArgs, err := keyValues("--build-arg", f.buildArgs)
	if err != nil {
		return err
	}
	contexts, err := keyValues("--build-context", f.contexts)
	if err != nil {
		return err
	}
	for name, src := range contexts {
		if fi, err := os.Stat(src); err == nil && fi.IsDir() && !strings.Contains(src, ":") {
			abs, _ := filepath.Abs(src)
			contexts[name] = abs
		}
	}
	opts = append(opts, assembler.WithBuildArgs(buildArgs), assembler.WithBuildContexts(contexts), assembler.WithTarget(f.target), assembler.WithDockerfile(f.file))
	for _, extra := range []string{f.imagesMap, f.release, f.metadataOut} {
		if extra != "" {
			excludes = append(excludes, extra)
		}
	}
	opts = append(opts, assembler.WithExcludePaths(excludes...))
	if g.progress != "none" {
		opts = append(opts, assembler.WithRunOutput(os.Stderr))
	}
	if len(f.tags) > 0 {
		opts = append(opts, assembler.WithTags(f.tags...))
	}
	if f.tagScheme != "" {
		loc, err := time.LoadLocation(f.tagZone)
		if err != nil {
			return fmt.Errorf("--tag-timezone %q: %w", f.tagZone, err)
		}
		opts = append(opts, assembler.WithTagScheme(f.tagScheme, loc))
	}
	p, err := assembler.Plan(ctx, dir, opts...)
	if err != nil {
		return err
	}
	pr.Step(fmt.Sprintf("convention %s: %s", p.Convention, p.Reason))
	for _, line := range p.Summary {
		pr.Step(line)
	}
	if f.metadataOut != "" {
		if err := writePlanFiles(f.metadataOut, p.Files); err != nil {
			return err
		}
	}
	if f.imagesMap != "" {
		m, ok := p.Outputs[assembler.OutputPiecesImagesMap]
		if !ok {
			return fmt.Errorf("--pieces-images-map: %s is not a Domino pieces repository", dir)
		}
		if err := writeFileAtomic(f.imagesMap, m); err != nil {
			return err
		}
	}
	built, err := assembler.Build(ctx, p, opts...)
	if err != nil {
		return err
	}
	items := assembler.Items(built)
	var results []sink.Result
	for _, s := range sinks {
		pr.Step("writing " + s.String())
		res, err := s.Write(ctx, items)
		if err != nil {
			return fmt.Errorf("writing %s: %w", s, err)
		}
		for _, r := range res {
			pr.Step(fmt.Sprintf("wrote %s@%s", r.Ref, r.Digest))
		}
		results = append(results, res...)
	}
	if f.release != "" {
		if p.Convention != pieces.Name {
			return fmt.Errorf("--release-archive: %s is not a Domino pieces repository", dir)
		}
		if err := pieces.WriteReleaseArchive(p.Root, p.Version, f.release, pieces.WithArchiveTime(created), pieces.WithArchiveFiles(p.Files...)); err != nil {
			return err
		}
	}
	if f.imageRefs != "" {
		var b strings.Builder
		for _, r := range results {
			fmt.Fprintf(&b, "%s@%s\n", r.Ref, r.Digest)
		}
		if err := writeFileAtomic(f.imageRefs, []byte(b.String())); err != nil {
			return err
		}
	}
	if f.json {
		return printJSON(cmd, buildReport(built, results))
	}
	return nil
}

type imageReport struct {
	Name   string                  `json:"name"`
	Tags   []string                `json:"tags"`
	Digest string                  `json:"digest"`
	Layers []assembler.LayerReport `json:"layers"`
}

type outputReport struct {
	Output string `json:"output"`
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

func buildReport(built []assembler.Built, results []sink.Result) any {
	var r struct {
		Images  []imageReport  `json:"images"`
		Outputs []outputReport `json:"outputs"`
	}
	for _, b := range built {
		r.Images = append(r.Images, imageReport{Name: b.Plan.Name, Tags: b.Plan.Tags, Digest: b.Digest.String(), Layers: b.Layers})
	}
	for _, res := range results {
		r.Outputs = append(r.Outputs, outputReport{Output: res.Sink, Ref: res.Ref, Digest: res.Digest.String()})
	}
	return r
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// localPath is the file or directory a local output writes, or "".
func localPath(spec string) string {
	for _, pfx := range []string{"oci:", "oci-archive:", "docker-archive:"} {
		if rest, ok := strings.CutPrefix(spec, pfx); ok {
			if i := strings.IndexByte(rest, ':'); i >= 0 {
				rest = rest[:i]
			}
			return rest
		}
	}
	return ""
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

// writePlanFiles writes a plan's generated files under dir.
func writePlanFiles(dir string, files []plan.File) error {
	for _, pf := range files {
		dst := filepath.Join(dir, filepath.FromSlash(pf.Path))
		if rel, err := filepath.Rel(dir, dst); err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("generated file %q leaves %s", pf.Path, dir)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(dst, pf.Content); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
