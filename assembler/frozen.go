package assembler

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// frozen is a built image with its manifest, config and layers worked out
// once. A go-containerregistry mutate image serialises its config again
// for every layer each time it is asked for its layers (LayerByDigest
// compares with the config's digest first), and a plan's images are asked
// often: by a convention reading them, by every sink, for SBOMs. Its bytes
// are those of the image it froze.
type frozen struct {
	mediaType          types.MediaType
	manifest, config   []byte
	mf                 *v1.Manifest
	cf                 *v1.ConfigFile
	digest, configName v1.Hash
	layers             []v1.Layer
	byDigest, byDiffID map[v1.Hash]v1.Layer
}

// freeze returns img with everything it says computed once; img itself
// when it cannot say it (its own calls then fail as they would have).
// known are layers img may hold (its base's and those stacked on it),
// found by digest without asking img for its layers, which for a mutate
// image is the costly call.
func freeze(img v1.Image, known ...v1.Layer) v1.Image {
	if f, ok := img.(*frozen); ok {
		return f
	}
	f, err := freezeImage(img, known)
	if err != nil {
		return img
	}
	return f
}

func freezeImage(img v1.Image, known []v1.Layer) (*frozen, error) {
	f := &frozen{byDigest: map[v1.Hash]v1.Layer{}, byDiffID: map[v1.Hash]v1.Layer{}}
	var err error
	if f.mediaType, err = img.MediaType(); err != nil {
		return nil, err
	}
	if f.manifest, err = img.RawManifest(); err != nil {
		return nil, err
	}
	if f.config, err = img.RawConfigFile(); err != nil {
		return nil, err
	}
	// What the raw bytes say, as the image has it parsed (or made) already.
	if f.mf, err = img.Manifest(); err != nil {
		return nil, err
	}
	if f.cf, err = img.ConfigFile(); err != nil {
		return nil, err
	}
	if f.digest, _, err = v1.SHA256(bytes.NewReader(f.manifest)); err != nil {
		return nil, err
	}
	if f.configName, _, err = v1.SHA256(bytes.NewReader(f.config)); err != nil {
		return nil, err
	}
	if f.layers = byManifest(f.mf, known); f.layers == nil {
		if f.layers, err = img.Layers(); err != nil {
			return nil, err
		}
	}
	if len(f.layers) != len(f.mf.Layers) || len(f.layers) != len(f.cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the image lists %d layers, its manifest %d and its config %d", len(f.layers), len(f.mf.Layers), len(f.cf.RootFS.DiffIDs))
	}
	for i, l := range f.layers {
		// The first of two layers with one diffID, as mutate's map keeps.
		if _, ok := f.byDiffID[f.cf.RootFS.DiffIDs[i]]; !ok {
			f.byDiffID[f.cf.RootFS.DiffIDs[i]] = l
		}
		f.byDigest[f.mf.Layers[i].Digest] = l
	}
	return f, nil
}

// byManifest lists the layers of m's descriptors from known, or nil when
// one of them is not known.
func byManifest(m *v1.Manifest, known []v1.Layer) []v1.Layer {
	if len(known) == 0 && len(m.Layers) > 0 {
		return nil
	}
	byDigest := make(map[v1.Hash]v1.Layer, len(known))
	for _, l := range known {
		d, err := l.Digest()
		if err != nil {
			return nil
		}
		byDigest[d] = l
	}
	out := make([]v1.Layer, len(m.Layers))
	for i, desc := range m.Layers {
		l, ok := byDigest[desc.Digest]
		if !ok {
			return nil
		}
		out[i] = l
	}
	return out
}

func (f *frozen) Layers() ([]v1.Layer, error)               { return append([]v1.Layer(nil), f.layers...), nil }
func (f *frozen) MediaType() (types.MediaType, error)       { return f.mediaType, nil }
func (f *frozen) Size() (int64, error)                      { return int64(len(f.manifest)), nil }
func (f *frozen) ConfigName() (v1.Hash, error)              { return f.configName, nil }
func (f *frozen) ConfigFile() (*v1.ConfigFile, error)       { return f.cf.DeepCopy(), nil }
func (f *frozen) RawConfigFile() ([]byte, error)            { return bytes.Clone(f.config), nil }
func (f *frozen) Digest() (v1.Hash, error)                  { return f.digest, nil }
func (f *frozen) Manifest() (*v1.Manifest, error)           { return f.mf.DeepCopy(), nil }
func (f *frozen) RawManifest() ([]byte, error)              { return bytes.Clone(f.manifest), nil }
func (f *frozen) LayerByDiffID(h v1.Hash) (v1.Layer, error) { return f.layer(f.byDiffID, h) }

func (f *frozen) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if h == f.configName {
		return partial.ConfigLayer(f)
	}
	return f.layer(f.byDigest, h)
}

func (f *frozen) layer(m map[v1.Hash]v1.Layer, h v1.Hash) (v1.Layer, error) {
	if l, ok := m[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("the image has no layer %s", h)
}
