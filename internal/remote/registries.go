// Package remote is the one way this module reaches the network: registries
// (credentials from Docker's and podman's files and helpers or given on the
// command line, logins checked and stored as podman login does, insecure
// hosts, retries honouring Retry-After, proxies, redacted logs) and plain HTTP
// downloads (Debian archives, Python indexes, Dockerfile ADD URLs) with
// timeouts and the same retries.
package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registries is how sources, sinks and copies reach registries:
// credentials, insecure hosts, the HTTP transport and retries. The zero
// value is ready to use. It builds its transport once, so share one value
// (by pointer) between the calls of one run to reuse connections.
type Registries struct {
	Keychain authn.Keychain // nil: DefaultKeychain()
	Insecure []string       // hosts ("host" or "host:port") reached over plain HTTP or unverified TLS
	// NoTLSVerify treats every host as listed in Insecure: skopeo's
	// --tls-verify=false, for the one registry of a source or destination.
	NoTLSVerify bool
	Transport   http.RoundTripper // nil: BaseTransport() (honours HTTP(S)_PROXY)
	Retry       Retry             // zero fields: DefaultRetry's
	Jobs        int               // concurrent blob transfers; 0: 4

	once sync.Once
	rt   http.RoundTripper
}

// ConcurrentJobs returns the number of concurrent blob transfers to use.
func (r *Registries) ConcurrentJobs() int {
	if r.Jobs > 0 {
		return r.Jobs
	}
	return 4
}

// Reference parses a registry reference, marking hosts listed in Insecure so
// that ggcr may fall back to plain HTTP for them.
func (r *Registries) Reference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	if r.isInsecure(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(s, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
		}
	}
	return ref, nil
}

func (r *Registries) isInsecure(host string) bool {
	if r.NoTLSVerify {
		return true
	}
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	for _, i := range r.Insecure {
		i = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(i, "https://"), "http://"), "/")
		if i == "docker.io" {
			i = name.DefaultRegistry
		}
		if i == host || i == hostname {
			return true
		}
	}
	return false
}

// Options returns the ggcr remote options for one operation. Requests log
// to the logger ctx carries (see internal/logctx).
func (r *Registries) Options(ctx context.Context) []ggcr.Option {
	r.once.Do(r.build)
	kc := r.Keychain
	if kc == nil {
		kc = DefaultKeychain()
	}
	rt := r.Retry.withDefaults(DefaultRetry)
	return []ggcr.Option{
		ggcr.WithContext(ctx),
		ggcr.WithAuthFromKeychain(kc),
		ggcr.WithTransport(r.rt),
		ggcr.WithJobs(r.ConcurrentJobs()),
		ggcr.WithUserAgent("assemble"),
		// Status codes are retried (honouring Retry-After) by our own transport;
		// ggcr retries only network errors and restarts of failed blob uploads,
		// so that no failure is retried by two layers at once.
		ggcr.WithRetryStatusCodes(),
		ggcr.WithRetryPredicate(ggcrRetryable),
		ggcr.WithRetryBackoff(ggcr.Backoff{Duration: rt.Initial, Factor: 2, Jitter: 0.1, Steps: rt.Attempts}),
	}
}

func (r *Registries) build() {
	base := r.Transport
	if base == nil {
		base = &hostSwitch{secure: BaseTransport(), insecure: InsecureTLS(BaseTransport()), isInsecure: r.isInsecure}
	}
	r.rt = newRetryTransport(&logTransport{inner: base, what: "registry request"},
		r.Retry.withDefaults(DefaultRetry), "registry busy, retrying", false)
}

// BaseTransport returns a new clone of ggcr's default transport: proxies
// from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, dial, TLS-handshake and
// idle timeouts, HTTP/2.
func BaseTransport() *http.Transport {
	dt, ok := ggcr.DefaultTransport.(*http.Transport)
	if !ok {
		dt = http.DefaultTransport.(*http.Transport)
	}
	return dt.Clone()
}

// InsecureTLS returns a clone of t that does not verify TLS certificates,
// for hosts the user named as insecure (self-signed registries).
func InsecureTLS(t *http.Transport) *http.Transport {
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for hosts the user listed as insecure
	return t
}

// hostSwitch skips TLS verification only for the hosts given as insecure.
type hostSwitch struct {
	secure, insecure http.RoundTripper
	isInsecure       func(host string) bool
}

func (h *hostSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.isInsecure(req.URL.Host) {
		return h.insecure.RoundTrip(req)
	}
	return h.secure.RoundTrip(req)
}

// ggcrRetryable decides what ggcr itself retries: network failures (for any
// request) and temporary failures of blob upload PATCHes, which our transport
// cannot replay because the registry may hold part of the upload; ggcr then
// restarts that blob's upload from its POST.
func ggcrRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Request != nil && te.Request.Method == http.MethodPatch && te.Temporary()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// PutManifest writes one manifest or index at ref without anything it
// references: skopeo copy --multi-arch index-only, for a registry that
// already holds the images. Registries refuse an index whose images are
// missing.
func (r *Registries) PutManifest(ctx context.Context, ref name.Reference, m ggcr.Taggable) error {
	return AuthError(ref, ggcr.Put(ref, m, r.Options(ctx)...))
}

// IsManifestBlobUnknown says whether a registry refused a manifest because
// something it references is missing.
func IsManifestBlobUnknown(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestBlobUnknownErrorCode {
			return true
		}
	}
	return false
}
