package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/internal/flock"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/internal/verified"
	"github.com/assemble-build/assemble/layers"
)

// store is where one cache ref lives: a registry tag or an OCI layout.
type store interface {
	String() string
	// read returns the cache manifest, or nil when there is none yet.
	read(ctx context.Context) ([]byte, error)
	// write replaces the cache manifest (fallback: see encode).
	write(ctx context.Context, raw []byte) error
	// open reads a blob of the cache.
	open(ctx context.Context, d layers.Descriptor) (io.ReadCloser, error)
	// putBlob stores a layer's blob (and the empty config) in the cache.
	putBlob(ctx context.Context, l v1.Layer) error
	// lock serialises writers where the store can (an OCI layout).
	lock() (unlock func(), err error)
	// requests is how many requests (or file reads/writes) were made.
	requests() int64
}

// parseRef reads a cache ref as --cache-from/--cache-to take it.
func parseRef(spec string, cfg config) (store, error) {
	reg := cfg.reg
	switch {
	case strings.HasPrefix(spec, "docker://"):
		s := strings.TrimPrefix(spec, "docker://")
		ref, err := reg.Reference(s)
		if err != nil {
			return nil, fmt.Errorf("cache ref %q: %w", spec, err)
		}
		if _, ok := ref.(name.Digest); ok {
			return nil, fmt.Errorf("cache ref %q: name a tag (or no tag: %s), not a digest, since the cache is rewritten", spec, DefaultTag)
		}
		tag := ref.(name.Tag)
		if !strings.Contains(lastPart(s), ":") {
			tag = ref.Context().Tag(DefaultTag)
		}
		return &registryStore{tag: tag, reg: reg, chunks: cfg.chunks}, nil
	case strings.HasPrefix(spec, "oci:"):
		dir, tag, _ := strings.Cut(strings.TrimPrefix(spec, "oci:"), ":")
		if dir == "" {
			return nil, fmt.Errorf("cache ref %q: give a directory, as oci:DIR[:TAG]", spec)
		}
		if tag == "" {
			tag = DefaultTag
		}
		return &layoutStore{dir: dir, tag: tag}, nil
	}
	return nil, fmt.Errorf("cache ref %q: give docker://REGISTRY/REPOSITORY[:TAG] or oci:DIR[:TAG]", spec)
}

func lastPart(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// registryStore is a cache ref in a registry: one tag of one repository.
type registryStore struct {
	tag    name.Tag
	reg    *remote.Registries
	chunks *remote.Chunking // large blobs go in chunks
	n      atomic.Int64
}

func (s *registryStore) String() string  { return "docker://" + s.tag.String() }
func (s *registryStore) requests() int64 { return s.n.Load() }
func (s *registryStore) lock() (func(), error) {
	return func() {}, nil // registries have no locks: see Caches.Flush
}

func (s *registryStore) read(ctx context.Context) ([]byte, error) {
	s.n.Add(1)
	desc, err := ggcr.Get(s.tag, s.reg.Options(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, remote.AuthError(s.tag, err)
	}
	return desc.Manifest, nil
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (s *registryStore) write(ctx context.Context, raw []byte) error {
	s.n.Add(1)
	return remote.AuthError(s.tag, ggcr.Put(s.tag, rawManifest(raw), s.reg.Options(ctx)...))
}

func (s *registryStore) open(ctx context.Context, d layers.Descriptor) (io.ReadCloser, error) {
	s.n.Add(1)
	l, err := ggcr.Layer(s.tag.Context().Digest(d.Digest.String()), s.reg.Options(ctx)...)
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}

func (s *registryStore) putBlob(ctx context.Context, l v1.Layer) error {
	s.n.Add(1)
	if done, err := s.putChunked(ctx, l); done || err != nil {
		return err
	}
	return ggcr.WriteLayer(s.tag.Context(), l, s.reg.Options(ctx)...)
}

// putChunked uploads a large layer in chunks (HEAD first, a mount when l
// is a ggcr.MountableLayer on this registry) and says whether it did;
// (false, nil) leaves it to ggcr's one-request upload.
func (s *registryStore) putChunked(ctx context.Context, l v1.Layer) (bool, error) {
	d, derr := l.Digest()
	size, serr := l.Size()
	if derr != nil || serr != nil {
		return false, nil // a streamed layer: known once written, which ggcr does
	}
	repo := s.tag.Context()
	var from *name.Repository
	if ml, ok := l.(*ggcr.MountableLayer); ok {
		r := ml.Reference.Context()
		from = &r
	}
	b := s.reg.LayerBlob(ctx, l, d, size)
	res, err := s.chunks.Upload(ctx, repo, d, size, func(opts ...remote.ChunkOption) (remote.UploadResult, error) {
		return s.reg.UploadChunked(ctx, repo, b, append(opts, remote.WithMountFrom(from))...)
	})
	return res != 0, err
}

// mountable is a layer for a hit that the output's registry mounts from
// the cache's repository; it is read from the registry only if something
// reads it.
func (s *registryStore) mountable(d layers.Descriptor) v1.Layer {
	return &ggcr.MountableLayer{Layer: &lazyLayer{d: d, s: s}, Reference: s.tag.Context().Digest(d.Digest.String())}
}

// layoutStore is a cache ref in an OCI layout: the manifest under its tag
// (org.opencontainers.image.ref.name) in index.json, blobs beside it.
type layoutStore struct {
	dir, tag string
	n        atomic.Int64
}

func (s *layoutStore) String() string  { return "oci:" + s.dir + ":" + s.tag }
func (s *layoutStore) requests() int64 { return s.n.Load() }

func (s *layoutStore) blobPath(h v1.Hash) string {
	return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex)
}

type layoutIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType,omitempty"`
	Manifests     []v1.Descriptor `json:"manifests"`
}

func (s *layoutStore) index() (layoutIndex, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return layoutIndex{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	var ix layoutIndex
	if err == nil {
		err = json.Unmarshal(b, &ix)
	}
	if err != nil {
		return ix, fmt.Errorf("cache ref %s: reading index.json: %w", s, err)
	}
	return ix, nil
}

func (s *layoutStore) read(ctx context.Context) ([]byte, error) {
	s.n.Add(1)
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	for _, d := range ix.Manifests {
		if d.Annotations[refNameAnnotation] == s.tag {
			rc, err := s.open(ctx, layers.Descriptor{Digest: d.Digest, Size: d.Size})
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	return nil, nil
}

func (s *layoutStore) write(_ context.Context, raw []byte) error {
	s.n.Add(1)
	h, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := s.putBytes(h, raw); err != nil {
		return err
	}
	ix, err := s.index()
	if err != nil {
		return err
	}
	kept := []v1.Descriptor{}
	for _, d := range ix.Manifests {
		if d.Annotations[refNameAnnotation] != s.tag {
			kept = append(kept, d)
		}
	}
	ix.Manifests = append(kept, v1.Descriptor{
		MediaType: types.OCIManifestSchema1, Digest: h, Size: size, ArtifactType: ArtifactType,
		Annotations: map[string]string{refNameAnnotation: s.tag},
	})
	b, err := json.Marshal(ix)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.dir, "index.json"), b)
}

func (s *layoutStore) putBytes(h v1.Hash, b []byte) error {
	p := s.blobPath(h)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, b)
}

func (s *layoutStore) open(_ context.Context, d layers.Descriptor) (io.ReadCloser, error) {
	s.n.Add(1)
	f, err := os.Open(s.blobPath(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("cache ref %s: %w", s, err)
	}
	return verified.NewReader(f, d.Digest, d.Size), nil
}

func (s *layoutStore) putBlob(_ context.Context, l v1.Layer) error {
	s.n.Add(1)
	h, err := l.Digest()
	if err != nil {
		return err
	}
	p := s.blobPath(h)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	size, err := l.Size()
	if err != nil {
		return err
	}
	vr := verified.NewReader(rc, h, size)
	return atomicfile.Write(p, func(w io.Writer) error {
		_, err := io.Copy(w, vr)
		return err
	})
}

// lock takes an exclusive lock on the layout's index, so that writers on
// one file system merge one after another.
func (s *layoutStore) lock() (func(), error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache ref %s: %w", s, err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, ".assemble-cache.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache ref %s: %w", s, err)
	}
	if err := flock.Lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache ref %s: locking: %w", s, err)
	}
	return func() { flock.Unlock(f); f.Close() }, nil //nolint:errcheck // closing releases the lock anyway
}

// emptyConfigLayer is the artifact's empty config blob, stored like a layer.
func emptyConfigLayer() v1.Layer {
	return static.NewLayer(emptyConfig, emptyMediaType)
}

// lazyLayer is a registry blob known by its entry: digest, diffID, size
// and media type come from the entry, the bytes from the registry on read.
type lazyLayer struct {
	d layers.Descriptor
	s *registryStore
}

func (l *lazyLayer) Digest() (v1.Hash, error)            { return l.d.Digest, nil }
func (l *lazyLayer) DiffID() (v1.Hash, error)            { return l.d.DiffID, nil }
func (l *lazyLayer) Size() (int64, error)                { return l.d.Size, nil }
func (l *lazyLayer) MediaType() (types.MediaType, error) { return l.d.MediaType, nil }

func (l *lazyLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.s.open(context.Background(), l.d)
	if err != nil {
		return nil, err
	}
	return verified.NewReader(rc, l.d.Digest, l.d.Size), nil
}

func (l *lazyLayer) Uncompressed() (io.ReadCloser, error) {
	comp, ok := layers.CompressionFor(l.d.MediaType)
	if !ok {
		return nil, fmt.Errorf("layer %s: unknown media type %s", l.d.Digest, l.d.MediaType)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	zr, err := comp.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

var _ store = (*registryStore)(nil)
var _ store = (*layoutStore)(nil)

// refNameAnnotation names a manifest in an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"
