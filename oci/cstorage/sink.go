package cstorage

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/assemble-build/assemble/oci/sink"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Sink writes items to containers-storage. It implements sink.Sink.
type Sink struct {
	spec     string
	store    Reference // driver and paths from the spec
	name     string    // fixed name from the spec, or "" for each item's Name
	prefix   string    // the spec up to the name: "containers-storage:[driver@root+runroot]"
	opts     []Option
	platform v1.Platform
}

var _ sink.Sink = (*Sink)(nil)

// NewSink parses an output "containers-storage:[[driver@root+runroot]][NAME[:TAG]]".
// With a NAME the sink takes exactly one item; without, each item is stored
// under its own Name. An index is stored as its manifest for platform
// (default: this machine's), since containers-storage holds single images.
func NewSink(spec string, platform *v1.Platform, opts ...Option) (*Sink, error) {
	if errNeedsCgo != nil {
		return nil, errNeedsCgo
	}
	r, rest, err := parseStorePrefix(spec)
	if err != nil {
		return nil, err
	}
	s := &Sink{spec: spec, store: r, opts: opts, platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, prefix: spec[:len(spec)-len(rest)]}
	if platform != nil {
		s.platform = *platform
	}
	if rest != "" {
		if s.name, err = parseName(spec, rest); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Sink) String() string { return s.spec }

// Write stores each item; the result's Digest is the manifest digest podman shows.
func (s *Sink) Write(ctx context.Context, items []sink.Item) ([]sink.Result, error) {
	if s.name != "" && len(items) != 1 {
		return nil, fmt.Errorf("%s names one image but %d were given: leave the name out to store each under its own", s.spec, len(items))
	}
	var results []sink.Result
	for _, it := range items {
		n := s.name
		if n == "" {
			var err error
			if n, err = parseName(it.Name, it.Name); err != nil {
				return results, err
			}
		}
		img := it.Image
		if img == nil {
			if it.Index == nil {
				return results, fmt.Errorf("%s: item %q has no image", s.spec, it.Name)
			}
			var err error
			if img, err = pick(it.Index, s.platform); err != nil {
				return results, fmt.Errorf("%s: %s: %w", s.spec, it.Name, err)
			}
		}
		opts := append([]Option{WithDriver(s.store.Driver), WithRoot(s.store.Root), WithRunRoot(s.store.RunRoot)}, s.opts...)
		if _, err := Write(ctx, n, img, opts...); err != nil {
			return results, fmt.Errorf("%s: %s: %w", s.spec, n, err)
		}
		d, err := img.Digest()
		if err != nil {
			return results, err
		}
		mt, err := img.MediaType()
		if err != nil {
			return results, err
		}
		results = append(results, sink.Result{Sink: s.spec, Ref: n, Digest: d, MediaType: mt, Transport: s.prefix})
	}
	return results, nil
}

// pick returns the index's image for p (variant only if p names one).
func pick(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.OS == p.OS && d.Platform.Architecture == p.Architecture && (p.Variant == "" || d.Platform.Variant == p.Variant) {
			return idx.Image(d.Digest)
		}
	}
	if len(have) == 0 {
		return nil, errors.New("the index holds no platform images")
	}
	return nil, fmt.Errorf("containers-storage holds single images and the index has no %s image (it has %v): choose one with --platform", p.String(), have)
}
