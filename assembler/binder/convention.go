package binder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Settings are the Binder-only knobs of the command line.
type Settings struct {
	// UserName and UserID are the notebook user ("" and 0: repo2docker's defaults).
	UserName string
	UserID   int
	// TargetRepoDir is where the repository goes in the image (default: the user's home).
	TargetRepoDir string
	// CondaBaseEnv are the MatchSpecs of the base conda environment besides
	// python (nil: repo2docker's notebook stack, DefaultCondaBaseEnv).
	CondaBaseEnv []string
}

// DefaultSettings are repo2docker's: user jovyan, uid 1000, the repository in its home.
func DefaultSettings() Settings {
	return Settings{UserName: DefaultUserName, UserID: DefaultUserID}
}

// Validate refuses a notebook user repo2docker would refuse (root, a bad
// name). Load takes 0 and "" as unset; a value the user gave must pass this.
func (s Settings) Validate() error { return ValidateUser(s.UserName, s.UserID) }

// Input is what Load reads: the request every convention gets, and Binder's own settings.
type Input struct {
	plan.Request
	Settings
}

// Convention is a Binder (repo2docker) repository as a plan.Convention.
type Convention struct{ Settings Settings }

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention. A binder/ or .binder/ directory makes a
// Binder repository even beside a root Dockerfile (repo2docker reads only the
// directory then); without one, a root Dockerfile or Containerfile is built
// as it stands, as repo2docker's docker buildpack would, by the Dockerfile
// convention that follows this one.
func (Convention) Detect(dir string) (bool, string) {
	if !HasConfigDir(dir) {
		for _, n := range []string{"Dockerfile", "Containerfile"} {
			if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
				return false, ""
			}
		}
	}
	return Detect(dir)
}

// Fallback takes a directory no convention matched, as repo2docker's
// default buildpack (PythonBuildPack) builds a repository with no
// configuration file: the Python environment and the repository. An empty
// directory is left out (it is more likely a wrong path than a repository).
func (Convention) Fallback(dir string) (bool, string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, ""
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			return true, "repo2docker's default buildpack (no configuration file matched another convention)"
		}
	}
	return false, ""
}

// Load implements plan.Convention; what it ignores and how it differs from
// repo2docker become summary lines.
func (c Convention) Load(ctx context.Context, dir string, req plan.Request) (*plan.Plan, error) {
	p, res, err := Load(ctx, dir, Input{Request: req, Settings: c.Settings})
	if err != nil {
		return nil, err
	}
	p.Summary = append(p.Summary, fmt.Sprintf("buildpack %s (%s)", res.Buildpack, res.Reason))
	if len(res.Files) > 0 {
		p.Summary = append(p.Summary, "files read: "+strings.Join(res.Files, ", "))
	}
	for _, n := range res.Ignored {
		p.Summary = append(p.Summary, "ignored: "+n)
	}
	for _, n := range res.Notes {
		p.Summary = append(p.Summary, "note: "+n)
	}
	return p, nil
}
