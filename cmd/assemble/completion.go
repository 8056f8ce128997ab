package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// Shell completion: cobra generates `assemble completion bash|zsh|fish`;
// these tell the scripts what image references and flag values look like.

var (
	sourceTransports = []string{"oci:", "oci-archive:", "docker-archive:", "docker://", "deb:"}
	sinkTransports   = []string{"oci:", "oci-archive:", "docker-archive:", "docker://", "containers-storage:"}
)

// completeRefs completes SRC (and DEST, for copy) with the transports; after
// a transport of a local path the shell completes files.
func completeRefs(dest bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		list := sourceTransports
		switch {
		case dest && len(args) == 1:
			list = sinkTransports
		case len(args) > 0:
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if strings.Contains(toComplete, ":") {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return list, cobra.ShellCompDirectiveNoSpace
	}
}

// completeWords completes a flag's value from a fixed list.
func completeWords(words ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
}
