package remote

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// scripted answers requests with the given statuses in turn.
type scripted struct {
	mu      sync.Mutex
	answers []*http.Response
	seen    []*http.Request
	bodies  []string
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, req)
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		s.bodies = append(s.bodies, string(b))
	}
	r := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	c := *r
	c.Body = io.NopCloser(strings.NewReader("x"))
	c.Request = req
	return &c, nil
}

func answer(code int, retryAfter string) *http.Response {
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{StatusCode: code, Header: h}
}

func newTestRetry(inner http.RoundTripper, p Retry) (*retryTransport, *[]time.Duration) {
	var waits []time.Duration
	var mu sync.Mutex
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &retryTransport{
		inner:     inner,
		policy:    p.withDefaults(DefaultRetry),
		busy:      "registry busy, retrying",
		notBefore: map[string]time.Time{},
		// A fake clock that sleeping advances: no test waits for real.
		now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return clock
		},
		sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			clock = clock.Add(d)
			return nil
		},
	}, &waits
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	inner := &scripted{answers: []*http.Response{answer(503, "7"), answer(429, "3"), answer(200, "")}}
	rt, waits := newTestRetry(inner, Retry{Attempts: 5, Initial: time.Millisecond, Max: time.Minute})
	req, _ := http.NewRequest(http.MethodPut, "https://r.example/v2/a/manifests/1", strings.NewReader("manifest"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(inner.seen) != 3 {
		t.Fatalf("%d requests, want 3", len(inner.seen))
	}
	// The waits come from the header, not from the 1ms backoff.
	if len(*waits) != 2 || (*waits)[0] != 7*time.Second || (*waits)[1] != 3*time.Second {
		t.Errorf("waits %v, want [7s 3s]", *waits)
	}
	// The body was replayed on each attempt.
	for i, b := range inner.bodies {
		if b != "manifest" {
			t.Errorf("attempt %d sent body %q", i, b)
		}
	}
}

func TestRetryAfterCappedAndHTTPDate(t *testing.T) {
	date := time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	inner := &scripted{answers: []*http.Response{answer(503, date), answer(503, "86400"), answer(204, "")}}
	rt, waits := newTestRetry(inner, Retry{Attempts: 5, Initial: time.Millisecond, Max: 30 * time.Second})
	req, _ := http.NewRequest(http.MethodHead, "https://r.example/v2/a/blobs/sha256:00", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("%v %v", resp, err)
	}
	if len(*waits) != 2 || (*waits)[0] != 30*time.Second || (*waits)[1] != 30*time.Second {
		t.Errorf("waits %v, want both capped at 30s", *waits)
	}
	if d, ok := retryAfter(time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat), time.Now()); !ok || d < 80*time.Second || d > 91*time.Second {
		t.Errorf("HTTP date parsed as %v %v", d, ok)
	}
	for _, bad := range []string{"", "soon", "-5"} {
		if _, ok := retryAfter(bad, time.Now()); ok {
			t.Errorf("retryAfter(%q) accepted", bad)
		}
	}
}

func TestRetryGivesUpAndSkipsPatch(t *testing.T) {
	inner := &scripted{answers: []*http.Response{answer(500, "")}}
	rt, waits := newTestRetry(inner, Retry{Attempts: 3, Initial: time.Second, Max: 10 * time.Second})
	req, _ := http.NewRequest(http.MethodGet, "https://r.example/v2/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || len(inner.seen) != 3 {
		t.Errorf("status %d after %d requests, want 500 after 3", resp.StatusCode, len(inner.seen))
	}
	if len(*waits) != 2 {
		t.Errorf("waits %v, want 2 backoffs", *waits)
	}

	// A PATCH is not replayed (ggcr restarts the upload), but its
	// Retry-After still holds back the next request to that host.
	inner = &scripted{answers: []*http.Response{answer(503, "5"), answer(202, "")}}
	rt, waits = newTestRetry(inner, Retry{Attempts: 3})
	req, _ = http.NewRequest(http.MethodPatch, "https://r.example/v2/a/blobs/uploads/x", strings.NewReader("data"))
	resp, _ = rt.RoundTrip(req)
	if resp.StatusCode != 503 || len(inner.seen) != 1 {
		t.Errorf("PATCH: status %d after %d requests, want 503 after 1", resp.StatusCode, len(inner.seen))
	}
	req, _ = http.NewRequest(http.MethodPost, "https://r.example/v2/a/blobs/uploads/", nil)
	if resp, _ = rt.RoundTrip(req); resp.StatusCode != 202 {
		t.Errorf("POST: status %d", resp.StatusCode)
	}
	if len(*waits) != 1 || (*waits)[0] != 5*time.Second {
		t.Errorf("waits %v, want the POST held back 5s", *waits)
	}
	// 4xx other than 408/429 are final.
	inner = &scripted{answers: []*http.Response{answer(404, ""), answer(200, "")}}
	rt, _ = newTestRetry(inner, Retry{})
	req, _ = http.NewRequest(http.MethodGet, "https://r.example/v2/a/manifests/x", nil)
	if resp, _ = rt.RoundTrip(req); resp.StatusCode != 404 || len(inner.seen) != 1 {
		t.Errorf("404 retried: %d requests", len(inner.seen))
	}
}

func TestGGCRRetryable(t *testing.T) {
	patch, _ := http.NewRequest(http.MethodPatch, "https://r.example/x", nil)
	put, _ := http.NewRequest(http.MethodPut, "https://r.example/x", nil)
	cases := []struct {
		err  error
		want bool
	}{
		{&transport.Error{StatusCode: 503, Request: patch}, true},
		{&transport.Error{StatusCode: 503, Request: put}, false}, // our transport retried it already
		{&transport.Error{StatusCode: 401, Request: patch}, false},
		{io.ErrUnexpectedEOF, true},
		{context.Canceled, false},
		{errors.New("boom"), false},
	}
	for _, c := range cases {
		if got := ggcrRetryable(c.err); got != c.want {
			t.Errorf("ggcrRetryable(%v) = %v", c.err, got)
		}
	}
}

func TestInsecureReference(t *testing.T) {
	r := &Registries{Insecure: []string{"reg.internal:5000", "other.example"}}
	for s, want := range map[string]string{
		"reg.internal:5000/a:1":                                "http",
		"other.example:443/b:1":                                "http",
		"reg.internal:5001/a:1":                                "https",
		"secure.example/ns/x:1":                                "https",
		"other.example/ns/y@sha256:" + strings.Repeat("a", 64): "http",
	} {
		ref, err := r.Reference(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.Context().Scheme(); got != want {
			t.Errorf("%s: scheme %s, want %s", s, got, want)
		}
	}
	if _, err := r.Reference("UPPER/case:1"); err == nil {
		t.Error("invalid reference accepted")
	}
}

func TestAuthErrorMessage(t *testing.T) {
	ref, _ := name.ParseReference("reg.example/ns/app:1")
	req, _ := http.NewRequest(http.MethodHead, "https://reg.example/v2/ns/app/blobs/sha256:00", nil)
	err := AuthError(ref, &transport.Error{StatusCode: 401, Request: req})
	for _, want := range []string{"reg.example/ns/app:1", "authentication required by reg.example", "podman login reg.example", "docker login reg.example", "credentials are read from"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("401 message %q lacks %q", err, want)
		}
	}
	err = AuthError(ref, &transport.Error{StatusCode: 403, Request: req})
	if !strings.Contains(err.Error(), "access denied by reg.example") {
		t.Errorf("403 message %q", err)
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		t.Error("AuthError does not wrap the transport error")
	}
	other := errors.New("x")
	if AuthError(ref, other) != other {
		t.Error("other errors must pass through")
	}
	hub, _ := name.ParseReference("library/alpine")
	if e := AuthError(hub, &transport.Error{StatusCode: 401}); !strings.Contains(e.Error(), "podman login docker.io") {
		t.Errorf("Docker Hub message %q", e)
	}
}

func TestKeychainReadsPodmanAuthBesideDockerConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	write := func(p, content string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	auth := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	// Docker's config exists but knows only another registry: ggcr's
	// DefaultKeychain alone would stop there and go anonymous.
	write(filepath.Join(home, ".docker", "config.json"), `{"auths":{"docker-only.example":{"auth":"`+auth("d", "dp")+`"}}}`)
	write(filepath.Join(runtime, "containers", "auth.json"), `{"auths":{"podman.example":{"auth":"`+auth("p", "pp")+`"}}}`)
	write(filepath.Join(home, ".config", "containers", "auth.json"), `{"auths":{"docker.io":{"auth":"`+auth("hub", "hp")+`"},"cfg.example/team":{"auth":"`+auth("t", "tp")+`"}}}`)
	extra := filepath.Join(t.TempDir(), "auth.json")
	write(extra, `{"auths":{"env.example":{"auth":"`+auth("e", "ep")+`"}}}`)
	t.Setenv("REGISTRY_AUTH_FILE", extra)

	kc := DefaultKeychain()
	for ref, want := range map[string]string{
		"docker-only.example/a:1": "d:dp",
		"podman.example/a:1":      "p:pp",
		"env.example/x/y:1":       "e:ep",
		"cfg.example/team/app:1":  "t:tp",
		"alpine:3":                "hub:hp",
		"nobody.example/a:1":      "",
	} {
		r, _ := name.ParseReference(ref)
		a, err := kc.Resolve(r.Context())
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if cfg.Username != "" || cfg.Auth != "" {
			got = cfg.Username + ":" + cfg.Password
			if cfg.Auth != "" && cfg.Username == "" {
				b, _ := base64.StdEncoding.DecodeString(cfg.Auth)
				got = string(b)
			}
		}
		if got != want {
			t.Errorf("%s: credentials %q, want %q", ref, got, want)
		}
		if want == "" && a != authn.Anonymous {
			t.Errorf("%s: not anonymous", ref)
		}
	}
	files := strings.Join(CredentialFiles(), " ")
	for _, want := range []string{extra, filepath.Join(runtime, "containers", "auth.json"), filepath.Join(home, ".docker", "config.json")} {
		if !strings.Contains(files, want) {
			t.Errorf("CredentialFiles() = %s, lacks %s", files, want)
		}
	}

	write(extra, `{"auths": nope`)
	r, _ := name.ParseReference("env.example/x:1")
	if _, err := kc.Resolve(r.Context()); err == nil || !strings.Contains(err.Error(), extra) {
		t.Errorf("broken auth file: error %v does not name %s", err, extra)
	}
}
