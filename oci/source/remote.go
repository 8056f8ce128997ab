package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"log/slog"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Retry says how registry requests are retried when the registry answers
// 408, 429 or 5xx. A Retry-After header (seconds or HTTP date) is honoured,
// capped at Max; without one the wait doubles from Initial, also capped at Max.
type Retry struct {
	Attempts int           // tries per request, including the first
	Initial  time.Duration // first wait when the registry gives no Retry-After
	Max      time.Duration // cap for any single wait
}

// DefaultRetry is used for zero fields of Remote.Retry.
var DefaultRetry = Retry{Attempts: 5, Initial: time.Second, Max: time.Minute}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Initial <= 0 {
		r.Initial = DefaultRetry.Initial
	}
	if r.Max <= 0 {
		r.Max = DefaultRetry.Max
	}
	return r
}

// Remote is how sources and sinks reach registries: credentials, insecure
// hosts, the HTTP transport and retries. The zero value is ready to use. A
// Remote builds its transport once, so share one value (by pointer) between
// the calls of one run to reuse connections.
type Remote struct {
	Keychain  authn.Keychain    // nil: DefaultKeychain()
	Insecure  []string          // hosts ("host" or "host:port") reached over plain HTTP or unverified TLS
	Transport http.RoundTripper // nil: a clone of remote.DefaultTransport (honours HTTP(S)_PROXY)
	Retry     Retry
	Jobs      int // concurrent blob transfers; 0: 4

	once sync.Once
	rt   http.RoundTripper
}

func (r *Remote) jobs() int {
	if r.Jobs > 0 {
		return r.Jobs
	}
	return 4
}

// ConcurrentJobs returns the number of concurrent blob transfers to use.
func (r *Remote) ConcurrentJobs() int { return r.jobs() }

// Reference parses a registry reference, marking hosts listed in Insecure so
// that ggcr may fall back to plain HTTP for them.
func (r *Remote) Reference(s string) (name.Reference, error) {
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

func (r *Remote) isInsecure(host string) bool {
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

// Options returns the ggcr remote options for one operation.
func (r *Remote) Options(ctx context.Context) []remote.Option {
	ensureGGCRLogs()
	r.once.Do(r.build)
	kc := r.Keychain
	if kc == nil {
		kc = DefaultKeychain()
	}
	rt := r.Retry.withDefaults()
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(r.rt),
		remote.WithJobs(r.jobs()),
		remote.WithUserAgent("assemble"),
		// Status codes are retried (honouring Retry-After) by our own transport;
		// ggcr retries only network errors and restarts of failed blob uploads,
		// so that no failure is retried by two layers at once.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(ggcrRetryable),
		remote.WithRetryBackoff(remote.Backoff{Duration: rt.Initial, Factor: 2, Jitter: 0.1, Steps: rt.Attempts}),
	}
}

func (r *Remote) build() {
	base := r.Transport
	if base == nil {
		dt, ok := remote.DefaultTransport.(*http.Transport)
		if !ok {
			dt = http.DefaultTransport.(*http.Transport)
		}
		secure := dt.Clone()
		insecure := dt.Clone()
		if insecure.TLSClientConfig == nil {
			insecure.TLSClientConfig = &tls.Config{}
		}
		insecure.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for hosts the user listed with --insecure-registry
		base = &hostSwitch{secure: secure, insecure: insecure, isInsecure: r.isInsecure}
	}
	r.rt = &retryTransport{
		inner:     &logTransport{inner: base},
		policy:    r.Retry.withDefaults(),
		notBefore: map[string]time.Time{},
		sleep:     sleepCtx,
		now:       time.Now,
	}
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

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, 499, 522:
		return true
	}
	return code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
}

// retryTransport retries replayable requests that fail with a retryable
// status. A Retry-After answer also holds back every other request to that
// host until the time has passed, which is what a rate limit asks for and
// what makes ggcr's own upload restarts honour the header too.
type retryTransport struct {
	inner  http.RoundTripper
	policy Retry
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time

	mu        sync.Mutex
	notBefore map[string]time.Time
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (t *retryTransport) hold(host string, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.notBefore[host]) {
		t.notBefore[host] = until
	}
}

func (t *retryTransport) gate(ctx context.Context, host string) error {
	t.mu.Lock()
	until := t.notBefore[host]
	t.mu.Unlock()
	if d := until.Sub(t.now()); d > 0 {
		return t.sleep(ctx, d)
	}
	return nil
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// A PATCH carries part of a blob upload whose server-side state is unknown
	// after a failure; ggcr restarts the whole upload instead.
	replayable := req.Method != http.MethodPatch &&
		(req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)
	for attempt := 1; ; attempt++ {
		if err := t.gate(ctx, req.URL.Host); err != nil {
			return nil, err
		}
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.inner.RoundTrip(r)
		if err != nil || !retryableStatus(resp.StatusCode) {
			return resp, err
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), t.now())
		if ok {
			wait = min(wait, t.policy.Max)
			t.hold(req.URL.Host, t.now().Add(wait))
		}
		if !replayable || attempt >= t.policy.Attempts {
			return resp, nil
		}
		if !ok {
			wait = backoff(t.policy, attempt)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		slog.Info("registry busy, retrying", "method", req.Method, "url", RedactURL(req.URL),
			"status", resp.StatusCode, "attempt", attempt, "wait", wait)
		if ok {
			// The hold above makes gate() wait; don't wait twice.
			continue
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func backoff(p Retry, attempt int) time.Duration {
	d := p.Initial
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	// ±10% jitter spreads concurrent retries.
	j := time.Duration(float64(d) * 0.1 * (2*rand.Float64() - 1))
	return d + j
}

// logTransport logs one debug line per request without headers or bodies,
// and with query values other than harmless ones redacted.
type logTransport struct{ inner http.RoundTripper }

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		slog.Debug("registry request", "method", req.Method, "url", RedactURL(req.URL), "error", redactText(err.Error()), "duration", time.Since(start))
		return resp, err
	}
	slog.Debug("registry request", "method", req.Method, "url", RedactURL(req.URL), "status", resp.StatusCode, "duration", time.Since(start))
	return resp, err
}

// harmlessQuery are query keys that carry no secrets (OCI distribution API
// and token service parameters). Everything else (upload state, signed URL
// signatures, tokens) is redacted from logs.
var harmlessQuery = map[string]bool{
	"digest": true, "mount": true, "from": true, "origin": true, "n": true, "last": true,
	"service": true, "scope": true, "account": true, "tag": true, "artifactType": true,
}

// RedactURL renders u without user info and with secret-looking query values
// replaced by "REDACTED".
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			if !harmlessQuery[k] {
				q[k] = []string{"REDACTED"}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// RegistryHost returns the host part of a reference for messages.
func registryHost(ref name.Reference) string {
	h := ref.Context().RegistryStr()
	if h == name.DefaultRegistry {
		return "docker.io"
	}
	return h
}

// AuthError turns a 401/403 answer into a message that says what to do. Other
// errors are returned unchanged.
func AuthError(ref name.Reference, err error) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	denied := false
	switch te.StatusCode {
	case http.StatusUnauthorized:
	case http.StatusForbidden:
		denied = true
	default:
		unauth := false
		for _, d := range te.Errors {
			switch d.Code {
			case transport.UnauthorizedErrorCode:
				unauth = true
			case transport.DeniedErrorCode:
				unauth, denied = true, true
			}
		}
		if !unauth {
			return err
		}
	}
	host := registryHost(ref)
	what := "authentication required by"
	if denied {
		what = "access denied by"
	}
	return fmt.Errorf("%s: %s %s: log in with `podman login %s` or `docker login %s` (credentials are read from %s): %w",
		ref, what, host, host, host, strings.Join(CredentialFiles(), ", "), err)
}

// ensureGGCRLogs routes ggcr's loggers to slog once, when the default slog
// logger has debug enabled (ggcr decides at option time whether to dump
// requests, so this must happen before remote options are built).
var ggcrLogsOnce sync.Once

func ensureGGCRLogs() {
	ggcrLogsOnce.Do(func() {
		if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
			RouteGGCRLogs()
		}
	})
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
