package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/internal/remote"
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
	sources     sourceFlags
	conventions conventionFlags
	dockerfile  dockerfileFlags
	tagScheme   string
	tagZone     string
	metadataOut string
	noRun       bool
	imagesMap   string
	release     string
	remote      remoteFlags
	chunks      chunkFlags
	shared      sharedCacheFlags
	sbom        sbomFlags
	bundle      string        // --bundle FILE: inputs to read into the cache first
	cache       *layers.Cache // the cache opened for --bundle or by `assemble bundle`
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
			return runBuild(cmd, g, f, dirArg(args))
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "where to write the images (repeatable): oci:DIR, oci-archive:FILE, docker-archive:FILE, docker://REF")
	fl.BoolVar(&f.push, "push", false, "push every image to the registry in its name")
	fl.StringSliceVar(&f.platforms, "platform", nil, "platforms to build, e.g. linux/amd64,linux/arm64 (default: the plan's, else the host's)")
	fl.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip or zstd")
	fl.StringVar(&f.base, "base", "", "override every image's base (scratch, oci:DIR:TAG, docker://REF, ...)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "override the tags (repeatable): a full reference as docker build -t takes it (registry.example:5000/ns/app:1.0, one image), or a tag template: {version} {group} {branch} {sha} {timestamp:%Y%m%d%H%M}")
	fl.StringVar(&f.tagScheme, "tag-scheme", "", "a naming preset: labnow (namespace suffix 0<branch> off main, extra tag %Y.%m%d.%H%M-<sha>, lower-cased)")
	fl.StringVar(&f.tagZone, "tag-timezone", "UTC", "time zone of timestamps in tags (IANA name, e.g. Asia/Shanghai)")
	fl.StringVar(&f.imageRefs, "image-refs", "", "write each reference written, with its digest, one a line, to FILE: oci:DIR:REF@sha256:... for files, REF@sha256:... for a registry")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.BoolVar(&f.offline, "offline", false, "never use the network for inputs; fail naming what the cache lacks")
	fl.StringVar(&f.bundle, "bundle", "", "read the inputs in FILE (written by assemble bundle) into the cache first, verifying each; with --offline, build with no network")
	f.sources.add(fl)
	f.conventions.add(fl)
	fl.StringVar(&f.metadataOut, "metadata-out", "", "write the plan's generated files (metadata JSON, index.json) under DIR")
	fl.BoolVar(&f.noRun, "no-run", false, "refuse any step that would execute a command (RUN, postBuild); translated package installs still work")
	fl.StringVarP(&f.dockerfile.file, "file", "f", "", "the Dockerfile to build, relative to DIR (default Dockerfile or Containerfile)")
	fl.StringVar(&f.dockerfile.target, "target", "", "build this stage of the Dockerfile")
	fl.StringArrayVar(&f.dockerfile.buildArgs, "build-arg", nil, "Dockerfile build argument NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.dockerfile.contexts, "build-context", nil, "NAME=SOURCE: a Dockerfile FROM NAME or COPY --from=NAME takes SOURCE (oci:DIR:TAG, docker://REF, deb:bookworm, a directory) (repeatable)")
	fl.StringArrayVar(&f.dockerfile.secrets, "secret", nil, "id=ID,src=FILE or id=ID,env=VARIABLE: a secret for Dockerfile RUN --mount=type=secret, never stored in the image or the cache (repeatable)")
	fl.StringArrayVar(&f.dockerfile.ssh, "ssh", nil, "ID or ID=SOCKET: forward an SSH agent (default: the one SSH_AUTH_SOCK names) to Dockerfile RUN --mount=type=ssh; --ssh default (repeatable)")
	fl.StringVar(&f.imagesMap, "pieces-images-map", "", "Domino: write PIECES_IMAGES_MAP (piece -> image) as JSON to FILE")
	fl.StringVar(&f.release, "release-archive", "", "Domino: write a reproducible VERSION.tar.gz of the repository to FILE")
	f.remote.addOne(fl)
	f.chunks.add(fl)
	f.shared.add(fl)
	f.sbom.add(fl)
	addQuiet(fl, g)
	return cmd
}

// runBuild plans dir, builds its images and writes them to every output.
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
	if err := f.importBundle(ctx, g); err != nil {
		return err
	}
	// Before the bars start: --creds USER asks for the password here.
	rem, err := f.remote.registries(g, &f.remote.src)
	if err != nil {
		return err
	}
	pr, err := newProgress(g.progress, os.Stderr)
	if err != nil {
		return err
	}
	defer pr.Wait()
	sinks, err := f.openSinks(g, rem, pr)
	if err != nil {
		return err
	}
	opts, err := f.options(g, rem, pr)
	if err != nil {
		return err
	}
	shared, sharedOpts, err := f.shared.open(rem, f.chunks.cacheOption())
	if err != nil {
		return err
	}
	a, err := assembler.New(append(append(opts, sharedOpts...), assembler.WithCompression(comp), assembler.WithCreated(created))...)
	if err != nil {
		return err
	}
	p, err := a.Plan(ctx, dir)
	if err != nil {
		return err
	}
	if err := f.shared.pickImage(p); err != nil {
		return err
	}
	f.mountInto(shared, p)
	if err := f.checkPush(p); err != nil {
		return err
	}
	if err := f.writePlanOutputs(pr, p, dir); err != nil {
		return err
	}
	built, err := a.Build(ctx, p)
	if err != nil {
		return err
	}
	if err := f.sbom.writeFiles(built); err != nil {
		return err
	}
	results, err := publish(ctx, pr, sinks, assembler.Items(built))
	if err != nil {
		return err
	}
	if err := flushShared(ctx, pr, shared, results); err != nil {
		return err
	}
	if err := f.writeRunOutputs(a, p, dir, results); err != nil {
		return err
	}
	if f.json {
		report, err := withSharedStats(buildReport(built, results), shared)
		if err != nil {
			return err
		}
		return printJSON(cmd, report)
	}
	return nil
}

// openSinks parses the outputs (-o, --push).
func (f *buildFlags) openSinks(g *globals, rem *remote.Registries, pr *progress) ([]sink.Sink, error) {
	sinkOpts := []sink.Option{sink.WithRemote(rem), sink.WithProgress(pr), f.chunks.sinkOption()}
	var sinks []sink.Sink
	for _, o := range f.outputs {
		s, err := g.parseSink(o, f.platforms, sinkOpts)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if f.push {
		sinks = append(sinks, sink.Registry(sinkOpts...))
	}
	return sinks, nil
}

// checkPush refuses --push, before anything is built, for an image whose
// name says no registry (it would go to Docker Hub).
func (f *buildFlags) checkPush(p *plan.Plan) error {
	if !f.push {
		return nil
	}
	names := make([]string, 0, len(p.Images)+len(p.Artifacts))
	for _, im := range p.Images {
		names = append(names, im.Name)
	}
	for _, a := range p.Artifacts {
		names = append(names, a.Name)
	}
	for _, n := range names {
		if err := sink.CheckPushName(n); err != nil {
			return fmt.Errorf("--push: %w; or give it one with --registry REGISTRY/NAMESPACE or -t REGISTRY/NAMESPACE/NAME:TAG", err)
		}
	}
	return nil
}

// excludes are the files this run writes, kept out of the repository's
// files layers when they land inside it.
func (f *buildFlags) excludes() []string {
	var out []string
	for _, o := range f.outputs {
		if p := localPath(o); p != "" {
			out = append(out, p)
		}
	}
	for _, extra := range []string{f.imageRefs, f.imagesMap, f.release, f.metadataOut} {
		if extra != "" {
			out = append(out, extra)
		}
	}
	return out
}

// options turns the build's flags into the pipeline's options.
func (f *buildFlags) options(g *globals, rem *remote.Registries, pr *progress) ([]assembler.Option, error) {
	opts := []assembler.Option{
		assembler.WithCacheDir(g.cacheDir),
		assembler.WithLogger(g.logger),
		assembler.WithReporter(pr),
		assembler.WithOffline(f.offline),
		assembler.WithSourceOptions(source.WithRemote(rem)),
		assembler.WithNoRun(f.noRun),
		assembler.WithBuilder(),
		assembler.WithExcludePaths(f.excludes()...),
	}
	opts = append(opts, f.sources.options()...)
	opts = append(opts, f.conventions.options()...)
	opts = append(opts, f.cacheOptions()...)
	if len(f.platforms) > 0 {
		opts = append(opts, assembler.WithPlatforms(f.platforms...))
	}
	if f.base != "" {
		opts = append(opts, assembler.WithBase(f.base))
	}
	dfOpts, err := f.dockerfile.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, dfOpts...)
	sbomOpts, err := f.sbom.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, sbomOpts...)
	if g.progress != "none" {
		opts = append(opts, assembler.WithRunOutput(os.Stderr))
	}
	if len(f.tags) > 0 {
		opts = append(opts, assembler.WithTags(f.tags...))
	}
	if f.tagScheme != "" {
		loc, err := time.LoadLocation(f.tagZone)
		if err != nil {
			return nil, fmt.Errorf("--tag-timezone %q: %w", f.tagZone, err)
		}
		opts = append(opts, assembler.WithTagScheme(f.tagScheme, loc))
	}
	return opts, nil
}

// writePlanOutputs reports what the plan found and writes the generated
// files and documents the flags ask for, before anything is built.
func (f *buildFlags) writePlanOutputs(pr *progress, p *plan.Plan, dir string) error {
	pr.Step(fmt.Sprintf("convention %s: %s", p.Convention, p.Reason))
	for _, line := range p.Summary {
		pr.Step(line)
	}
	if f.metadataOut != "" {
		if _, err := plan.WriteFiles(f.metadataOut, p.Files); err != nil {
			return err
		}
	}
	if f.imagesMap != "" {
		m, ok := p.Outputs[assembler.OutputPiecesImagesMap]
		if !ok {
			return fmt.Errorf("--pieces-images-map: %s is not a Domino pieces repository", dir)
		}
		if err := atomicfile.WriteFile(f.imagesMap, m); err != nil {
			return err
		}
	}
	return nil
}

// publish writes the built images to every sink, in order.
func publish(ctx context.Context, pr *progress, sinks []sink.Sink, items []sink.Item) ([]sink.Result, error) {
	var results []sink.Result
	for _, s := range sinks {
		pr.Step("writing " + s.String())
		res, err := s.Write(ctx, items)
		if err != nil {
			return nil, writeError(s, err)
		}
		for _, r := range res {
			pr.Step(fmt.Sprintf("wrote %s@%s", r.Ref, r.Digest))
		}
		results = append(results, res...)
	}
	return results, nil
}

// writeRunOutputs writes what the flags ask for once the images are out:
// the release archive and the list of references written.
func (f *buildFlags) writeRunOutputs(a *assembler.Assembler, p *plan.Plan, dir string, results []sink.Result) error {
	if f.release != "" {
		err := a.WriteReleaseArchive(p, f.release)
		if errors.Is(err, assembler.ErrNoReleaseArchive) {
			return fmt.Errorf("--release-archive: %s is not a Domino pieces repository", dir)
		}
		if err != nil {
			return err
		}
	}
	if f.imageRefs != "" {
		// Each line a reference a next step reads as it is, once.
		var b strings.Builder
		seen := map[string]bool{}
		for _, r := range results {
			if p := r.Pinned(); !seen[p] {
				seen[p] = true
				b.WriteString(p + "\n")
			}
		}
		if err := atomicfile.WriteFile(f.imageRefs, []byte(b.String())); err != nil {
			return err
		}
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
