package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/assembler/plan"
)

// planFlags are plan's flags.
type planFlags struct {
	json        bool
	platforms   []string
	base        string
	resolve     bool
	matrix      bool
	sources     sourceFlags
	conventions conventionFlags
	dockerfile  dockerfileFlags
}

func newPlanCmd(g *globals) *cobra.Command {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show what would be built: the convention, images, layers and cache hits",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlan(cmd, g, f, dirArg(args))
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the plan as JSON")
	fl.StringSliceVar(&f.platforms, "platform", nil, "platforms, as for build")
	fl.StringVar(&f.base, "base", "", "override every image's base, as for build")
	f.conventions.add(fl)
	f.sources.add(fl)
	fl.BoolVar(&f.matrix, "matrix", false, "print a JSON list with one entry per image (id, name, tags, platforms, the command building just that image), for a CI job matrix")
	fl.BoolVar(&f.resolve, "resolve", false, "resolve Debian and Python layers (building what they need into the cache) and show the probed interpreter and the pinned set")
	fl.StringVarP(&f.dockerfile.file, "file", "f", "", "the Dockerfile, as for build")
	fl.StringVar(&f.dockerfile.target, "target", "", "the Dockerfile stage, as for build")
	fl.StringArrayVar(&f.dockerfile.buildArgs, "build-arg", nil, "NAME=VALUE, as for build")
	fl.StringArrayVar(&f.dockerfile.contexts, "build-context", nil, "NAME=SOURCE, as for build")
	return cmd
}

// runPlan plans dir and prints the plan with its cache hits (and, with
// --resolve, what Debian and Python layers resolve to).
func runPlan(cmd *cobra.Command, g *globals, f *planFlags, dir string) error {
	a, err := f.assembler(g)
	if err != nil {
		return err
	}
	p, err := a.Plan(cmd.Context(), dir)
	if err != nil {
		return err
	}
	if f.matrix {
		return printMatrix(cmd, f, p, dir)
	}
	hits, err := a.Status(cmd.Context(), p)
	if err != nil {
		return err
	}
	var built []assembler.Built
	if f.resolve {
		// Debian and Python layers resolve against the image below them:
		// build (into the cache) what that needs, publish nothing.
		if built, err = a.Build(cmd.Context(), p); err != nil {
			return err
		}
	}
	if f.json {
		return printJSON(cmd, struct {
			*plan.Plan
			Cached map[string][]bool                  `json:"cached"`
			Layers map[string][]assembler.LayerReport `json:"layers,omitempty"`
		}{p, hits, layerReports(built)})
	}
	printPlan(cmd, a, p, hits)
	printResolved(cmd, built)
	return nil
}

// assembler makes the pipeline plan's flags configure.
func (f *planFlags) assembler(g *globals) (*assembler.Assembler, error) {
	created, err := assembler.SourceDateEpoch()
	if err != nil {
		return nil, err
	}
	opts := []assembler.Option{assembler.WithCacheDir(g.cacheDir), assembler.WithCreated(created), assembler.WithLogger(g.logger)}
	if len(f.platforms) > 0 {
		opts = append(opts, assembler.WithPlatforms(f.platforms...))
	}
	if f.base != "" {
		opts = append(opts, assembler.WithBase(f.base))
	}
	opts = append(opts, f.conventions.options()...)
	opts = append(opts, f.sources.options()...)
	dfOpts, err := f.dockerfile.options()
	if err != nil {
		return nil, err
	}
	return assembler.New(append(opts, dfOpts...)...)
}

// printPlan prints the plan for people: the convention, each image with its
// layers (and Dockerfile steps), artifacts and generated files.
func printPlan(cmd *cobra.Command, a *assembler.Assembler, p *plan.Plan, hits map[string][]bool) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "convention: %s (%s)\nrepository: %s\n", p.Convention, p.Reason, p.Root)
	for _, line := range p.Summary {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, im := range p.Images {
		fmt.Fprintf(w, "\nimage %s  [%s]\n", strings.Join(assembler.RefsFor(im), ", "), im.Source)
		if im.Dockerfile != nil {
			fmt.Fprintf(w, "  dockerfile: %s (context %s)\n", im.Dockerfile.Path, im.Dockerfile.Context)
			steps, err := a.Describe(p, im)
			if err != nil {
				// Planning does not build: a file the build makes (say) may be missing yet.
				fmt.Fprintf(w, "    (not described: %v)\n", err)
			}
			for _, st := range steps {
				fmt.Fprintf(w, "    %s:%d  %s\n      -> %s\n", im.Dockerfile.Path, st.Line, st.Instruction, st.Becomes)
			}
		}
		fmt.Fprintf(w, "  platforms: %s\n  base: %s\n", strings.Join(im.Platforms, ", "), im.Base)
		for i, l := range im.Layers {
			state := "to build"
			if h := hits[im.Name]; i < len(h) && h[i] {
				state = "cached"
			}
			fmt.Fprintf(w, "  layer %d: %s  (%s)  [%s]\n", i+1, describe(l), state, l.Source)
		}
		c := im.Config
		if len(c.Entrypoint) > 0 || len(c.Cmd) > 0 {
			fmt.Fprintf(w, "  entrypoint: %q  cmd: %q\n", c.Entrypoint, c.Cmd)
		}
		if len(c.Env) > 0 {
			fmt.Fprintf(w, "  env: %s\n", strings.Join(c.Env, " "))
		}
	}
	for _, a := range p.Artifacts {
		fmt.Fprintf(w, "\nartifact %s:%s  [%s]\n", a.Name, strings.Join(a.Tags, ","), a.Source)
		for _, l := range a.Layers {
			fmt.Fprintf(w, "  %s  %s\n", l.Title, l.MediaType)
		}
	}
	for _, f := range p.Files {
		fmt.Fprintf(w, "\ngenerated file %s (%d bytes)\n", f.Path, len(f.Content))
	}
}

func describe(l plan.Layer) string {
	switch {
	case l.Files != nil:
		s := fmt.Sprintf("files %s -> %s (owner %d:%d)", l.Files.Dir, l.Files.Dest, l.Files.UID, l.Files.GID)
		if len(l.Files.Include) > 0 {
			s += " include " + strings.Join(l.Files.Include, ",")
		}
		if len(l.Files.Exclude) > 0 {
			s += " exclude " + strings.Join(l.Files.Exclude, ",")
		}
		return s
	case l.Deb != nil:
		var names []string
		for _, p := range l.Deb.Packages {
			names = append(names, p.Name)
		}
		return "deb " + strings.Join(names, " ")
	case l.Python != nil:
		return "python " + strings.Join(append(append([]string(nil), l.Python.Requirements...), l.Python.Packages...), " ")
	case l.Conda != nil:
		var specs []string
		for _, s := range l.Conda.Specs {
			specs = append(specs, s.Spec)
		}
		s := "conda " + l.Conda.Prefix + " " + strings.Join(specs, " ")
		if len(l.Conda.Locks) > 0 {
			s += " (explicit locks for " + strings.Join(slices.Sorted(maps.Keys(l.Conda.Locks)), ", ") + ")"
		}
		return s
	case l.Run != nil:
		return "run " + strings.Join(l.Run.Command, " ")
	case l.Generated != nil:
		var paths []string
		for _, f := range l.Generated.Files {
			paths = append(paths, f.Path)
		}
		return "generated " + strings.Join(paths, " ")
	}
	return l.Kind
}

func layerReports(built []assembler.Built) map[string][]assembler.LayerReport {
	if len(built) == 0 {
		return nil
	}
	m := map[string][]assembler.LayerReport{}
	for _, b := range built {
		m[b.Plan.Name] = b.Layers
	}
	return m
}

// printResolved shows, for each python layer, the interpreter it was
// resolved for and the resolved set as a pinned requirements file; for each
// conda layer, its solution as an explicit lock.
func printResolved(cmd *cobra.Command, built []assembler.Built) {
	w := cmd.OutOrStdout()
	for _, b := range built {
		for _, l := range b.Layers {
			if c := l.Conda; c != nil {
				printCondaResolved(w, b.Plan.Name, l, c)
			}
			if l.Python == nil {
				continue
			}
			py := l.Python
			fmt.Fprintf(w, "\n%s [%s] %s\n  interpreter %s (Python %s, %s, glibc %s)\n  installs into %s\n  resolved (pin with this requirements file):\n",
				b.Plan.Name, l.Platform, l.Description, py.Interpreter, py.Version, py.Arch, py.Glibc, py.Purelib)
			for _, line := range strings.Split(strings.TrimRight(py.Pins, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
}

// printCondaResolved shows a conda layer's solution as an explicit lock
// (conda's `@EXPLICIT` format, each URL with its sha256), or the lock file
// it installed.
func printCondaResolved(w io.Writer, name string, l assembler.LayerReport, c *assembler.CondaReport) {
	glibc := ""
	if c.Glibc != "" {
		glibc = ", glibc " + c.Glibc
	}
	fmt.Fprintf(w, "\n%s [%s] %s\n  conda environment %s (%s%s): %d packages\n", name, l.Platform, l.Description, c.Prefix, c.Subdir, glibc, c.Packages)
	if c.LockFile != "" {
		fmt.Fprintf(w, "  installed as it is from %s\n", c.LockFile)
		return
	}
	fmt.Fprintf(w, "  resolved (save as conda-%s.lock to install exactly this):\n", c.Subdir)
	for _, line := range strings.Split(strings.TrimRight(c.Lock, "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
}
