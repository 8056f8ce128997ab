package remote

import (
	"net/http"
	"sync"
	"time"
)

// DownloadRetry is used for zero fields of WithRetry in NewHTTPClient:
// about what pip does (a few tries within seconds), so that a server that
// is down fails a build quickly.
var DownloadRetry = Retry{Attempts: 4, Initial: 250 * time.Millisecond, Max: 30 * time.Second}

type httpConfig struct {
	base   http.RoundTripper
	retry  Retry
	header time.Duration
}

// HTTPOption configures NewHTTPClient.
type HTTPOption func(*httpConfig)

// WithHTTPTransport replaces the base transport (tests; default BaseTransport()).
func WithHTTPTransport(rt http.RoundTripper) HTTPOption {
	return func(c *httpConfig) { c.base = rt }
}

// WithRetry sets how requests answered 408, 429 or 5xx, or not answered at
// all (GET and HEAD), are retried; zero fields keep DownloadRetry's.
func WithRetry(r Retry) HTTPOption { return func(c *httpConfig) { c.retry = r } }

// WithResponseHeaderTimeout bounds the wait for a response's headers
// (default 2 minutes). Bodies have no time limit: large files take long on
// slow links, and contexts bound a whole build.
func WithResponseHeaderTimeout(d time.Duration) HTTPOption {
	return func(c *httpConfig) { c.header = d }
}

// NewHTTPClient returns a client for plain downloads (Debian archives,
// Python indexes, Dockerfile ADD URLs): proxies from the environment, dial
// and TLS-handshake timeouts, a response-header timeout, retries honouring
// Retry-After, and one redacted debug line per request.
func NewHTTPClient(opts ...HTTPOption) *http.Client {
	c := httpConfig{header: 2 * time.Minute}
	for _, o := range opts {
		o(&c)
	}
	base := c.base
	if base == nil {
		t := BaseTransport()
		t.ResponseHeaderTimeout = c.header
		base = t
	}
	rt := newRetryTransport(&logTransport{inner: base, what: "http request"},
		c.retry.withDefaults(DownloadRetry), "server busy, retrying", true)
	return &http.Client{Transport: rt}
}

// DefaultHTTPClient is one NewHTTPClient() shared by every client that is
// given none, so that downloads share one connection pool as they did
// through http.DefaultClient.
var DefaultHTTPClient = sync.OnceValue(func() *http.Client { return NewHTTPClient() })
