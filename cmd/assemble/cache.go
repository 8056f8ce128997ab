package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/layers"
)

func newCacheCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and maintain the layer cache (--cache-dir)",
	}
	cmd.AddCommand(newCacheDuCmd(g), newCacheVerifyCmd(g), newCachePruneCmd(g))
	return cmd
}

func newCacheDuCmd(g *globals) *cobra.Command {
	var shared cacheRefFlags
	du := &cobra.Command{
		Use:   "du",
		Short: "Show how much the cache holds, namespace by namespace (or a shared cache's entries, with --cache-ref)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if shared.ref != "" {
				return shared.usage(cmd, g)
			}
			c, err := g.openCache()
			if err != nil {
				return err
			}
			u, err := c.Usage()
			if err != nil {
				return err
			}
			printUsage(cmd.OutOrStdout(), c.Dir(), u)
			return nil
		},
	}
	shared.add(du.Flags())
	return du
}

// printUsage writes one line per namespace, names aligned, then the total.
func printUsage(w io.Writer, dir string, u layers.Usage) {
	width := len("total")
	for _, n := range u.Namespaces {
		width = max(width, len(n.Name))
	}
	fmt.Fprintln(w, dir)
	for _, n := range u.Namespaces {
		fmt.Fprintf(w, "  %-*s %d (%s)\n", width+1, n.Name+":", n.Entries, assembler.HumanSize(n.Bytes))
	}
	fmt.Fprintf(w, "  %-*s %s\n", width+1, "total:", assembler.HumanSize(u.Bytes()))
}

func newCacheVerifyCmd(g *globals) *cobra.Command {
	var fix bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every cached blob and download against its digest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.openCache()
			if err != nil {
				return err
			}
			problems, err := c.Verify(fix)
			if err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Fprintf(cmd.OutOrStdout(), "bad: %s: %s\n", p.Path, p.Reason)
			}
			if len(problems) > 0 && !fix {
				return fmt.Errorf("%d bad cache entries: run `assemble cache verify --fix` to remove them (they are rebuilt when needed)", len(problems))
			}
			if len(problems) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d bad entries\n", len(problems))
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "cache ok")
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&fix, "fix", false, "remove bad entries")
	return verify
}

func newCachePruneCmd(g *globals) *cobra.Command {
	var keepDays int
	var shared cacheRefFlags
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove cache entries not used for --keep-days days",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keepDays < 0 {
				return fmt.Errorf("--keep-days %d: must be 0 or more", keepDays)
			}
			if shared.ref != "" {
				return shared.prune(cmd, g, keepDays)
			}
			c, err := g.openCache()
			if err != nil {
				return err
			}
			r, err := c.Prune(keepDays)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d entries (%s)\n", r.Removed, assembler.HumanSize(r.Bytes))
			return nil
		},
	}
	prune.Flags().IntVar(&keepDays, "keep-days", 30, "keep entries used within this many days (0 empties the cache); with --cache-ref, entries written within this many days")
	shared.add(prune.Flags())
	return prune
}
