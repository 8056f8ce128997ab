package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/assemble-build/assemble/assembler"
)

func newCacheCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and maintain the layer cache (--cache-dir)",
	}
	du := &cobra.Command{
		Use:   "du",
		Short: "Show how much the cache holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.openCache()
			if err != nil {
				return err
			}
			u, err := c.Usage()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n  blobs:     %d (%s)\n  keys:      %d\n  downloads: %d (%s)\n  total:     %s\n",
				c.Dir(), u.Blobs, assembler.HumanSize(u.BlobBytes), u.Keys, u.Downloads, assembler.HumanSize(u.DownloadBytes), assembler.HumanSize(u.BlobBytes+u.DownloadBytes))
			return nil
		},
	}
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
	var keepDays int
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove cache entries not used for --keep-days days",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keepDays < 0 {
				return fmt.Errorf("--keep-days %d: must be 0 or more", keepDays)
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
	prune.Flags().IntVar(&keepDays, "keep-days", 30, "keep entries used within this many days (0 empties the cache)")
	cmd.AddCommand(du, verify, prune)
	return cmd
}
