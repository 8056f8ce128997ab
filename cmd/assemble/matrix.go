package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/assembler/plan"
)

// matrixEntry is one image of `assemble plan --matrix`: one CI job.
type matrixEntry struct {
	// ID names the job: the image's last path element (and tag, for
	// images sharing a name).
	ID string `json:"id"`
	// Name is the image's full name; Image what --image takes.
	Name      string   `json:"name"`
	Image     string   `json:"image"`
	Tags      []string `json:"tags"`
	Platforms []string `json:"platforms"`
	// Command builds just this image; the job adds its outputs
	// (--push, -o) and shared cache (--cache-from, --cache-to).
	Command string `json:"command"`
}

// printMatrix prints one entry per image, a JSON list ready for GitHub
// Actions' strategy.matrix.include or a GitLab child pipeline.
func printMatrix(cmd *cobra.Command, f *planFlags, p *plan.Plan, dir string) error {
	out := []matrixEntry{}
	for _, im := range p.Images {
		platforms := im.Platforms
		if len(f.platforms) > 0 {
			platforms = f.platforms
		}
		if len(platforms) == 0 {
			platforms = []string{assembler.HostPlatform()}
		}
		sel := imageSelector(p, im)
		args := []string{"assemble", "build", "--image", sel}
		if len(f.platforms) > 0 {
			args = append(args, "--platform", strings.Join(f.platforms, ","))
		}
		if f.base != "" {
			args = append(args, "--base", f.base)
		}
		args = append(args, dir)
		out = append(out, matrixEntry{ID: strings.ReplaceAll(shortName(sel), ":", "-"), Name: im.Name, Image: sel, Tags: im.Tags, Platforms: platforms, Command: shellJoin(args)})
	}
	return printJSON(cmd, out)
}

// shellJoin joins args as a POSIX shell reads them back: plain words as
// they are, anything else in single quotes.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@,=+-") == "" {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
