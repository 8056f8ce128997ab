package layers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/internal/atomicfile"
)

// Cache is a content-addressed store shaped like an OCI layout:
//
//	blobs/sha256/<hex>      compressed layers and other blobs
//	keys/<hex>              layer key -> descriptor (JSON)
//	downloads/sha256/<hex>  verified inputs (.deb, wheels, indexes)
//	refs/<hex>              name (e.g. a URL) -> digest in downloads, for offline use
//	verified/<path>         verification stamps (see stampOf)
//	tmp/                    files and folders being written
//	<name>/<key>            other packages' namespaces (probes, deb-resolve, listings)
//
// Each folder is a Namespace; a package keeping something in the cache gets
// its own with Cache.Namespace. Every write goes to a temporary file in the same directory and is renamed
// into place, so several processes may share one cache. Reads verify size and
// digest; a bad entry is a miss.
type Cache struct {
	dir string

	// The cache's own namespaces; packages register theirs with Namespace.
	blobs, keys, downloads, refs, stamps, tmp, locks *Namespace

	nsMu       sync.Mutex
	namespaces []*Namespace

	mu       sync.Mutex
	verified map[string]bool // blob paths whose digest was checked in this process
	inputs   *InputLog       // when set, records the download store's uses (LogInputs)

	ownerMu sync.Mutex
	own     *tempOwner // this process's lock on its temporary items
}

// Descriptor is what a key maps to: a layer blob and its uncompressed digest.
type Descriptor struct {
	MediaType types.MediaType `json:"mediaType"`
	Digest    v1.Hash         `json:"digest"`
	Size      int64           `json:"size"`
	DiffID    v1.Hash         `json:"diffID"`
	// Created is when the key was first written; pruning uses the file's mtime.
	Description string `json:"description,omitempty"`
}

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// OpenCache opens (creating if needed) the cache at dir.
func OpenCache(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache directory is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	c := &Cache{dir: abs, verified: map[string]bool{}}
	c.registerOwn()
	for _, n := range c.namespaces {
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating cache directory %s: %w", abs, err)
		}
	}
	if err := writeIfMissing(filepath.Join(abs, "oci-layout"), []byte(ociLayoutFile)); err != nil {
		return nil, err
	}
	if err := writeIfMissing(filepath.Join(abs, "index.json"), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)); err != nil {
		return nil, err
	}
	return c, nil
}

// registerOwn registers the namespaces the cache itself keeps, in the order
// maintenance lists them: blobs before keys, so that Verify with fix removes
// a bad blob before it checks the keys naming it.
func (c *Cache) registerOwn() {
	own := func(name, dir string, opts ...NamespaceOption) *Namespace {
		n := c.register(name, dir, opts...)
		n.builtin = true
		return n
	}
	c.blobs = own("blobs", "blobs/sha256", WithEntryCheck(checkContentAddressed))
	c.keys = own("keys", "keys", WithEntryCheck(c.checkLayerKey))
	c.keys.dangling = c.danglingKey
	c.downloads = own("downloads", "downloads/sha256", WithEntryCheck(checkContentAddressed))
	// refs map names (URLs) to downloads; verified holds verification
	// stamps; tmp holds files and folders being written.
	c.refs = own("refs", "refs")
	c.stamps = own("verified", "verified")
	c.tmp = own("tmp", "tmp")
	// locks holds a lock file per process with temporary items (see
	// CleanTemp), apart from tmp so that tmp holds only content.
	c.locks = own("locks", "locks")
}

func writeIfMissing(path string, data []byte) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return atomicfile.WriteFile(path, data)
}

// DefaultCacheDir is $XDG_CACHE_HOME/assemble (or the OS equivalent).
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "assemble")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "assemble-cache")
	}
	return filepath.Join(d, "assemble")
}

// Dir is the cache's root directory.
func (c *Cache) Dir() string { return c.dir }

// BlobPath is where a blob with digest h lives (it may not exist).
func (c *Cache) BlobPath(h v1.Hash) string {
	if h.Algorithm != "sha256" {
		return filepath.Join(c.dir, "blobs", h.Algorithm, h.Hex)
	}
	return c.blobs.Path(h.Hex)
}

// DownloadPath is where the download with digest "sha256:<hex>" lives (it
// may not exist; Download checks it). Readers that open it directly are
// logged too (LogInputs): the bundle carries what is there.
func (c *Cache) DownloadPath(digest string) string {
	c.logDownload(digest)
	return c.downloads.Path(strings.TrimPrefix(digest, "sha256:"))
}

// TempFile creates a temporary file inside the cache, on the same file
// system as its final place, so it can be renamed there.
// It is named after this process's lock (see CleanTemp).
func (c *Cache) TempFile(pattern string) (*os.File, error) {
	id, err := c.owner()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(c.tmp.dir, id+"-"+pattern)
	if err != nil {
		return nil, fmt.Errorf("creating temporary file in cache %s: %w", c.dir, err)
	}
	return f, nil
}

// MkdirTemp creates a temporary folder inside the cache, for staging files
// on the cache's file system; the caller removes it.
func (c *Cache) MkdirTemp(pattern string) (string, error) {
	id, err := c.owner()
	if err != nil {
		return "", err
	}
	d, err := os.MkdirTemp(c.tmp.dir, id+"-"+pattern)
	if err != nil {
		return "", fmt.Errorf("creating temporary folder in cache %s: %w", c.dir, err)
	}
	return d, nil
}

// Download returns the path of a verified file in the download store
// (downloads/sha256/<hex>). want is "sha256:<hex>": when the file is already
// there and matches, it returns at once; otherwise fetch writes the content,
// the digest is checked, and the file is renamed into place. With want == ""
// the content is always fetched and its digest returned.
func (c *Cache) Download(ctx context.Context, want string, fetch func(ctx context.Context, w io.Writer) error) (path string, digest string, err error) {
	var wantHex string
	if want != "" {
		h, err := v1.NewHash(want)
		if err != nil || h.Algorithm != "sha256" {
			return "", "", fmt.Errorf("download digest %q: want sha256:<hex>", want)
		}
		wantHex = h.Hex
		p := c.downloads.Path(wantHex)
		if c.verifyFile(p, -1, h) {
			c.used(p)
			c.logDownload(want)
			return p, want, nil
		}
	}
	if fetch == nil {
		return "", "", fmt.Errorf("%s is not in the download cache %s: %w", want, c.dir, ErrNotCached)
	}
	tmp, err := c.TempFile("download-*")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(tmp.Name())
	hasher := sha256.New()
	if err := fetch(ctx, io.MultiWriter(tmp, hasher)); err != nil {
		tmp.Close()
		return "", "", err
	}
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	got := hex.EncodeToString(hasher.Sum(nil))
	if wantHex != "" && got != wantHex {
		return "", "", fmt.Errorf("downloaded content has digest sha256:%s, expected %s: %w", got, want, ErrDigestMismatch)
	}
	p, err := c.downloads.PutFile(got, tmp.Name())
	if err != nil {
		return "", "", err
	}
	c.markVerified(p)
	if fi, err := os.Stat(p); err == nil {
		c.writeStamp(p, fi)
	}
	c.logDownload("sha256:" + got)
	return p, "sha256:" + got, nil
}

// ErrNotCached means an input is not in the cache and may not be fetched (offline).
var ErrNotCached = errors.New("not in the cache")

// ErrDigestMismatch means content did not match its expected digest.
var ErrDigestMismatch = errors.New("digest mismatch")

// SetRef records that name (a URL, say) has content digest in the download
// store, so an offline build can find content whose digest is not known in advance.
func (c *Cache) SetRef(name, digest string) error {
	c.logRef(name, digest)
	return c.refs.Put(refKey(name), []byte(digest))
}

// Ref returns the digest recorded for name, if its content is still present and intact.
func (c *Cache) Ref(name string) (string, bool) {
	b, ok, err := c.refs.Get(refKey(name))
	if err != nil || !ok {
		return "", false
	}
	h, err := v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return "", false
	}
	if !c.verifyFile(c.downloads.Path(h.Hex), -1, h) {
		return "", false
	}
	c.logRef(name, h.String())
	return h.String(), true
}

// refKey names a ref's entry: names are URLs, keys are file names.
func refKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// verifyFile reports whether path exists with the given size (when size >= 0)
// and digest. A digest is checked once per process; later checks only stat.
func (c *Cache) verifyFile(path string, size int64, h v1.Hash) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if size >= 0 && fi.Size() != size {
		return false
	}
	c.mu.Lock()
	ok := c.verified[path]
	c.mu.Unlock()
	if ok {
		return true
	}
	if c.stampMatches(path, fi) {
		c.markVerified(path)
		return true
	}
	got, _, err := hashFile(path, h.Algorithm)
	if err != nil || got != h {
		return false
	}
	c.writeStamp(path, fi)
	c.markVerified(path)
	return true
}

// A stamp records that a file's digest was checked, with the file's size,
// mtime, inode and device then: a later process trusts a file whose stat
// still matches instead of hashing it again. Any write in place changes the
// mtime, a truncation the size, a replacement the inode; such a file is
// hashed again. (`assemble cache verify` hashes everything regardless.)

// stampKey names the stamp of the file at path: its path in the cache with
// dashes for slashes (blobs-sha256-<hex>).
func (c *Cache) stampKey(path string) string {
	rel, err := filepath.Rel(c.dir, path)
	if err != nil {
		rel = path
	}
	return strings.ReplaceAll(filepath.ToSlash(rel), "/", "-")
}

func stampOf(fi fs.FileInfo) string {
	var ino, dev uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino, dev = st.Ino, uint64(st.Dev)
	}
	return fmt.Sprintf("%d %d %d %d", fi.Size(), fi.ModTime().UnixNano(), ino, dev)
}

func (c *Cache) stampMatches(path string, fi fs.FileInfo) bool {
	b, ok, err := c.stamps.Get(c.stampKey(path))
	return err == nil && ok && string(b) == stampOf(fi)
}

func (c *Cache) writeStamp(path string, fi fs.FileInfo) {
	_ = c.stamps.Put(c.stampKey(path), []byte(stampOf(fi)))
}

// used marks a cache file as used now, for pruning, at most once a day (so
// its verification stamp stays valid between runs).
func (c *Cache) used(path string) {
	fi, err := os.Stat(path)
	if err != nil || time.Since(fi.ModTime()) < 24*time.Hour {
		return
	}
	touch(path)
	c.mu.Lock()
	verified := c.verified[path]
	c.mu.Unlock()
	if fi, err := os.Stat(path); err == nil && verified {
		c.writeStamp(path, fi)
	}
}

func (c *Cache) markVerified(path string) {
	c.mu.Lock()
	c.verified[path] = true
	c.mu.Unlock()
}

func hashFile(path, algorithm string) (v1.Hash, int64, error) {
	if algorithm != "sha256" {
		return v1.Hash{}, 0, fmt.Errorf("unsupported digest algorithm %q", algorithm)
	}
	f, err := os.Open(path)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer f.Close()
	var h hash.Hash = sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, n, nil
}

// touch marks an entry as used now, for pruning.
func touch(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}
