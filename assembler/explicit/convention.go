package explicit

import (
	"context"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Convention is assemble.toml as a plan.Convention. The file says everything:
// the request's overrides are applied by the pipeline, not here.
type Convention struct{}

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention.
func (Convention) Detect(dir string) (bool, string) { return Detect(dir) }

// Load implements plan.Convention.
func (Convention) Load(_ context.Context, dir string, _ plan.Request) (*plan.Plan, error) {
	return Load(dir)
}
