package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/oci"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// scratch is the empty base: an OCI image with no layers whose config
// names the platform.
type scratch struct{}

func (scratch) String() string                               { return "scratch" }
func (scratch) ImageName() string                            { return oci.LocalName("scratch", "") }
func (scratch) Index(context.Context) (v1.ImageIndex, error) { return nil, nil }
func (scratch) Image(_ context.Context, p v1.Platform) (v1.Image, error) {
	if p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("scratch: platform %q needs an os and an architecture", p.OS+"/"+p.Architecture)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.ConfigFile(img, &v1.ConfigFile{
		OS:           p.OS,
		Architecture: p.Architecture,
		Variant:      p.Variant,
		OSVersion:    p.OSVersion,
		OSFeatures:   p.OSFeatures,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}},
	})
}

// registryBase is a docker:// base, read lazily through ggcr's remote.
type registryBase struct {
	spec   string
	ref    name.Reference
	remote *remote.Registries
	// store, when set, keeps what the registry served (see WithStore).
	store   Store
	offline bool

	mu   sync.Mutex
	desc *ggcr.Descriptor
}

func (b *registryBase) String() string { return b.spec }

// ImageName implements Named: the reference as it was written, with its tag.
func (b *registryBase) ImageName() string {
	written := strings.TrimPrefix(b.spec, "docker://")
	if n, ok := oci.NameWithTag(written); ok {
		return n
	}
	return b.ref.Context().Name() + ":" + name.DefaultTag
}

func (b *registryBase) get(ctx context.Context) (*ggcr.Descriptor, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.desc != nil {
		return b.desc, nil
	}
	d, err := ggcr.Get(b.ref, b.remote.Options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading base %s: %w", b.spec, remote.AuthError(b.ref, err))
	}
	b.desc = d
	return d, nil
}

func (b *registryBase) Image(ctx context.Context, p v1.Platform) (v1.Image, error) {
	if b.store != nil {
		return b.storedImage(ctx, p)
	}
	return b.remoteImage(ctx, p)
}

func (b *registryBase) remoteImage(ctx context.Context, p v1.Platform) (v1.Image, error) {
	d, err := b.get(ctx)
	if err != nil {
		return nil, err
	}
	if d.MediaType.IsIndex() {
		idx, err := d.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading base %s: %w", b.spec, err)
		}
		img, err := imageFromIndex(b.spec, idx, p)
		if err != nil {
			return nil, remote.AuthError(b.ref, err)
		}
		return img, nil
	}
	img, err := d.Image()
	if err != nil {
		return nil, fmt.Errorf("reading base %s: %w", b.spec, err)
	}
	if err := checkImagePlatform(b.spec, p, img); err != nil {
		return nil, remote.AuthError(b.ref, err)
	}
	return img, nil
}

func (b *registryBase) Index(ctx context.Context) (v1.ImageIndex, error) {
	if b.store != nil && b.offline {
		d, err := b.storedTop()
		if err != nil || !d.MediaType.IsIndex() {
			return nil, err
		}
		return newLayoutIndex(downloadStore{b.store}, d)
	}
	d, err := b.get(ctx)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, nil
	}
	idx, err := d.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading base %s: %w", b.spec, err)
	}
	return idx, nil
}

// dockerArchive is a docker-archive: base (docker save / podman save
// format), read with ggcr's tarball package after the archive's entry names
// have been checked.
type dockerArchive struct {
	spec, path string
	tag        *name.Tag

	once sync.Once
	idx  *tarIndex
	err  error
}

func newDockerArchive(spec, path, ref string) (Base, error) {
	d := &dockerArchive{spec: spec, path: path}
	if ref != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("invalid base %q: %q is not a tagged reference: %w; accepted forms: %s", spec, ref, err, Forms)
		}
		d.tag = &t
	}
	return d, nil
}

func (d *dockerArchive) String() string { return d.spec }

// ImageName implements Named: the tag the archive was opened with, else
// the one its single image is tagged with.
func (d *dockerArchive) ImageName() string {
	if d.tag != nil {
		if n, ok := oci.NameWithTag(d.tag.String()); ok {
			return n
		}
	}
	if m, err := d.manifest(); err == nil && len(m) == 1 && len(m[0].RepoTags) > 0 {
		if n, ok := oci.NameWithTag(m[0].RepoTags[0]); ok {
			return n
		}
	}
	return oci.LocalName(d.path, "")
}

// manifest reads the archive's manifest.json (indexing the tar once).
func (d *dockerArchive) manifest() (tarball.Manifest, error) {
	d.once.Do(func() { d.idx, d.err = indexTar(d.path) })
	if d.err != nil {
		return nil, d.err
	}
	rc, _, err := d.idx.open(d.path, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("%s: not a docker archive: %w", d.spec, err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxJSONBlob))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: reading manifest.json: %w", d.spec, err)
	}
	var m tarball.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", d.spec, err)
	}
	return m, nil
}
func (d *dockerArchive) Index(context.Context) (v1.ImageIndex, error) { return nil, nil }

func (d *dockerArchive) Image(_ context.Context, p v1.Platform) (v1.Image, error) {
	m, err := d.manifest()
	if err != nil {
		return nil, err
	}
	if d.tag == nil && len(m) != 1 {
		var tags []string
		for _, e := range m {
			tags = append(tags, e.RepoTags...)
		}
		return nil, fmt.Errorf("%s holds %d images; name one as %s:REF; tags: %s", d.path, len(m), d.spec, listOrNone(tags))
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) {
		return openFile(d.path)
	}, d.tag)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.spec, err)
	}
	if err := checkImagePlatform(d.spec, p, img); err != nil {
		return nil, err
	}
	return img, nil
}
