// Package remotecache is the layer cache shared by machines through a
// registry they already have (or an OCI layout carried between CI jobs):
// --cache-from and --cache-to.
//
// A cache ref is one tag holding one OCI artifact manifest (artifact type
// application/vnd.assemble.layer-cache.v1) whose layers are the cached
// layer blobs, each annotated with its key, diffID and creation time. A
// build reads that manifest once per ref and matches every key locally, so
// a lookup costs one request per ref, not one per layer.
//
// Registries have no compare-and-swap, so a writer uploads its blobs, then
// reads the manifest, merges its entries in, puts it, and reads it again
// after a short random pause: if another writer's put replaced its entries
// it merges and puts again (up to a bound). An OCI layout is written under
// an exclusive file lock instead.
package remotecache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/assemble-build/assemble/internal/ctxtime"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
)

// Option configures New.
type Option func(*config)

type config struct {
	reg    *remote.Registries
	chunks *remote.Chunking
	mount  map[string]bool
	now    func() time.Time
	pause  time.Duration
	writes int
}

// WithRegistries sets how registries are reached (default: the zero value).
func WithRegistries(r *remote.Registries) Option { return func(c *config) { c.reg = r } }

// WithChunkedUpload sets which blobs --cache-to uploads to a registry in
// chunks: those of at least threshold bytes, in PATCHes of chunkSize,
// resumed at the registry's offset after a dropped connection, as a push
// does (see sink.WithChunkedUpload). Zero values keep the defaults (1 GiB,
// 64 MiB); a negative threshold sends every blob in one request.
func WithChunkedUpload(threshold, chunkSize int64) Option {
	return func(c *config) { c.chunks = &remote.Chunking{Threshold: threshold, Size: chunkSize} }
}

// WithMountInto names the registries (host[:port]) the build's images go
// to and nowhere else. A hit in a cache ref on one of them is used in
// place: the push mounts it from the cache's repository, and it is never
// downloaded unless the build reads it.
func WithMountInto(hosts ...string) Option {
	return func(c *config) {
		for _, h := range hosts {
			c.mount[h] = true
		}
	}
}

// WithClock sets the clock that stamps new entries (tests of pruning).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Caches is the set of shared caches of one build: read from the
// --cache-from refs in order, write to the --cache-to ref. It implements
// layers.Shared.
type Caches struct {
	cfg  config
	from []*ref
	to   *ref

	mu      sync.Mutex
	records map[string]record
}

type record struct {
	Entry
	layer v1.Layer
}

// ref is one cache ref and, once read, its entries.
type ref struct {
	store   store
	once    sync.Once
	entries map[string]Entry
	err     error
	hits    atomic.Int64
	misses  atomic.Int64
	written atomic.Int64
}

// New opens the cache refs (nothing is read until the first lookup).
func New(from []string, to string, opts ...Option) (*Caches, error) {
	c := &Caches{cfg: config{reg: &remote.Registries{}, chunks: &remote.Chunking{}, mount: map[string]bool{}, now: time.Now, pause: 200 * time.Millisecond, writes: 8}, records: map[string]record{}}
	for _, o := range opts {
		o(&c.cfg)
	}
	for _, spec := range from {
		s, err := parseRef(spec, c.cfg)
		if err != nil {
			return nil, fmt.Errorf("--cache-from: %w", err)
		}
		c.from = append(c.from, &ref{store: s})
	}
	if to != "" {
		s, err := parseRef(to, c.cfg)
		if err != nil {
			return nil, fmt.Errorf("--cache-to: %w", err)
		}
		c.to = &ref{store: s}
	}
	return c, nil
}

// load reads r's manifest once. A cache that cannot be read is a warning:
// the build goes on without it.
func (r *ref) load(ctx context.Context) map[string]Entry {
	r.once.Do(func() {
		raw, err := r.store.read(ctx)
		if err == nil && raw != nil {
			r.entries, err = decode(raw, r.store.String())
		}
		if err != nil {
			r.err = err
			logctx.From(ctx).Warn("shared layer cache not used", "cache", r.store.String(), "err", err)
		}
	})
	return r.entries
}

// Lookup implements layers.Shared: the first --cache-from ref holding key.
func (c *Caches) Lookup(ctx context.Context, key string) (layers.SharedHit, bool) {
	for _, r := range c.from {
		e, ok := r.load(ctx)[key]
		if !ok {
			r.misses.Add(1)
			continue
		}
		r.hits.Add(1)
		hit := layers.SharedHit{Descriptor: e.Descriptor, Source: r.store.String()}
		if rs, ok := r.store.(*registryStore); ok && c.mounts(rs.tag.RegistryStr()) {
			hit.Layer = rs.mountable(e.Descriptor)
		} else {
			s, d := r.store, e.Descriptor
			hit.Open = func(ctx context.Context) (io.ReadCloser, error) { return s.open(ctx, d) }
		}
		return hit, true
	}
	return layers.SharedHit{}, false
}

// Record implements layers.Shared: key is kept for Flush.
func (c *Caches) Record(key string, d layers.Descriptor, l v1.Layer) {
	if c.to == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records[key] = record{Entry: Entry{Key: key, Descriptor: d, Created: c.cfg.now().UTC().Truncate(time.Second)}, layer: l}
}

// Stats is what one cache ref cost and gave.
type Stats struct {
	Ref      string `json:"ref"`
	Requests int64  `json:"requests"` // manifest reads and writes, blob downloads and uploads (an upload is a HEAD and a mount or POST/PUT)
	Hits     int64  `json:"hits"`
	Misses   int64  `json:"misses"`
	Written  int    `json:"written,omitempty"` // entries added by Flush
}

// Stats reports every ref, --cache-from ones first.
func (c *Caches) Stats() []Stats {
	var out []Stats
	for _, r := range c.from {
		out = append(out, Stats{Ref: r.store.String(), Requests: r.store.requests(), Hits: r.hits.Load(), Misses: r.misses.Load()})
	}
	if c.to != nil {
		out = append(out, Stats{Ref: c.to.store.String() + " (cache-to)", Requests: c.to.store.requests(), Written: int(c.to.written.Load())})
	}
	return out
}

// SetMountInto is WithMountInto for a build whose outputs are known only
// once it is planned; lookups made before it download their hits.
func (c *Caches) SetMountInto(hosts ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	WithMountInto(hosts...)(&c.cfg)
}

func (c *Caches) mounts(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.mount[host]
}

// Flush writes the recorded entries the --cache-to ref lacks: their blobs
// first, then the manifest, merged with what other writers put meanwhile.
// mountFrom names repositories the build pushed to: a blob the cache lacks
// is mounted from the first of them on the cache's registry, and uploaded
// only when the registry cannot mount it.
func (c *Caches) Flush(ctx context.Context, mountFrom ...name.Repository) (int, error) {
	if c.to == nil {
		return 0, nil
	}
	s := c.to.store
	current, err := readEntries(ctx, s)
	if err != nil {
		return 0, err
	}
	ours := c.pending(current)
	if len(ours) == 0 {
		return 0, nil
	}
	if err := c.upload(ctx, ours, mountFrom); err != nil {
		return 0, fmt.Errorf("--cache-to %s: %w", s, err)
	}
	entries := make(map[string]Entry, len(ours))
	for k, r := range ours {
		entries[k] = r.Entry
	}
	if err := c.mergeWrite(ctx, entries); err != nil {
		return 0, fmt.Errorf("--cache-to %s: %w", s, err)
	}
	c.to.written.Store(int64(len(entries)))
	return len(entries), nil
}

func readEntries(ctx context.Context, s store) (map[string]Entry, error) {
	raw, err := s.read(ctx)
	if err != nil || raw == nil {
		return map[string]Entry{}, err
	}
	return decode(raw, s.String())
}

// pending is what was recorded and current lacks (or has with another blob).
func (c *Caches) pending(current map[string]Entry) map[string]record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]record{}
	for k, r := range c.records {
		if e, ok := current[k]; !ok || e.Digest != r.Digest {
			out[k] = r
		}
	}
	return out
}

func (c *Caches) upload(ctx context.Context, ours map[string]record, mountFrom []name.Repository) error {
	s := c.to.store
	var from *name.Repository
	if rs, ok := s.(*registryStore); ok {
		for _, r := range mountFrom {
			if r.RegistryStr() == rs.tag.RegistryStr() && r.String() != rs.tag.Context().String() {
				from = &r
				break
			}
		}
	}
	keys := make([]string, 0, len(ours))
	for k := range ours {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	done := map[v1.Hash]bool{}
	for _, k := range keys {
		r := ours[k]
		if done[r.Digest] {
			continue
		}
		done[r.Digest] = true
		l := r.layer
		if _, ok := l.(*ggcr.MountableLayer); !ok && from != nil {
			l = &ggcr.MountableLayer{Layer: l, Reference: from.Digest(r.Digest.String())}
		}
		if err := s.putBlob(ctx, l); err != nil {
			return fmt.Errorf("uploading layer %s: %w", r.Digest, err)
		}
	}
	return s.putBlob(ctx, emptyConfigLayer())
}

// mergeWrite merges ours into the manifest until a read after the write
// finds every key of ours. A failed write is tried again too: a registry
// that several writers upload the same blob to may for a moment call it
// unknown (distribution does).
func (c *Caches) mergeWrite(ctx context.Context, ours map[string]Entry) error {
	s := c.to.store
	fallback := false
	for attempt := 1; ; attempt++ {
		lost, err := c.mergeOnce(ctx, ours, &fallback)
		if err == nil && len(lost) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == c.cfg.writes {
			if err != nil {
				return err
			}
			return fmt.Errorf("%d entries still missing after %d writes (another writer keeps replacing the manifest)", len(lost), attempt)
		}
		if err != nil {
			logctx.From(ctx).Info("writing the shared cache failed; trying again", "cache", s.String(), "err", err)
			if err := ctxtime.Sleep(ctx, c.cfg.pause/2+rand.N(c.cfg.pause)); err != nil {
				return err
			}
			continue
		}
		logctx.From(ctx).Info("shared cache written over by another writer; merging again", "cache", s.String(), "missing", len(lost))
	}
}

// mergeOnce is one read-merge-write, then the read that checks it. The
// pause before the check lets a concurrent writer's put land first, so
// that its loss of our entries is seen.
func (c *Caches) mergeOnce(ctx context.Context, ours map[string]Entry, fallback *bool) ([]string, error) {
	s := c.to.store
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	current, err := readEntries(ctx, s)
	if err == nil {
		err = put(ctx, s, merge(current, ours), fallback)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	if _, ok := s.(*registryStore); ok {
		if err := ctxtime.Sleep(ctx, c.cfg.pause/2+rand.N(c.cfg.pause)); err != nil {
			return nil, err
		}
	}
	got, err := readEntries(ctx, s)
	if err != nil {
		return nil, err
	}
	return missing(got, ours), nil
}

// put writes the manifest with artifactType, and with the artifact type as
// the config's media type when the registry refuses the first form.
func put(ctx context.Context, s store, entries map[string]Entry, fallback *bool) error {
	raw, err := encode(entries, *fallback)
	if err != nil {
		return err
	}
	err = s.write(ctx, raw)
	if err != nil && !*fallback && refusesArtifact(err) {
		logctx.From(ctx).Info("registry refused an OCI 1.1 artifact manifest; writing the image-manifest form", "cache", s.String(), "err", err)
		*fallback = true
		return put(ctx, s, entries, fallback)
	}
	return err
}

// refusesArtifact tells a registry refusing the OCI 1.1 form (400 or 415
// MANIFEST_INVALID or UNSUPPORTED) from other failures, such as a blob it
// does not know yet.
func refusesArtifact(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) || (terr.StatusCode != http.StatusBadRequest && terr.StatusCode != http.StatusUnsupportedMediaType) {
		return false
	}
	refused := false
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestInvalidErrorCode, transport.UnsupportedErrorCode:
			refused = true
		case transport.ManifestBlobUnknownErrorCode, transport.BlobUnknownErrorCode, transport.DigestInvalidErrorCode:
			return false
		}
	}
	return refused
}

var _ layers.Shared = (*Caches)(nil)
