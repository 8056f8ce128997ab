package assembler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/oci"
)

// Plan detects dir's convention and returns its plan with the overrides applied.
func (a *Assembler) Plan(ctx context.Context, dir string) (*plan.Plan, error) {
	o := a.o
	ctx = o.logTo(ctx)
	c, _, err := a.detect(dir)
	if err != nil {
		return nil, err
	}
	req := o.request
	if o.builder {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		req.Builder = newServices(&plan.Plan{Root: abs}, o)
	}
	p, err := c.Load(ctx, dir, req)
	if err != nil {
		return nil, err
	}
	// Conventions plan their generated files; the pipeline alone writes
	// them, for `assemble plan` and `assemble build` alike.
	if req.WriteMetadata {
		if _, err := plan.WriteFiles(p.Root, p.Files); err != nil {
			return nil, err
		}
	}
	vars, err := o.tagVars(p)
	if err != nil {
		return nil, err
	}
	for i := range p.Images {
		img := &p.Images[i]
		if o.base != "" {
			img.Base = o.base
		}
		if len(o.platforms) > 0 {
			img.Platforms = o.platforms
		}
		if len(img.Platforms) == 0 {
			img.Platforms = []string{HostPlatform()}
		}
		if err := applyTags(img, o, vars, p.Version); err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Name, err)
		}
	}
	return p, nil
}

// tagVars are the values tag templates and schemes read, when there are any.
func (o *options) tagVars(p *plan.Plan) (oci.TagVars, error) {
	if len(o.tags) == 0 && o.tagScheme == "" {
		return oci.TagVars{}, nil
	}
	vars, err := oci.GitVars(p.Root, os.Getenv)
	if err != nil {
		return vars, err
	}
	vars.Location = o.tagZone
	if vars.Time.IsZero() {
		// No commit time: SOURCE_DATE_EPOCH when set, else now (tags are
		// names; no digest depends on them).
		vars.Time = time.Now()
		if os.Getenv("SOURCE_DATE_EPOCH") != "" {
			vars.Time = o.created
		}
	}
	return vars, nil
}

// applyTags expands tag templates and applies the tag scheme to one image.
func applyTags(img *plan.Image, o *options, vars oci.TagVars, version string) error {
	vars.Group = img.Group
	vars.Version = o.request.Version
	if vars.Version == "" {
		vars.Version = version
	}
	if vars.Version == "" && len(img.Tags) > 0 {
		vars.Version = img.Tags[0]
	}
	if len(o.tags) > 0 {
		var tags []string
		for _, tmpl := range o.tags {
			t, err := oci.ExpandTag(tmpl, vars)
			if err != nil {
				return err
			}
			tags = append(tags, t)
		}
		img.Tags = tags
	}
	switch o.tagScheme {
	case "":
	case "labnow":
		var all []string
		repo := img.Name
		for _, t := range img.Tags {
			r, tags, err := oci.LabNow(img.Name+":"+t, vars)
			if err != nil {
				return err
			}
			repo = r
			for _, nt := range tags {
				if !slices.Contains(all, nt) {
					all = append(all, nt)
				}
			}
		}
		img.Name, img.Tags = repo, all
	default:
		return fmt.Errorf("unknown tag scheme %q: the presets are: labnow", o.tagScheme)
	}
	return nil
}
