package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Store is the cache's download store as registry bases use it
// (layers.Cache): content by digest, and names recorded for digests.
type Store interface {
	Download(ctx context.Context, want string, fetch func(ctx context.Context, w io.Writer) error) (path, digest string, err error)
	DownloadPath(digest string) string
	SetRef(name, digest string) error
	Ref(name string) (string, bool)
}

// downloadStore reads a Store as an OCI layout's blobs, so that the layout
// readers (which verify every blob by digest) serve stored registry bases.
type downloadStore struct{ s Store }

func (downloadStore) String() string { return "the cache's download store" }

func (d downloadStore) open(name string) (io.ReadCloser, int64, error) {
	hex, ok := strings.CutPrefix(name, "blobs/sha256/")
	if !ok {
		return nil, 0, fmt.Errorf("%s holds blobs only, not %s", d, name)
	}
	f, err := os.Open(d.s.DownloadPath("sha256:" + hex))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// refName is the name the base's reference is recorded under.
func (b *registryBase) refName() string { return "docker://" + b.ref.Name() }

// storedImage is Image through the download store: online it first
// records what the registry serves for p.
func (b *registryBase) storedImage(ctx context.Context, p v1.Platform) (v1.Image, error) {
	if !b.offline {
		if err := b.record(ctx, p); err != nil {
			return nil, err
		}
	}
	top, err := b.storedTop()
	if err != nil {
		return nil, err
	}
	ds := downloadStore{b.store}
	if top.MediaType.IsIndex() {
		idx, err := newLayoutIndex(ds, top)
		if err != nil {
			return nil, fmt.Errorf("base %s: %w", b.spec, err)
		}
		return imageFromIndex(b.spec, idx, p)
	}
	img, err := newLayoutImage(ds, top)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", b.spec, err)
	}
	if err := checkImagePlatform(b.spec, p, img); err != nil {
		return nil, err
	}
	return img, nil
}

// storedTop resolves the reference to the stored manifest or index.
func (b *registryBase) storedTop() (v1.Descriptor, error) {
	d, ok := b.store.Ref(b.refName())
	if !ok {
		return v1.Descriptor{}, fmt.Errorf("base %s is not in the cache (offline; build once online, or give a bundle holding it with --bundle)", b.spec)
	}
	h, err := v1.NewHash(d)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("base %s: recorded digest: %w", b.spec, err)
	}
	ds := downloadStore{b.store}
	raw, err := readAll(ds, "blobs/sha256/"+h.Hex)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("base %s: %w", b.spec, err)
	}
	// The registry's Content-Type is not kept: the manifest names its own
	// type, or (an OCI manifest may omit it) its fields say which it is.
	var m struct {
		MediaType types.MediaType   `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return v1.Descriptor{}, fmt.Errorf("base %s: stored manifest %s: %w", b.spec, h, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
		if m.Manifests != nil {
			mt = types.OCIImageIndex
		}
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(raw))}, nil
}

// record stores the manifest or index the registry serves for the
// reference, as served, and the manifests, config and layers of the image
// chosen for p, and names the reference's digest.
func (b *registryBase) record(ctx context.Context, p v1.Platform) error {
	d, err := b.get(ctx)
	if err != nil {
		return err
	}
	if err := b.put(ctx, d.Manifest, d.Digest); err != nil {
		return err
	}
	var img v1.Image
	if d.MediaType.IsIndex() {
		idx, err := d.ImageIndex()
		if err != nil {
			return fmt.Errorf("reading base %s: %w", b.spec, err)
		}
		if img, err = imageFromIndex(b.spec, recordingIndex{idx, b.put, ctx}, p); err != nil {
			return err
		}
	} else if img, err = d.Image(); err != nil {
		return fmt.Errorf("reading base %s: %w", b.spec, err)
	}
	if err := b.putImage(ctx, img); err != nil {
		return fmt.Errorf("storing base %s: %w", b.spec, err)
	}
	return b.store.SetRef(b.refName(), d.Digest.String())
}

func (b *registryBase) put(ctx context.Context, raw []byte, h v1.Hash) error {
	_, _, err := b.store.Download(ctx, h.String(), func(_ context.Context, w io.Writer) error {
		_, err := w.Write(raw)
		return err
	})
	return err
}

// putImage stores an image's manifest, config and layers.
func (b *registryBase) putImage(ctx context.Context, img v1.Image) error {
	for _, f := range []func() ([]byte, error){img.RawManifest, img.RawConfigFile} {
		raw, err := f()
		if err != nil {
			return err
		}
		if err := b.put(ctx, raw, digestOf(raw)); err != nil {
			return err
		}
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		h, err := l.Digest()
		if err != nil {
			return err
		}
		_, _, err = b.store.Download(ctx, h.String(), func(_ context.Context, w io.Writer) error {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		})
		if err != nil {
			return fmt.Errorf("layer %s: %w", h, err)
		}
	}
	return nil
}

func digestOf(raw []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(raw)) // reading memory does not fail
	return h
}

// remoteIndex names the index recordingIndex wraps (a field named
// ImageIndex would hide the method).
type remoteIndex interface{ v1.ImageIndex }

// recordingIndex stores the nested indexes imageFromIndex descends into.
type recordingIndex struct {
	remoteIndex
	put func(ctx context.Context, raw []byte, h v1.Hash) error
	ctx context.Context
}

func (r recordingIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := r.remoteIndex.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	if err := r.put(r.ctx, raw, h); err != nil {
		return nil, err
	}
	return recordingIndex{idx, r.put, r.ctx}, nil
}
