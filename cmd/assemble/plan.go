package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
)

func newPlanCmd(g *globals) *cobra.Command {
	var asJSON bool
	var platforms []string
	var base string
	var in plan.Input
	var deb assembler.Debian
	var py assembler.Python
	var file, target string
	var resolve bool
	var buildArgs, contexts []string
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show what would be built: the convention, images, layers and cache hits",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			cache, err := g.openCache()
			if err != nil {
				return err
			}
			created, err := assembler.SourceDateEpoch()
			if err != nil {
				return err
			}
			opts := []assembler.Option{assembler.WithCache(cache), assembler.WithCreated(created)}
			if len(platforms) > 0 {
				opts = append(opts, assembler.WithPlatforms(platforms...))
			}
			if base != "" {
				opts = append(opts, assembler.WithBase(base))
				in.Base = base
			}
			if err := checkBinderUser(cmd.Flags(), in); err != nil {
				return err
			}
			opts = append(opts, assembler.WithInput(in), assembler.WithDebian(deb), assembler.WithPython(py))
			args2, err := keyValues("--build-arg", buildArgs)
			if err != nil {
				return err
			}
			ctxs, err := keyValues("--build-context", contexts)
			if err != nil {
				return err
			}
			df := dfOptions{file: file, target: target, args: args2, contexts: ctxs}
			p, err := assembler.Plan(cmd.Context(), dir, opts...)
			if err != nil {
				return err
			}
			hits, err := assembler.Status(cmd.Context(), p, opts...)
			if err != nil {
				return err
			}
			var built []assembler.Built
			if resolve {
				// Debian and Python layers resolve against the image below them:
				// build (into the cache) what that needs, publish nothing.
				if built, err = assembler.Build(cmd.Context(), p, opts...); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(cmd, struct {
					*plan.Plan
					Cached map[string][]bool                  `json:"cached"`
					Layers map[string][]assembler.LayerReport `json:"layers,omitempty"`
				}{p, hits, layerReports(built)})
			}
			if err := printPlan(cmd, p, hits, df); err != nil {
				return err
			}
			printResolved(cmd, built)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().StringSliceVar(&platforms, "platform", nil, "platforms, as for build")
	cmd.Flags().StringVar(&base, "base", "", "override every image's base, as for build")
	addConventionFlags(cmd.Flags(), &in)
	addSourceFlags(cmd.Flags(), &deb, &py)
	cmd.Flags().BoolVar(&resolve, "resolve", false, "resolve Debian and Python layers (building what they need into the cache) and show the probed interpreter and the pinned set")
	cmd.Flags().StringVarP(&file, "file", "f", "", "the Dockerfile, as for build")
	cmd.Flags().StringVar(&target, "target", "", "the Dockerfile stage, as for build")
	cmd.Flags().StringArrayVar(&buildArgs, "build-arg", nil, "NAME=VALUE, as for build")
	cmd.Flags().StringArrayVar(&contexts, "build-context", nil, "NAME=SOURCE, as for build")
	return cmd
}

// dfOptions are the Dockerfile flags plan describes with.
type dfOptions struct {
	file, target   string
	args, contexts map[string]string
}

func printPlan(cmd *cobra.Command, p *plan.Plan, hits map[string][]bool, df dfOptions) error {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "convention: %s (%s)\nrepository: %s\n", p.Convention, p.Reason, p.Root)
	for _, line := range p.Summary {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, im := range p.Images {
		fmt.Fprintf(w, "\nimage %s  [%s]\n", strings.Join(assembler.RefsFor(im), ", "), im.Source)
		if im.Dockerfile != nil {
			fmt.Fprintf(w, "  dockerfile: %s (context %s)\n", im.Dockerfile.Path, im.Dockerfile.Context)
			d := *im.Dockerfile
			if df.file != "" {
				d.Path = df.file
			}
			steps, err := dockerfile.Describe(p.Root, d, dockerfile.WithBuildArgs(df.args), dockerfile.WithBuildContexts(df.contexts), dockerfile.WithTarget(df.target))
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
	return nil
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
// resolved for and the resolved set as a pinned requirements file.
func printResolved(cmd *cobra.Command, built []assembler.Built) {
	w := cmd.OutOrStdout()
	for _, b := range built {
		for _, l := range b.Layers {
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
