package devfile

import (
	"context"
	"path/filepath"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Settings are the devfile-only knobs of the command line.
type Settings struct {
	// RegistryImage also builds the registry's bootstrap image under this reference.
	RegistryImage string
	// CheckIcons checks that every icon URL answers.
	CheckIcons bool
	// WorkDir is where the registry image's files are generated
	// (default: .assemble/devfile-registry in the repository).
	WorkDir string
}

// Convention is a devfile registry as a plan.Convention.
type Convention struct{ Settings Settings }

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention.
func (Convention) Detect(dir string) (bool, string) { return Detect(dir) }

// Load implements plan.Convention: the stacks become the plan's artifacts.
func (c Convention) Load(ctx context.Context, dir string, req plan.Request) (*plan.Plan, error) {
	s := c.Settings
	opts := []Option{WithContext(ctx), WithCheckIcons(s.CheckIcons)}
	if req.Registry != "" {
		opts = append(opts, WithRegistry(req.Registry))
	}
	if s.RegistryImage != "" {
		opts = append(opts, WithRegistryImage(s.RegistryImage))
		out := s.WorkDir
		if out == "" {
			out = filepath.Join(dir, ".assemble", "devfile-registry")
		}
		opts = append(opts, WithOutputDir(out))
		if req.Base != "" {
			opts = append(opts, WithRegistryImageBase(req.Base))
		}
	}
	p, artifacts, err := Load(dir, opts...)
	if err != nil {
		return nil, err
	}
	p.Artifacts = append(p.Artifacts, artifacts...)
	return p, nil
}
