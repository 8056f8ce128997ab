package ocitest

import (
	"math/rand"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Linux platforms for tests.
var (
	AMD64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	ARM64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// Image returns a small OCI image (gzip layers of layerSize random bytes)
// for platform p. The same seed gives the same image, byte for byte.
func Image(t testing.TB, seed int64, layers int, layerSize int64, p v1.Platform) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		OS: p.OS, Architecture: p.Architecture, Variant: p.Variant,
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}},
		Config: v1.Config{Cmd: []string{"/bin/sh"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return Append(t, img, seed, layers, layerSize)
}

// Append returns img with n more random layers (seeded), as a build on a base does.
func Append(t testing.TB, img v1.Image, seed int64, n int, layerSize int64) v1.Image {
	t.Helper()
	src := rand.NewSource(seed)
	for range n {
		l, err := random.Layer(layerSize, types.OCILayer, random.WithSource(src))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, l)
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// Index returns an OCI index with one Image per platform (seed+i for the i-th).
func Index(t testing.TB, seed int64, layers int, layerSize int64, platforms ...v1.Platform) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, p := range platforms {
		img := Image(t, seed+int64(i), layers, layerSize, p)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	return idx
}

// Digest returns the digest of an image or index, failing the test on error.
func Digest(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
