package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine(bi, runtime.GOOS+"/"+runtime.GOARCH))
			return err
		},
	}
}

// versionLine describes a build from its build info, as `go version -m`
// reads it: "assemble v1.2.0 (revision 0a1b…, modified, 2026-12-06T12:00:00Z;
// go1.26.8 linux/amd64)". `go install …@v1.2.0` stamps the module version;
// `go build` in a git checkout stamps a pseudo-version and the revision.
func versionLine(bi *debug.BuildInfo, platform string) string {
	if bi == nil {
		return fmt.Sprintf("assemble (no build info; %s %s)", runtime.Version(), platform)
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)" // a test binary
	}
	var details []string
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		details = append(details, "revision "+rev)
	} else {
		details = append(details, "no VCS revision")
	}
	if settings["vcs.modified"] == "true" {
		details = append(details, "modified")
	}
	if t := settings["vcs.time"]; t != "" {
		details = append(details, t)
	}
	return fmt.Sprintf("assemble %s (%s; %s %s)", v, strings.Join(details, ", "), bi.GoVersion, platform)
}
