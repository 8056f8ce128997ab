// Package oci assembles images: layers stacked on a base, configuration,
// history and annotations, and multi-platform indexes.
package oci

import (
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Standard annotation keys.
const (
	AnnotationCreated    = "org.opencontainers.image.created"
	AnnotationSource     = "org.opencontainers.image.source"
	AnnotationRevision   = "org.opencontainers.image.revision"
	AnnotationRefName    = "org.opencontainers.image.ref.name"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Addition is one layer to stack, with its history line.
type Addition struct {
	Layer     v1.Layer
	CreatedBy string
	Comment   string
}

// Config is what an image sets over its base's configuration. Empty fields
// keep the base's values.
type Config struct {
	Env          []string
	User         string
	WorkingDir   string
	Entrypoint   []string
	Cmd          []string
	Labels       map[string]string
	ExposedPorts []string
	Volumes      []string
	StopSignal   string
}

// Stack puts additions on base and applies cfg. Every time in the result is
// created, so the same inputs give the same digest. Layers with a media type
// foreign to the base's manifest type are given the matching one where the
// bytes allow it (gzip), so the manifest stays consistent.
func Stack(base v1.Image, adds []Addition, cfg Config, created time.Time, annotations map[string]string) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading base manifest: %w", err)
	}
	docker := mt == types.DockerManifestSchema2
	created = created.UTC()
	var addenda []mutate.Addendum
	for _, a := range adds {
		lmt, err := a.Layer.MediaType()
		if err != nil {
			return nil, err
		}
		if docker {
			switch lmt {
			case types.OCILayer:
				lmt = types.DockerLayer
			case types.OCILayerZStd:
				// Docker manifests cannot carry zstd layers: make the whole image OCI.
				base, err = toOCI(base)
				if err != nil {
					return nil, err
				}
				docker = false
			}
		}
		addenda = append(addenda, mutate.Addendum{
			Layer:     a.Layer,
			MediaType: lmt,
			History: v1.History{
				Created:   v1.Time{Time: created},
				CreatedBy: a.CreatedBy,
				Comment:   a.Comment,
			},
		})
	}
	if docker {
		for i := range addenda {
			if addenda[i].MediaType == types.OCILayer {
				addenda[i].MediaType = types.DockerLayer
			}
		}
	}
	img, err := mutate.Append(base, addenda...)
	if err != nil {
		return nil, fmt.Errorf("stacking layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	cf = cf.DeepCopy()
	applyConfig(&cf.Config, cfg)
	cf.Created = v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	if len(annotations) > 0 {
		img = mutate.Annotations(img, annotations).(v1.Image)
	}
	return img, nil
}

func applyConfig(c *v1.Config, cfg Config) {
	c.Env = MergeEnv(c.Env, cfg.Env)
	if cfg.User != "" {
		c.User = cfg.User
	}
	if cfg.WorkingDir != "" {
		c.WorkingDir = cfg.WorkingDir
	}
	if cfg.Entrypoint != nil {
		c.Entrypoint = cfg.Entrypoint
		if cfg.Cmd == nil {
			c.Cmd = nil // as Docker: a new ENTRYPOINT drops the base's CMD
		}
	}
	if cfg.Cmd != nil {
		c.Cmd = cfg.Cmd
	}
	if len(cfg.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range cfg.Labels {
			c.Labels[k] = v
		}
	}
	for _, p := range cfg.ExposedPorts {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[p] = struct{}{}
	}
	for _, v := range cfg.Volumes {
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		c.Volumes[v] = struct{}{}
	}
	if cfg.StopSignal != "" {
		c.StopSignal = cfg.StopSignal
	}
}

// MergeEnv sets each KEY=VALUE of add in env, replacing an existing KEY in
// place and appending new ones in order.
func MergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// Scratch is an empty OCI image for platform.
func Scratch(p v1.Platform) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	cf.RootFS.Type = "layers"
	return mutate.ConfigFile(img, cf)
}

// Index makes an OCI index of images, one per platform, in the order given.
func Index(images []v1.Image, annotations map[string]string) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for _, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		mt, err := img.MediaType()
		if err != nil {
			return nil, err
		}
		p := cf.Platform()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: p}})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx, adds...)
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	return idx, nil
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64", s)
	}
	return *p, nil
}
