package conda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
)

// Fetcher downloads package files into the cache's download store, each
// checked against its repodata sha256 before it is kept.
type Fetcher struct {
	cache   *layers.Cache
	client  *http.Client
	offline bool
	workers int
}

// FetchOption configures a Fetcher.
type FetchOption func(*Fetcher)

// WithHTTPClient fetches https and http URLs with c (default: the shared
// client of internal/remote, with retries and proxies).
func WithHTTPClient(c *http.Client) FetchOption { return func(f *Fetcher) { f.client = c } }

// Offline never fetches: every package must already be in the download
// store (a build after `assemble fetch`, or after a connected build).
func Offline() FetchOption { return func(f *Fetcher) { f.offline = true } }

// WithFetchWorkers caps how many packages are downloaded at once (default
// the number of CPUs, at least 4).
func WithFetchWorkers(n int) FetchOption {
	return func(f *Fetcher) {
		if n > 0 {
			f.workers = n
		}
	}
}

// NewFetcher returns a fetcher storing into cache.
func NewFetcher(cache *layers.Cache, opts ...FetchOption) *Fetcher {
	f := &Fetcher{cache: cache, workers: max(4, runtime.GOMAXPROCS(0))}
	for _, o := range opts {
		o(f)
	}
	if f.client == nil && !f.offline {
		f.client = remote.DefaultHTTPClient()
	}
	return f
}

// ErrOffline marks a package an offline build needs but the store lacks.
var ErrOffline = errors.New("not in the download store (offline)")

// Fetch returns the path of r's package file in the download store,
// downloading it when it is not there. Content whose sha256 is not the
// repodata's is refused and nothing is kept.
func (f *Fetcher) Fetch(ctx context.Context, r Record) (string, error) {
	want, err := recordDigest(r)
	if err != nil {
		return "", err
	}
	var fetch func(context.Context, io.Writer) error
	got := sha256.New()
	if !f.offline {
		fetch = func(ctx context.Context, w io.Writer) error { return f.get(ctx, r.URL, io.MultiWriter(w, got)) }
	}
	p, _, err := f.cache.Download(ctx, want, fetch)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, layers.ErrNotCached):
		return "", fmt.Errorf("conda package %s (%s, %s): %w", r.Filename, redact.Password(r.URL), want, ErrOffline)
	case errors.Is(err, layers.ErrDigestMismatch):
		return "", fmt.Errorf("conda package %s from %s has sha256:%x, but the channel's repodata says %s; the file or the index is corrupt or was tampered with, and nothing was kept: %w",
			r.Filename, redact.Password(r.URL), got.Sum(nil), want, layers.ErrDigestMismatch)
	}
	return "", fmt.Errorf("conda package %s: %w", r.Filename, err)
}

// FetchAll fetches every record, several at once, and returns their paths
// in order. Every failure is reported, so an offline build lists all it lacks.
func (f *Fetcher) FetchAll(ctx context.Context, recs []Record) ([]string, error) {
	paths := make([]string, len(recs))
	errs := make([]error, len(recs))
	sem := make(chan struct{}, f.workers)
	var wg sync.WaitGroup
	for i := range recs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			paths[i], errs[i] = f.Fetch(ctx, recs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return paths, nil
}

// recordDigest is r's sha256 as the download store names it.
func recordDigest(r Record) (string, error) {
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != 32 {
		if r.SHA256 == "" {
			return "", fmt.Errorf("conda package %s has no sha256 in the channel's repodata (only md5?); every package is checked by sha256, so it cannot be installed", r.Filename)
		}
		return "", fmt.Errorf("conda package %s: repodata sha256 %q is not 64 hex digits", r.Filename, r.SHA256)
	}
	return "sha256:" + strings.ToLower(r.SHA256), nil
}

// get copies the content at rawURL (https, http or file) to w.
func (f *Fetcher) get(ctx context.Context, rawURL string, w io.Writer) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("package URL %q: %w", redact.Password(rawURL), err)
	}
	switch u.Scheme {
	case "file":
		fh, err := os.Open(u.Path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", u.Path, err)
		}
		defer fh.Close()
		_, err = io.Copy(w, fh)
		return err
	case "http", "https":
	default:
		return fmt.Errorf("package URL %q: scheme %q is not supported (want https, http or file)", redact.Password(rawURL), u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", redact.Password(rawURL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", redact.Password(rawURL), resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", redact.Password(rawURL), err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("fetching %s: got %d of %d bytes", redact.Password(rawURL), n, resp.ContentLength)
	}
	return nil
}
