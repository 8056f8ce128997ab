package pieces

import (
	"context"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
)

// OutputImagesMap names Domino's PIECES_IMAGES_MAP in Plan.Outputs.
const OutputImagesMap = "pieces-images-map"

// Settings are the Domino-only knobs of the command line.
type Settings struct {
	// MetadataPython is a host interpreter (with pydantic) for schema extraction.
	MetadataPython string
	// NoSchemas leaves the pieces' JSON schemas out of compiled_metadata.json.
	NoSchemas bool
}

// Input is what Load reads: the request every convention gets, and Domino's own settings.
type Input struct {
	plan.Request
	Settings
	// Cache keeps schema extractions between runs (nil: none).
	Cache Cache
}

// Convention is a Domino pieces repository as a plan.Convention.
type Convention struct {
	Settings Settings
	// Cache keeps schema extractions between runs (the pipeline gives its
	// cache's CacheNamespace); nil runs Python every time.
	Cache Cache
}

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention.
func (Convention) Detect(dir string) (bool, string) { return Detect(dir) }

// Load implements plan.Convention: the plan carries the version, the groups
// as summary lines and PIECES_IMAGES_MAP under OutputImagesMap.
func (c Convention) Load(ctx context.Context, dir string, req plan.Request) (*plan.Plan, error) {
	p, res, err := Load(ctx, dir, Input{Request: req, Settings: c.Settings, Cache: c.Cache})
	if err != nil {
		return nil, err
	}
	p.Version = res.Version
	p.Summary = append(p.Summary, res.Summary()...)
	if p.Outputs == nil {
		p.Outputs = map[string][]byte{}
	}
	p.Outputs[OutputImagesMap] = res.PiecesImagesMap()
	return p, nil
}

// WriteRelease writes p's release archive (WriteReleaseArchive) to file,
// its generated files included, with every mtime at created.
func (Convention) WriteRelease(p *plan.Plan, file string, created time.Time) error {
	return WriteReleaseArchive(p.Root, p.Version, file, WithArchiveTime(created), WithArchiveFiles(p.Files...))
}
