package remote

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assemble-build/assemble/internal/ctxtime"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
)

// Retry says how requests are retried when the server answers 408, 429 or
// 5xx. A Retry-After header (seconds or HTTP date) is honoured, capped at
// Max; without one the wait doubles from Initial, also capped at Max.
type Retry struct {
	Attempts int           // tries per request, including the first
	Initial  time.Duration // first wait when the server gives no Retry-After
	Max      time.Duration // cap for any single wait
}

// DefaultRetry is used for zero fields of Registries.Retry.
var DefaultRetry = Retry{Attempts: 5, Initial: time.Second, Max: time.Minute}

func (r Retry) withDefaults(d Retry) Retry {
	if r.Attempts <= 0 {
		r.Attempts = d.Attempts
	}
	if r.Initial <= 0 {
		r.Initial = d.Initial
	}
	if r.Max <= 0 {
		r.Max = d.Max
	}
	return r
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
	// busy is the log message of a retry ("registry busy, retrying").
	busy string
	// netErrors also retries GET and HEAD requests that failed without an
	// answer (plain downloads; ggcr retries those itself for registries).
	netErrors bool

	mu        sync.Mutex
	notBefore map[string]time.Time
}

func newRetryTransport(inner http.RoundTripper, policy Retry, busy string, netErrors bool) *retryTransport {
	return &retryTransport{
		inner:     inner,
		policy:    policy,
		notBefore: map[string]time.Time{},
		sleep:     ctxtime.Sleep,
		now:       time.Now,
		busy:      busy,
		netErrors: netErrors,
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

// replayable says whether req may be sent again: a PATCH carries part of a
// blob upload whose server-side state is unknown after a failure (ggcr
// restarts the whole upload instead), and a body must be obtainable again.
func replayable(req *http.Request) bool {
	return req.Method != http.MethodPatch &&
		(req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)
}

// attempt returns req for try number n (a clone with a fresh body after the first).
func attempt(req *http.Request, n int) (*http.Request, error) {
	if n == 1 {
		return req, nil
	}
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	canReplay := replayable(req)
	for n := 1; ; n++ {
		if err := t.gate(ctx, req.URL.Host); err != nil {
			return nil, err
		}
		r, err := attempt(req, n)
		if err != nil {
			return nil, err
		}
		resp, err := t.inner.RoundTrip(r)
		if err != nil {
			if !t.retryError(ctx, req, err, n, canReplay) {
				return nil, err
			}
			if err := t.sleep(ctx, backoff(t.policy, n)); err != nil {
				return nil, err
			}
			continue
		}
		if !retryableStatus(resp.StatusCode) {
			return resp, nil
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), t.now())
		if ok {
			wait = min(wait, t.policy.Max)
			t.hold(req.URL.Host, t.now().Add(wait))
		}
		if !canReplay || n >= t.policy.Attempts {
			return resp, nil
		}
		if !ok {
			wait = backoff(t.policy, n)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		logctx.From(ctx).Info(t.busy, "method", req.Method, "url", redact.URL(req.URL),
			"status", resp.StatusCode, "attempt", n, "wait", wait)
		if ok {
			// The hold above makes gate() wait; don't wait twice.
			continue
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// retryError says whether a request that got no answer is tried again.
func (t *retryTransport) retryError(ctx context.Context, req *http.Request, err error, n int, canReplay bool) bool {
	if !t.netErrors || !canReplay || n >= t.policy.Attempts || ctx.Err() != nil ||
		(req.Method != http.MethodGet && req.Method != http.MethodHead) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	logctx.From(ctx).Info(t.busy, "method", req.Method, "url", redact.URL(req.URL),
		"error", redact.Text(err.Error()), "attempt", n)
	return true
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
