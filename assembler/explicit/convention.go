package explicit

import (
	"context"
	"path"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Convention is assemble.toml as a plan.Convention. The file says
// everything: the request's overrides are applied by the pipeline, except
// the registry, which replaces the registry and namespace of every image's
// name here as it does in the other conventions' names.
type Convention struct{}

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention.
func (Convention) Detect(dir string) (bool, string) { return Detect(dir) }

// Load implements plan.Convention.
func (Convention) Load(_ context.Context, dir string, req plan.Request) (*plan.Plan, error) {
	p, err := Load(dir)
	if err != nil || req.Registry == "" {
		return p, err
	}
	for i := range p.Images {
		im := &p.Images[i]
		im.Name = strings.TrimSuffix(req.Registry, "/") + "/" + path.Base(im.Name)
	}
	return p, nil
}
