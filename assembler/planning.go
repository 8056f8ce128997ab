package assembler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

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
	if o.namesImages() && len(p.Images) > 1 {
		return nil, fmt.Errorf("%s plans %d images, but a tag given as a full reference (REPOSITORY:TAG) names one: give tags alone (templates such as {group}-{version}), and the registry with --registry", p.Root, len(p.Images))
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
		repo, tags, err := expandTags(o.tags, vars)
		if err != nil {
			return err
		}
		if repo != "" {
			img.Name = repo
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

// expandTags reads --tag values: tag templates, or full references
// (REPOSITORY:TAG, as docker build -t takes them) that must name one
// repository, returned as repo ("" when none names one).
func expandTags(values []string, vars oci.TagVars) (repo string, tags []string, err error) {
	for _, v := range values {
		r, tmpl := oci.SplitTagRef(v)
		if r != "" {
			if _, err := name.NewRepository(r); err != nil {
				return "", nil, fmt.Errorf("tag %q: %q is not a valid repository: %w", v, r, err)
			}
			if repo != "" && r != repo {
				return "", nil, fmt.Errorf("tags %q and %q name two repositories: an image has one name; give its other tags as TAG alone", repo, v)
			}
			repo = r
		}
		t, err := oci.ExpandTag(tmpl, vars)
		if err != nil {
			return "", nil, err
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return repo, tags, nil
}

// namesImages reports whether a --tag value is a full reference, which
// names one image.
func (o *options) namesImages() bool {
	for _, v := range o.tags {
		if r, _ := oci.SplitTagRef(v); r != "" {
			return true
		}
	}
	return false
}
