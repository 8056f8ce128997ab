package layers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/iocount"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/testhook"
)

// BuildOption adjusts how a layer is built.
type BuildOption func(*buildOptions)

type buildOptions struct {
	compression Compression
	modTime     time.Time
	progress    func(written int64)
	shared      Shared
}

// WithCompression picks the compressor (default Gzip).
func WithCompression(c Compression) BuildOption {
	return func(o *buildOptions) { o.compression = c }
}

// WithModTime sets every entry's mtime (default the Unix epoch).
func WithModTime(t time.Time) BuildOption {
	return func(o *buildOptions) { o.modTime = t }
}

// WithWriteProgress reports the uncompressed bytes written so far while a
// layer is built (not called on a cache hit).
func WithWriteProgress(f func(written int64)) BuildOption {
	return func(o *buildOptions) { o.progress = f }
}

// Result is a built (or cached) layer.
type Result struct {
	Descriptor
	Key string // the full layer key (hex), as stored under keys/
	Hit bool   // true when the layer came from the cache
	// Shared is true when the hit came from a shared cache (WithShared).
	Shared bool
	layer  v1.Layer // a shared hit used in place (see LayerOf)
}

// Build returns the layer for spec from the cache, or writes it once and
// stores it. The key covers FormatVersion, the compressor's parameters, the
// mtime and spec.Key, so any change to them is a miss.
//
// A spec keyed by its own tar (tarKeyed: a Files tree outside git) costs a
// full read of its tree to key. The first time this cache builds such a
// source it writes the layer in one pass and takes the key from it (the
// diffID); a source built before is keyed first, so that an unchanged tree
// is read once and never compressed. Both give the same key and blob.
func (c *Cache) Build(ctx context.Context, spec Spec, opts ...BuildOption) (Result, error) {
	o := newBuildOptions(opts)
	src, onePass, err := c.firstSight(ctx, spec, o)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if onePass {
		res, err = c.buildOnePass(ctx, spec, o)
	} else {
		var specKey string
		if specKey, err = c.specKey(ctx, spec, o); err == nil {
			res, err = c.build(ctx, spec, fullKey(specKey, o), o)
		}
	}
	if err != nil {
		return Result{}, err
	}
	if src != "" {
		c.sawSource(ctx, src)
	}
	if o.shared != nil {
		o.shared.Record(res.Key, res.Descriptor, c.LayerOf(res))
	}
	return res, nil
}

func newBuildOptions(opts []BuildOption) buildOptions {
	o := buildOptions{compression: Gzip, modTime: time.Unix(0, 0)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// tarKeyed is a spec whose key, when keyedByTar says so, is the diffID of
// its own tar written at the build's mtime (see Files.keyAt).
type tarKeyed interface {
	keyedByTar(ctx context.Context) (bool, error)
	keyAt(ctx context.Context, modTime time.Time) (string, error)
	sourceID() string
}

// specKey is spec's key for a build with o.
func (c *Cache) specKey(ctx context.Context, spec Spec, o buildOptions) (string, error) {
	if tk, ok := spec.(tarKeyed); ok {
		return tk.keyAt(ctx, o.modTime)
	}
	return spec.Key(ctx)
}

// firstSight returns, for a spec keyed by its tar, the name of its record
// in the sources namespace, and whether this cache has none: then the
// layer is written in one pass. With a shared cache the key comes first,
// to ask it before writing anything.
func (c *Cache) firstSight(ctx context.Context, spec Spec, o buildOptions) (src string, onePass bool, err error) {
	tk, ok := spec.(tarKeyed)
	if !ok {
		return "", false, nil
	}
	byTar, err := tk.keyedByTar(ctx)
	if err != nil || !byTar {
		return "", false, err
	}
	h := sha256.New()
	for _, part := range []string{tk.sourceID(), o.compression.Params(), strconv.FormatInt(o.modTime.Unix(), 10)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	src = hex.EncodeToString(h.Sum(nil))
	if o.shared != nil {
		return src, false, nil
	}
	_, seen, err := c.sources().Get(src)
	return src, !seen && err == nil, nil // an unreadable record: key first, the safe way
}

// sources records the tar-keyed sources this cache has built: an empty
// entry per source (directory, options, compressor, mtime), touched on
// every build. Losing one costs a one-pass build, never a wrong layer.
func (c *Cache) sources() *Namespace { return c.Namespace("sources") }

// sawSource records src, or refreshes its mtime for Prune. The entry is
// empty, so it needs neither an atomic write nor an fsync.
func (c *Cache) sawSource(ctx context.Context, src string) {
	p := c.sources().Path(src)
	now := time.Now()
	if os.Chtimes(p, now, now) == nil {
		return
	}
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil {
		var f *os.File
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		logctx.From(ctx).Debug("cannot record a layer source; its next build writes it in one pass again", "err", err)
	}
}

// buildOnePass writes the layer of a tar-keyed spec and takes its key from
// the diffID of what was written. When that key is in the cache already
// (the same tree elsewhere), its descriptor is kept: the blob is the same.
func (c *Cache) buildOnePass(ctx context.Context, spec Spec, o buildOptions) (Result, error) {
	entries, err := spec.Entries(ctx)
	if err != nil {
		return Result{}, err
	}
	d, err := c.writeLayer(ctx, entries, o)
	if err != nil {
		return Result{}, fmt.Errorf("writing layer %s: %w", spec.Describe(), err)
	}
	key := fullKey(tarKey(d.DiffID), o)
	if cached, ok := c.lookup(ctx, key); ok && cached.Digest == d.Digest {
		logctx.From(ctx).Debug("layer written in one pass, already cached", "layer", spec.Describe(), "digest", d.Digest)
		return Result{Descriptor: cached, Key: key}, nil
	}
	d.Description = spec.Describe()
	if err := c.storeKey(key, d); err != nil {
		return Result{}, err
	}
	logctx.From(ctx).Debug("layer built in one pass", "layer", spec.Describe(), "digest", d.Digest, "size", d.Size)
	return Result{Descriptor: d, Key: key}, nil
}

// build takes key from this cache, else the shared one, else writes it.
func (c *Cache) build(ctx context.Context, spec Spec, key string, o buildOptions) (Result, error) {
	if d, ok := c.lookup(ctx, key); ok {
		logctx.From(ctx).Debug("layer cache hit", "layer", spec.Describe(), "digest", d.Digest)
		return Result{Descriptor: d, Key: key, Hit: true}, nil
	}
	if res, ok := c.fromShared(ctx, o, key, spec); ok {
		return res, nil
	}
	entries, err := spec.Entries(ctx)
	if err != nil {
		return Result{}, err
	}
	d, err := c.writeLayer(ctx, entries, o)
	if err != nil {
		return Result{}, fmt.Errorf("writing layer %s: %w", spec.Describe(), err)
	}
	d.Description = spec.Describe()
	if err := c.storeKey(key, d); err != nil {
		return Result{}, err
	}
	logctx.From(ctx).Debug("layer built", "layer", spec.Describe(), "digest", d.Digest, "size", d.Size)
	return Result{Descriptor: d, Key: key}, nil
}

func fullKey(specKey string, o buildOptions) string {
	h := sha256.New()
	for _, part := range []string{FormatVersion, o.compression.Params(), "mtime=" + strconv.FormatInt(o.modTime.Unix(), 10), specKey} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeLayer writes the layer to a temp file in one pass (compressTar), then
// renames the file into blobs/.
func (c *Cache) writeLayer(ctx context.Context, entries []Entry, o buildOptions) (Descriptor, error) {
	tmp, err := c.TempFile("layer-*")
	if err != nil {
		return Descriptor{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	d, err := compressTar(ctx, tmp, entries, o)
	if err != nil {
		return Descriptor{}, err
	}
	testhook.Pause("layer-write") // written, not yet in blobs/: the kill test stops here
	if err := tmp.Close(); err != nil {
		return Descriptor{}, fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	p, err := c.blobs.PutFile(d.Digest.Hex, tmp.Name())
	if err != nil {
		return Descriptor{}, fmt.Errorf("storing layer: %w", err)
	}
	c.markVerified(p)
	if fi, err := os.Stat(p); err == nil {
		c.writeStamp(p, fi)
	}
	return d, nil
}

// compressTar writes entries as a tar through the diffID hash into the
// compressor, and the compressed stream through the digest hash and a buffer
// into f. Both compressors run their own workers (zstd's jobs, pgzip's
// blocks), so the tar goes to them with no pipe: this goroutine reads the
// files and hashes the tar, the workers compress, and the one that writes
// their output in order hashes it. The compressor reads the tar (ReadFrom)
// rather than being written to: zstd reads each file's content straight
// into its job buffers. Its one ReadFrom from a fresh stream is all its
// input, so its cuts fall where writes would put them (every job full).
func compressTar(ctx context.Context, f io.Writer, entries []Entry, o buildOptions) (Descriptor, error) {
	tr, err := NewTarReader(entries, o.modTime)
	if err != nil {
		return Descriptor{}, err
	}
	defer tr.Close()
	digester := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, digester), 64<<10) // coalesces headers and trailers; jobs and blocks pass through
	counted := &iocount.Writer{W: bw}
	zw, err := o.compression.NewWriter(counted)
	if err != nil {
		return Descriptor{}, err
	}
	diffIDer := sha256.New()
	if _, err := zw.ReadFrom(&layerReader{ctx: ctx, r: tr, h: diffIDer, progress: o.progress}); err != nil {
		zw.Close() // stops the compressor's workers; the tar's error is the one to report
		return Descriptor{}, err
	}
	if err := zw.Close(); err != nil {
		return Descriptor{}, fmt.Errorf("compressing layer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Descriptor{}, fmt.Errorf("writing layer: %w", err)
	}
	return Descriptor{
		MediaType: o.compression.MediaType(),
		Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digester.Sum(nil))},
		DiffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffIDer.Sum(nil))},
		Size:      counted.N,
	}, nil
}

// layerReader hashes the tar as the compressor reads it, reports progress
// and stops when the context is cancelled.
type layerReader struct {
	ctx      context.Context
	r        io.Reader
	h        hash.Hash
	n        int64
	progress func(int64)
}

func (l *layerReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.r.Read(p)
	l.h.Write(p[:n])
	if n > 0 && l.progress != nil {
		l.n += int64(n)
		l.progress(l.n)
	}
	return n, err
}

// lookup returns the descriptor stored for key when its blob is intact; a
// missing, truncated or corrupt blob is a miss.
func (c *Cache) lookup(ctx context.Context, key string) (Descriptor, bool) {
	b, ok, err := c.keys.Get(key)
	if err != nil || !ok {
		return Descriptor{}, false
	}
	kp := c.keys.Path(key)
	var d Descriptor
	if err := json.Unmarshal(b, &d); err != nil || d.Digest.Hex == "" {
		logctx.From(ctx).Debug("ignoring unreadable cache key", "path", kp, "err", err)
		return Descriptor{}, false
	}
	bp := c.BlobPath(d.Digest)
	if !c.verifyFile(bp, d.Size, d.Digest) {
		logctx.From(ctx).Debug("cache blob missing or corrupt; rebuilding", "blob", bp)
		return Descriptor{}, false
	}
	touch(kp)
	c.used(bp)
	return d, true
}

func (c *Cache) storeKey(key string, d Descriptor) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return c.keys.Put(key, b)
}

// ctxWriter stops a long layer write when the context is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Has reports whether the layer for spec is in the cache, without building it.
func (c *Cache) Has(ctx context.Context, spec Spec, opts ...BuildOption) (bool, error) {
	o := newBuildOptions(opts)
	specKey, err := c.specKey(ctx, spec, o)
	if err != nil {
		return false, err
	}
	_, ok := c.lookup(ctx, fullKey(specKey, o))
	return ok, nil
}
