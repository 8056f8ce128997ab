package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/internal/verified"
	"github.com/assemble-build/assemble/oci"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefNameAnnotation names a manifest in an OCI layout's index.json.
const RefNameAnnotation = oci.AnnotationRefName

// maxJSONBlob bounds manifests, indexes and configs read into memory.
const maxJSONBlob = 64 << 20

// store is an OCI layout: a directory or a tar of one.
type store interface {
	// open returns a blob or a top-level file ("index.json") and its size.
	open(name string) (io.ReadCloser, int64, error)
	String() string
}

var (
	reAlgorithm = lazyregexp.New(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$`)
	reEncoded   = lazyregexp.New(`^[a-zA-Z0-9=_-]+$`)
)

func blobName(h v1.Hash) (string, error) {
	// A descriptor's digest becomes a path: refuse anything but the grammar.
	if !reAlgorithm.MatchString(h.Algorithm) || !reEncoded.MatchString(h.Hex) {
		return "", fmt.Errorf("invalid digest %q", h)
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

// dirStore is an OCI layout directory. Files are opened through os.Root so
// that a symlink inside the layout cannot lead outside it.
type dirStore string

func (d dirStore) String() string { return string(d) }

func (d dirStore) open(name string) (io.ReadCloser, int64, error) {
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, 0, fmt.Errorf("opening OCI layout %s: %w", d, err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("OCI layout %s: %w", d, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("OCI layout %s: %w", d, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("OCI layout %s: %s is not a regular file", d, name)
	}
	return f, st.Size(), nil
}

// tarStore is an oci-archive: a plain tar of a layout, read in place.
type tarStore struct {
	path string
	once sync.Once
	idx  *tarIndex
	err  error
}

func (t *tarStore) String() string { return t.path }

func (t *tarStore) open(name string) (io.ReadCloser, int64, error) {
	t.once.Do(func() { t.idx, t.err = indexTar(t.path) })
	if t.err != nil {
		return nil, 0, t.err
	}
	return t.idx.open(t.path, name)
}

func readAll(s store, name string) ([]byte, error) {
	rc, size, err := s.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxJSONBlob {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than a manifest or config can be", s, name, size)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxJSONBlob+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", s, name, err)
	}
	return b, nil
}

// readBlob reads a small blob and checks its digest and size.
func readBlob(s store, d v1.Descriptor) ([]byte, error) {
	n, err := blobName(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	b, err := readAll(s, n)
	if err != nil {
		return nil, err
	}
	if err := verifyBytes(b, d); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s, n, err)
	}
	return b, nil
}

func verifyBytes(b []byte, d v1.Descriptor) error {
	if d.Digest.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest algorithm %s", d.Digest.Algorithm)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != d.Digest.Hex {
		return fmt.Errorf("content has digest sha256:%s, want %s (corrupt blob)", got, d.Digest)
	}
	if d.Size != 0 && int64(len(b)) != d.Size {
		return fmt.Errorf("content has %d bytes, want %d", len(b), d.Size)
	}
	return nil
}

func readIndexJSON(s store) (*v1.IndexManifest, []byte, error) {
	b, err := readAll(s, "index.json")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s is not an OCI layout (no index.json): %w", s, err)
		}
		return nil, nil, err
	}
	var m v1.IndexManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: index.json: %w", s, err)
	}
	return &m, b, nil
}

// layoutBase is an oci: or oci-archive: base.
type layoutBase struct {
	spec   string
	tag    string
	digest *v1.Hash // from NAME@sha256:...: the image must have it
	path   string
	store  store
}

func (b *layoutBase) String() string { return b.spec }

// ImageName implements Named: the ref.name the image has in the layout.
func (b *layoutBase) ImageName() string {
	ref := b.tag
	if ref == "" {
		if d, _, _, err := b.resolve(); err == nil && d != nil {
			ref = d.Annotations[RefNameAnnotation]
		}
	}
	return oci.LayoutRefName(b.path, ref)
}

// resolve finds the descriptor the reference names, or the top index when
// the layout holds one multi-platform image without names (as ggcr's
// layout.Write leaves it).
func (b *layoutBase) resolve() (*v1.Descriptor, *v1.IndexManifest, []byte, error) {
	m, raw, err := readIndexJSON(b.store)
	if err != nil {
		return nil, nil, nil, err
	}
	var names []string
	for i, d := range m.Manifests {
		n := d.Annotations[RefNameAnnotation]
		if n != "" {
			names = append(names, n)
		}
		if b.tag != "" && n == b.tag || b.tag == "" && b.digest != nil && d.Digest == *b.digest {
			if b.digest != nil && d.Digest != *b.digest {
				return nil, nil, nil, fmt.Errorf("%s: %s is %s in %s now, not the %s asked for", b.spec, n, d.Digest, b.store, b.digest)
			}
			return &m.Manifests[i], m, raw, nil
		}
	}
	sort.Strings(names)
	if b.digest != nil && b.tag == "" {
		return nil, nil, nil, fmt.Errorf("%s: no image %s in %s", b.spec, b.digest, b.store)
	}
	if b.tag != "" {
		return nil, nil, nil, fmt.Errorf("%s: no image named %q in %s; it has: %s", b.spec, b.tag, b.store, listOrNone(names))
	}
	// Referrers (SBOMs, provenance) beside an image are not images to pick.
	imgs := withoutReferrers(m)
	switch {
	case len(imgs.Manifests) == 1:
		return &imgs.Manifests[0], m, raw, nil
	case len(imgs.Manifests) == 0:
		return nil, nil, nil, fmt.Errorf("%s: the layout %s holds no image", b.spec, b.store)
	case len(names) == 0 && allHavePlatform(imgs):
		return nil, m, raw, nil
	}
	return nil, nil, nil, fmt.Errorf("%s: the layout holds %d images; name one as %s:NAME; names: %s",
		b.spec, len(imgs.Manifests), strings.TrimSuffix(b.spec, ":"), listOrNone(names))
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func allHavePlatform(m *v1.IndexManifest) bool {
	for _, d := range m.Manifests {
		if d.Platform == nil {
			return false
		}
	}
	return true
}

func (b *layoutBase) Image(_ context.Context, p v1.Platform) (v1.Image, error) {
	d, top, raw, err := b.resolve()
	if err != nil {
		return nil, err
	}
	var idx v1.ImageIndex
	switch {
	case d == nil:
		idx = &layoutIndex{store: b.store, manifest: top, raw: raw, desc: v1.Descriptor{MediaType: types.OCIImageIndex}}
	case d.MediaType.IsIndex():
		idx, err = newLayoutIndex(b.store, *d)
		if err != nil {
			return nil, err
		}
	case d.MediaType.IsImage():
		img, err := newLayoutImage(b.store, *d)
		if err != nil {
			return nil, err
		}
		if err := checkImagePlatform(b.spec, p, img); err != nil {
			return nil, err
		}
		return img, nil
	default:
		return nil, fmt.Errorf("%s: %s is a %s, not an image or index", b.spec, d.Digest, d.MediaType)
	}
	return imageFromIndex(b.spec, idx, p)
}

// imageFromIndex picks the image for p, descending into nested indexes.
func imageFromIndex(spec string, idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	for range 8 {
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		d, err := pickManifest(spec, p, m)
		if err != nil {
			return nil, err
		}
		if d.MediaType.IsIndex() {
			if idx, err = idx.ImageIndex(d.Digest); err != nil {
				return nil, fmt.Errorf("%s: %w", spec, err)
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("%s: indexes nested too deeply", spec)
}

func (b *layoutBase) Index(context.Context) (v1.ImageIndex, error) {
	d, top, raw, err := b.resolve()
	if err != nil {
		return nil, err
	}
	if d == nil {
		return &layoutIndex{store: b.store, manifest: top, raw: raw, desc: v1.Descriptor{MediaType: types.OCIImageIndex}}, nil
	}
	if !d.MediaType.IsIndex() {
		return nil, nil
	}
	return newLayoutIndex(b.store, *d)
}

// layoutIndex is an index stored in a layout.
type layoutIndex struct {
	store    store
	desc     v1.Descriptor
	raw      []byte
	manifest *v1.IndexManifest
}

func newLayoutIndex(s store, d v1.Descriptor) (*layoutIndex, error) {
	raw, err := readBlob(s, d)
	if err != nil {
		return nil, err
	}
	var m v1.IndexManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: index %s: %w", s, d.Digest, err)
	}
	return &layoutIndex{store: s, desc: d, raw: raw, manifest: &m}, nil
}

func (i *layoutIndex) MediaType() (types.MediaType, error) {
	if i.manifest.MediaType != "" {
		return i.manifest.MediaType, nil
	}
	return i.desc.MediaType, nil
}
func (i *layoutIndex) Digest() (v1.Hash, error)                  { return partial.Digest(i) }
func (i *layoutIndex) Size() (int64, error)                      { return int64(len(i.raw)), nil }
func (i *layoutIndex) RawManifest() ([]byte, error)              { return i.raw, nil }
func (i *layoutIndex) IndexManifest() (*v1.IndexManifest, error) { return i.manifest, nil }
func (i *layoutIndex) Descriptor() (*v1.Descriptor, error)       { return &i.desc, nil }
func (i *layoutIndex) child(h v1.Hash) (v1.Descriptor, error) {
	for _, d := range i.manifest.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%s: no manifest %s in index", i.store, h)
}

func (i *layoutIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.child(h)
	if err != nil {
		return nil, err
	}
	return newLayoutImage(i.store, d)
}

func (i *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.child(h)
	if err != nil {
		return nil, err
	}
	return newLayoutIndex(i.store, d)
}

// layoutImage is an image stored in a layout; its layers are read lazily
// and verified as they stream.
type layoutImage struct {
	store    store
	desc     v1.Descriptor
	raw      []byte
	manifest *v1.Manifest

	cfgOnce sync.Once
	cfg     []byte
	cfgErr  error

	img v1.Image // this image as go-containerregistry completes it
}

func newLayoutImage(s store, d v1.Descriptor) (v1.Image, error) {
	raw, err := readBlob(s, d)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", s, d.Digest, err)
	}
	li := &layoutImage{store: s, desc: d, raw: raw, manifest: m}
	img, err := partial.CompressedToImage(li)
	if err != nil {
		return nil, err
	}
	li.img = img
	return img, nil
}

func (li *layoutImage) MediaType() (types.MediaType, error) {
	if li.manifest.MediaType != "" {
		return li.manifest.MediaType, nil
	}
	return li.desc.MediaType, nil
}
func (li *layoutImage) RawManifest() ([]byte, error)        { return li.raw, nil }
func (li *layoutImage) Descriptor() (*v1.Descriptor, error) { return &li.desc, nil }

func (li *layoutImage) RawConfigFile() ([]byte, error) {
	li.cfgOnce.Do(func() { li.cfg, li.cfgErr = readBlob(li.store, li.manifest.Config) })
	return li.cfg, li.cfgErr
}

func (li *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == li.manifest.Config.Digest {
		return &layoutBlob{store: li.store, desc: li.manifest.Config}, nil
	}
	for _, d := range li.manifest.Layers {
		if d.Digest == h {
			return &layoutLayer{layoutBlob{store: li.store, desc: d}, li}, nil
		}
	}
	return nil, fmt.Errorf("%s: image %s has no layer %s", li.store, li.desc.Digest, h)
}

type layoutBlob struct {
	store store
	desc  v1.Descriptor
}

// layoutLayer is a layer of a layout's image. Its diffID is the config's,
// as go-containerregistry's remote layers give it: without one of its own,
// a layer would be decompressed whole to find it (every base layer, on
// every build that asks: 1.3 s of an unchanged Dockerfile build over a
// Debian base). Its content is still verified as it streams.
type layoutLayer struct {
	layoutBlob
	img *layoutImage
}

func (l *layoutLayer) DiffID() (v1.Hash, error) {
	return partial.BlobToDiffID(l.img.img, l.desc.Digest)
}

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlob) Descriptor() (*v1.Descriptor, error) { return &b.desc, nil }

func (b *layoutBlob) Compressed() (io.ReadCloser, error) {
	n, err := blobName(b.desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.store, err)
	}
	if b.desc.Digest.Algorithm != "sha256" {
		return nil, fmt.Errorf("%s: unsupported digest algorithm in %s", b.store, b.desc.Digest)
	}
	rc, _, err := b.store.open(n)
	if err != nil {
		return nil, err
	}
	name := b.store.String() + ": " + n
	return verified.NewReader(rc, b.desc.Digest, b.desc.Size, verified.WithError(func(m verified.Mismatch) error {
		switch {
		case m.TooLong:
			return fmt.Errorf("%s: blob is larger than its %d bytes", name, m.Size)
		case m.Read != m.Size:
			return fmt.Errorf("%s: blob has %d bytes, want %d", name, m.Read, m.Size)
		}
		return fmt.Errorf("%s: blob has digest sha256:%s, want %s (corrupt blob)", name, m.Got, m.Want)
	})), nil
}
