// Package ocitest holds test helpers shared by the oci packages' tests: a
// registry behind a counting, fault-injecting proxy (go-containerregistry's
// in-process one for unit tests, a real docker-registry where its own
// behaviour or exact request counts matter), and small deterministic images.
package ocitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/crypto/bcrypt"
)

// Kind classifies a registry API request.
type Kind string

// Request kinds, by method and path shape of the distribution API.
const (
	Ping           Kind = "ping"            // GET /v2/
	ManifestGet    Kind = "manifest-get"    // GET /v2/<name>/manifests/<ref>
	ManifestHead   Kind = "manifest-head"   // HEAD /v2/<name>/manifests/<ref>
	ManifestPut    Kind = "manifest-put"    // PUT /v2/<name>/manifests/<ref>
	ManifestDelete Kind = "manifest-delete" // DELETE /v2/<name>/manifests/<ref>
	BlobGet        Kind = "blob-get"        // GET /v2/<name>/blobs/<digest>
	BlobHead       Kind = "blob-head"       // HEAD /v2/<name>/blobs/<digest>
	UploadStart    Kind = "upload-start"    // POST /v2/<name>/blobs/uploads/ without mount=
	Mount          Kind = "mount"           // POST /v2/<name>/blobs/uploads/?mount=... (201 mounted, 202 fell back to an upload)
	UploadPatch    Kind = "upload-patch"    // PATCH /v2/<name>/blobs/uploads/<id>
	UploadPut      Kind = "upload-put"      // PUT /v2/<name>/blobs/uploads/<id>?digest=...
	UploadStatus   Kind = "upload-status"   // GET /v2/<name>/blobs/uploads/<id> (how much the registry holds)
	UploadCancel   Kind = "upload-cancel"   // DELETE /v2/<name>/blobs/uploads/<id>
	TagsList       Kind = "tags-list"       // GET /v2/<name>/tags/list
	Other          Kind = "other"
)

// Request is one request the proxy saw.
type Request struct {
	Method   string
	Path     string
	Query    url.Values
	Kind     Kind
	Repo     string // repository name, when the path has one
	Digest   string // blob or manifest digest in the path or ?digest=, if any
	Status   int    // status answered to the client; 0: the connection was dropped
	Injected bool   // answered by an injected Fault, not by the registry
	// ContentRange is the request's Content-Range header (chunked upload PATCHes).
	ContentRange string
}

// Fault makes the proxy answer matching requests itself.
type Fault struct {
	Kind   Kind   // "" matches any kind
	Method string // "" matches any method
	Repo   string // "" matches any repository
	Times  int    // how many matching requests fail; 0 means 1
	// When, if set, must also hold for the request (e.g. a Content-Range test).
	When   func(*http.Request) bool
	Status int
	Header map[string]string // e.g. {"Retry-After": "1"}
	Body   string
	// DropAfter > 0 makes the proxy read that many bytes of the request
	// body and then drop the connection without an answer: a network
	// failure mid-upload. Nothing reaches the registry, as with a proxy
	// that buffers request bodies (nginx's default). Status is unused.
	DropAfter int64
}

// Registry is a registry (docker-registry or an in-process one) reached
// through a counting proxy.
type Registry struct {
	Host   string // host:port of the proxy: push and pull here
	Direct string // host:port of docker-registry itself, not counted
	Root   string // the registry's storage directory
	TLS    bool   // the proxy serves HTTPS with a self-signed certificate

	proxy *httptest.Server

	mu       sync.Mutex
	requests []Request
	faults   []*Fault
	user     string
	pass     string
}

// RegistryOption configures StartRegistry.
type RegistryOption func(*regConfig)

type regConfig struct {
	tls        bool
	user, pass string
}

// WithTLS makes the proxy serve HTTPS with a certificate no client trusts,
// as a self-signed registry does.
func WithTLS() RegistryOption { return func(c *regConfig) { c.tls = true } }

// WithHtpasswd makes docker-registry itself demand these credentials: its
// htpasswd auth (HTTP Basic against a bcrypt file), as a private registry
// does. The proxy then passes Authorization through. StartRegistry only.
func WithHtpasswd(user, pass string) RegistryOption {
	return func(c *regConfig) { c.user, c.pass = user, pass }
}

// StartRegistry starts `docker-registry serve` on 127.0.0.1 with a free port
// and a temporary root, waits until it answers /v2/, and puts a counting
// proxy in front of it. Both stop in t.Cleanup (the registry by its PID).
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	var c regConfig
	for _, o := range opts {
		o(&c)
	}
	bin := testtool.RequireTool(t, "docker-registry")
	root := t.TempDir()
	var direct string
	var lastErr error
	auth := ""
	if c.user != "" {
		auth = writeHtpasswd(t, root, c.user, c.pass)
	}
	for range 5 {
		direct, lastErr = startRegistryProcess(t, bin, root, auth)
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("starting docker-registry: %v", lastErr)
	}
	r := &Registry{Direct: direct, Root: root, TLS: c.tls}
	target := &url.URL{Scheme: "http", Host: direct}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Keep the client's Host so that the registry's Location headers
			// point back at the proxy and every upload step is counted.
			pr.Out.Host = pr.In.Host
			if c.user == "" {
				pr.Out.Header.Del("Authorization")
			}
			if c.tls {
				pr.Out.Header.Set("X-Forwarded-Proto", "https")
			}
		},
	}
	r.serve(t, rp)
	return r
}

// StartInProcess serves go-containerregistry's in-memory registry
// (pkg/registry) behind the same counting, fault-injecting proxy as
// StartRegistry, with no process to start. Use it where a test needs a
// registry, not docker-registry's own behaviour (cross-repository mounts,
// its exact request sequence). Direct reaches the registry uncounted; Root
// is empty: nothing is on disk. Everything stops in t.Cleanup.
func StartInProcess(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	var c regConfig
	for _, o := range opts {
		o(&c)
	}
	backend := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	direct := httptest.NewServer(backend)
	t.Cleanup(direct.Close)
	r := &Registry{Direct: strings.TrimPrefix(direct.URL, "http://"), TLS: c.tls}
	r.serve(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.Header.Del("Authorization") // the proxy checked it
		backend.ServeHTTP(w, req)
	}))
	return r
}

// serve starts the counting proxy in front of next.
func (r *Registry) serve(t testing.TB, next http.Handler) {
	if r.TLS {
		r.proxy = httptest.NewTLSServer(r.handler(next))
	} else {
		r.proxy = httptest.NewServer(r.handler(next))
	}
	t.Cleanup(r.proxy.Close)
	r.Host = strings.TrimPrefix(strings.TrimPrefix(r.proxy.URL, "http://"), "https://")
}

// writeHtpasswd writes an htpasswd file for user and returns the
// docker-registry configuration that uses it.
func writeHtpasswd(t testing.TB, root, user, pass string) string {
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "htpasswd")
	if err := os.WriteFile(p, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: ocitest\n    path: %s\n", p)
}

func startRegistryProcess(t testing.TB, bin, root, auth string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(root, "data"), addr, auth)
	cfgPath := filepath.Join(root, "config-"+strings.ReplaceAll(addr, ":", "_")+".yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", err
	}
	var out lockedBuffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			exited <- err
			return "", fmt.Errorf("docker-registry exited: %v: %s", err, out.String())
		case <-ctx.Done():
			stop()
			return "", fmt.Errorf("docker-registry did not answer on %s: %s", addr, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			// 401: up, with htpasswd auth.
			if resp.StatusCode == http.StatusOK || (auth != "" && resp.StatusCode == http.StatusUnauthorized) {
				t.Cleanup(stop)
				return addr, nil
			}
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Ref returns Host + "/" + repoAndTag.
func (r *Registry) Ref(repoAndTag string) string { return r.Host + "/" + repoAndTag }

// RequireBasicAuth makes the proxy demand these credentials (HTTP Basic) on
// every request, as a registry with htpasswd auth does.
func (r *Registry) RequireBasicAuth(user, pass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.pass = user, pass
}

// Inject adds a fault. Faults are matched in the order they were added.
func (r *Registry) Inject(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	r.faults = append(r.faults, &f)
}

// PendingFaults returns how many injected failures have not fired yet.
func (r *Registry) PendingFaults() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.faults {
		n += f.Times
	}
	return n
}

// Reset forgets the recorded requests (faults stay).
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// Requests returns a copy of the recorded requests.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Count returns how many recorded requests have one of the kinds.
func (r *Registry) Count(kinds ...Kind) int {
	n := 0
	for _, q := range r.Requests() {
		for _, k := range kinds {
			if q.Kind == k {
				n++
				break
			}
		}
	}
	return n
}

// ChunkStarts lists where each chunk PATCH (one with a Content-Range)
// started, in order.
func (r *Registry) ChunkStarts() []int64 {
	var starts []int64
	for _, q := range r.Requests() {
		if q.Kind == UploadPatch && q.ContentRange != "" {
			a, _, _ := strings.Cut(q.ContentRange, "-")
			n, _ := strconv.ParseInt(a, 10, 64)
			starts = append(starts, n)
		}
	}
	return starts
}

// ChunkOffsets lists where the chunks of a whole upload of size bytes in
// chunks of chunk bytes start: what ChunkStarts shows with no chunk resent.
func ChunkOffsets(size, chunk int64) []int64 {
	var o []int64
	for off := int64(0); off < size; off += chunk {
		o = append(o, off)
	}
	return o
}

// Counts returns the number of recorded requests per kind.
func (r *Registry) Counts() map[Kind]int {
	m := map[Kind]int{}
	for _, q := range r.Requests() {
		m[q.Kind]++
	}
	return m
}

// BlobUploads counts requests that transfer or commit blob data or start an
// upload: everything but HEADs and successful mounts.
func (r *Registry) BlobUploads() int {
	n := 0
	for _, q := range r.Requests() {
		switch q.Kind {
		case UploadStart, UploadPatch, UploadPut:
			n++
		case Mount:
			if q.Status != http.StatusCreated {
				n++
			}
		}
	}
	return n
}

// Mounted returns the digests mounted by cross-repository mounts.
func (r *Registry) Mounted() []string {
	var d []string
	for _, q := range r.Requests() {
		if q.Kind == Mount && q.Status == http.StatusCreated {
			d = append(d, q.Digest)
		}
	}
	return d
}

// String summarises the recorded requests, for failure messages.
func (r *Registry) String() string {
	var b strings.Builder
	for _, q := range r.Requests() {
		inj, rng := "", ""
		if q.Injected {
			inj = " (injected)"
		}
		if q.ContentRange != "" {
			rng = " [" + q.ContentRange + "]"
		}
		fmt.Fprintf(&b, "%s %s%s%s -> %d%s\n", q.Method, q.Path, querySuffix(q.Query), rng, q.Status, inj)
	}
	return b.String()
}

func querySuffix(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	c := url.Values{}
	for k, v := range q {
		if k != "_state" {
			c[k] = v
		}
	}
	if len(c) == 0 {
		return ""
	}
	return "?" + c.Encode()
}

// Classify returns the kind, repository and digest of a distribution API request.
func Classify(method string, u *url.URL) (Kind, string, string) {
	p := u.Path
	if p == "/v2/" || p == "/v2" {
		return Ping, "", ""
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return Other, "", ""
	}
	q := u.Query()
	for _, sep := range []string{"/manifests/", "/blobs/uploads", "/blobs/", "/tags/list"} {
		i := strings.LastIndex(rest, sep)
		if i < 0 {
			continue
		}
		repo, tail := rest[:i], rest[i+len(sep):]
		switch sep {
		case "/manifests/":
			d := ""
			if strings.Contains(tail, ":") {
				d = tail
			}
			switch method {
			case http.MethodGet:
				return ManifestGet, repo, d
			case http.MethodHead:
				return ManifestHead, repo, d
			case http.MethodPut:
				return ManifestPut, repo, d
			case http.MethodDelete:
				return ManifestDelete, repo, d
			}
		case "/blobs/uploads":
			switch method {
			case http.MethodPost:
				if q.Get("mount") != "" {
					return Mount, repo, q.Get("mount")
				}
				return UploadStart, repo, q.Get("digest")
			case http.MethodPatch:
				return UploadPatch, repo, ""
			case http.MethodPut:
				return UploadPut, repo, q.Get("digest")
			case http.MethodGet:
				return UploadStatus, repo, ""
			case http.MethodDelete:
				return UploadCancel, repo, ""
			}
		case "/blobs/":
			switch method {
			case http.MethodGet:
				return BlobGet, repo, tail
			case http.MethodHead:
				return BlobHead, repo, tail
			}
		case "/tags/list":
			return TagsList, repo, ""
		}
		return Other, repo, ""
	}
	return Other, "", ""
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *Registry) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		kind, repo, digest := Classify(req.Method, req.URL)
		rec := Request{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Kind: kind, Repo: repo, Digest: digest,
			ContentRange: req.Header.Get("Content-Range")}

		r.mu.Lock()
		user, pass := r.user, r.pass
		var fault *Fault
		for _, f := range r.faults {
			if f.Times > 0 && (f.Kind == "" || f.Kind == kind) && (f.Method == "" || f.Method == req.Method) &&
				(f.Repo == "" || f.Repo == repo) && (f.When == nil || f.When(req)) {
				f.Times--
				c := *f
				fault = &c
				break
			}
		}
		r.mu.Unlock()

		record := func(status int, injected bool) {
			rec.Status, rec.Injected = status, injected
			r.mu.Lock()
			r.requests = append(r.requests, rec)
			r.mu.Unlock()
		}

		if user != "" && !checkBasic(req, user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocitest"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			record(http.StatusUnauthorized, true)
			return
		}
		if fault != nil && fault.DropAfter > 0 {
			_, _ = io.CopyN(io.Discard, req.Body, fault.DropAfter)
			record(0, true)
			// net/http closes the connection without an answer.
			panic(http.ErrAbortHandler)
		}
		if fault != nil {
			// Drain the body so the client sees our answer, not a reset.
			_, _ = io.Copy(io.Discard, req.Body)
			for k, v := range fault.Header {
				w.Header().Set(k, v)
			}
			body := fault.Body
			if body == "" {
				body = fmt.Sprintf(`{"errors":[{"code":"%s","message":"injected by ocitest"}]}`, faultCode(fault.Status))
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(fault.Status)
			if req.Method != http.MethodHead {
				_, _ = w.Write([]byte(body))
			}
			record(fault.Status, true)
			return
		}
		sr := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sr, req)
		record(sr.status, false)
	})
}

func faultCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "UNKNOWN"
}

func checkBasic(req *http.Request, user, pass string) bool {
	h := req.Header.Get("Authorization")
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	u, p, ok := strings.Cut(string(b), ":")
	return ok && u == user && p == pass
}
