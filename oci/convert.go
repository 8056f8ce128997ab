package oci

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// toOCI rewrites a Docker schema2 image with OCI media types. Layer bytes are
// unchanged; only descriptors change.
func toOCI(img v1.Image) (v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading base layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		switch mt {
		case types.DockerLayer:
			mt = types.OCILayer
		case types.DockerUncompressedLayer:
			mt = types.OCIUncompressedLayer
		case types.DockerForeignLayer:
			mt = types.OCIRestrictedLayer
		}
		var h v1.History
		if i < len(cf.History) {
			h = cf.History[i]
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: mt, History: h})
	}
	out, err = mutate.Append(out, adds...)
	if err != nil {
		return nil, err
	}
	ncf := cf.DeepCopy()
	return mutate.ConfigFile(out, ncf)
}
