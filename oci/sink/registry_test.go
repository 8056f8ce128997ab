package sink_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	iremote "github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/source"
	"github.com/google/go-containerregistry/pkg/authn"
	ggcrlogs "github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fast keeps backoffs short; Retry-After values still apply as sent.
var fast = sink.WithRetry(5, 10*time.Millisecond, 5*time.Second)

// anonymous keeps the machine's credentials out of tests.
var anonymous = sink.WithKeychain(authn.NewMultiKeychain())

func push(t *testing.T, items []sink.Item, opts ...sink.Option) []sink.Result {
	t.Helper()
	res, err := sink.Registry(append([]sink.Option{fast, anonymous}, opts...)...).Write(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// pulled reads back what the registry serves and validates every blob.
func pulled(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if d.MediaType.IsIndex() {
		idx, _ := d.ImageIndex()
		if err := validate.Index(idx); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	} else {
		img, _ := d.Image()
		if err := validate.Image(img); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	return d.Digest
}

func TestPushThenRepushUploadsNothing(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img := ocitest.Image(t, 1, 3, 4096, amd64)
	idx := ocitest.Index(t, 10, 2, 2048, ocitest.AMD64, ocitest.ARM64)
	items := []sink.Item{{Name: reg.Ref("ns/app:1"), Image: img}, {Name: reg.Ref("ns/multi:1"), Index: idx}}
	prog := &recProgress{}
	res := push(t, items, sink.WithProgress(prog))
	if res[0].Ref != reg.Ref("ns/app:1") || res[0].Digest != ocitest.Digest(t, img) || res[1].Digest != ocitest.Digest(t, idx) || res[0].Sink != "registry" {
		t.Errorf("results %+v", res)
	}
	for i, it := range items {
		if got := pulled(t, it.Name); got != res[i].Digest {
			t.Errorf("%s: registry has %s, pushed %s", it.Name, got, res[i].Digest)
		}
	}
	children := []v1.Image{img}
	m, _ := idx.IndexManifest()
	for _, d := range m.Manifests {
		c, _ := idx.Image(d.Digest)
		children = append(children, c)
	}
	prog.check(t, children...)
	// Each blob was sent once: 3+1 layers/config for app, 2×(2+1) for multi.
	if got := reg.Count(ocitest.UploadPut); got != 4+6 {
		t.Errorf("%d blob commits, want 10\n%s", got, reg)
	}

	reg.Reset()
	push(t, items)
	if n := reg.BlobUploads(); n != 0 {
		t.Errorf("re-push uploaded %d blobs\n%s", n, reg)
	}
	if n := reg.Count(ocitest.ManifestPut); n != 0 {
		t.Errorf("re-push put %d manifests\n%s", n, reg)
	}
	if n := reg.Count(ocitest.BlobHead, ocitest.BlobGet, ocitest.Mount); n != 0 {
		t.Errorf("re-push touched blobs %d times\n%s", n, reg)
	}

	// docker://REF takes exactly one item.
	s, err := sink.Parse("docker://"+reg.Ref("ns/other:2"), fast, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, items); err == nil || !strings.Contains(err.Error(), "names one image but 2") {
		t.Errorf("two items to docker://REF: %v", err)
	}
	r, err := s.Write(ctx, items[:1])
	if err != nil {
		t.Fatal(err)
	}
	if r[0].Ref != reg.Ref("ns/other:2") || pulled(t, reg.Ref("ns/other:2")) != res[0].Digest {
		t.Errorf("docker:// result %+v", r)
	}
}

func TestPushRetriesHonourRetryAfter(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	img := ocitest.Image(t, 2, 2, 2048, amd64)
	// Manifest PUT: twice 503 with Retry-After, then the registry answers.
	reg.Inject(ocitest.Fault{Kind: ocitest.ManifestPut, Times: 2, Status: http.StatusServiceUnavailable, Header: map[string]string{"Retry-After": "1"}})
	// A blob PATCH fails once (429, rate limited): ggcr restarts that upload.
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadPatch, Times: 1, Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "1"}})
	// A HEAD gets a 502 without Retry-After: plain backoff.
	reg.Inject(ocitest.Fault{Kind: ocitest.BlobHead, Times: 1, Status: http.StatusBadGateway})
	res := push(t, []sink.Item{{Name: reg.Ref("retry/app:1"), Image: img}})
	if reg.PendingFaults() != 0 {
		t.Errorf("%d injected failures never hit\n%s", reg.PendingFaults(), reg)
	}
	if n := reg.Count(ocitest.ManifestPut); n != 3 {
		t.Errorf("%d manifest PUTs, want 3 (2 refused + 1)\n%s", n, reg)
	}
	if got := pulled(t, reg.Ref("retry/app:1")); got != res[0].Digest {
		t.Errorf("registry has %s, pushed %s", got, res[0].Digest)
	}

	// Retries are bounded: a registry that stays down fails the push with
	// its status in the message.
	reg.Inject(ocitest.Fault{Kind: ocitest.ManifestPut, Times: 100, Status: http.StatusServiceUnavailable})
	_, err := sink.Registry(sink.WithRetry(3, time.Millisecond, 10*time.Millisecond), anonymous).Write(ctx, []sink.Item{{Name: reg.Ref("retry/app:2"), Image: ocitest.Image(t, 3, 1, 100, amd64)}})
	if err == nil || !strings.Contains(err.Error(), "UNAVAILABLE") || !strings.Contains(err.Error(), "retry/app:2") {
		t.Errorf("push to a failing registry: %v", err)
	}
}

func TestPushAuth(t *testing.T) {
	reg := ocitest.StartInProcess(t)
	reg.RequireBasicAuth("alice", "s3cret-pass")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	img := ocitest.Image(t, 5, 1, 1024, amd64)
	items := []sink.Item{{Name: reg.Ref("private/app:1"), Image: img}}

	_, err := sink.Registry(fast).Write(ctx, items)
	want := []string{reg.Ref("private/app:1"), "authentication required by " + reg.Host, "podman login " + reg.Host, "docker login " + reg.Host, filepath.Join(runtime, "containers", "auth.json")}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("anonymous push: error %v lacks %q", err, w)
		}
	}

	// Credentials from podman's auth.json; debug logs must not show them.
	authFile := filepath.Join(runtime, "containers", "auth.json")
	enc := base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pass"))
	if err := os.MkdirAll(filepath.Dir(authFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authFile, []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+enc+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logBuf syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	w, pr, d := ggcrlogs.Warn, ggcrlogs.Progress, ggcrlogs.Debug
	ggcrlogs.Warn, ggcrlogs.Progress, ggcrlogs.Debug = iremote.GGCRLoggers(slog.Default())
	defer func() { ggcrlogs.Warn, ggcrlogs.Progress, ggcrlogs.Debug = w, pr, d; slog.SetDefault(prev) }()
	if _, err := sink.Registry(fast).Write(ctx, items); err != nil {
		t.Fatalf("push with podman credentials: %v", err)
	}
	logs := logBuf.String()
	if !strings.Contains(logs, "/v2/private/app/manifests/1") || !strings.Contains(logs, "ggcr") {
		t.Errorf("debug log lacks the requests:\n%.2000s", logs)
	}
	for _, secret := range []string{"s3cret-pass", enc} {
		if strings.Contains(logs, secret) {
			t.Errorf("credentials %q appear in the debug log", secret)
		}
	}
	if !strings.Contains(strings.ToLower(logs), "authorization: <redacted>") {
		t.Errorf("no redacted Authorization header in the dumps:\n%.2000s", logs)
	}
	if got := pulledWithAuth(t, reg.Ref("private/app:1")); got != ocitest.Digest(t, img) {
		t.Errorf("registry has %s", got)
	}

	// 403 says "denied".
	reg.Inject(ocitest.Fault{Kind: ocitest.UploadStart, Times: 100, Status: http.StatusForbidden})
	_, err = sink.Registry(fast).Write(ctx, []sink.Item{{Name: reg.Ref("private/other:1"), Image: ocitest.Image(t, 6, 1, 100, amd64)}})
	if err == nil || !strings.Contains(err.Error(), "access denied by "+reg.Host) {
		t.Errorf("403: %v", err)
	}
}

func pulledWithAuth(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, _ := name.ParseReference(ref)
	d, err := remote.Head(r, remote.WithAuthFromKeychain(iremote.DefaultKeychain()))
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPushOnBaseMountsNeverDownloads(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	base := ocitest.Index(t, 30, 2, 8192, ocitest.AMD64, ocitest.ARM64)
	push(t, []sink.Item{{Name: reg.Ref("library/base:1"), Index: base}})
	reg.Reset()

	r := &iremote.Registries{Keychain: authn.NewMultiKeychain()}
	b, err := source.Parse("docker://"+reg.Ref("library/base:1"), source.WithRemote(r))
	if err != nil {
		t.Fatal(err)
	}
	baseImg, err := b.Image(ctx, amd64)
	if err != nil {
		t.Fatal(err)
	}
	app := ocitest.Append(t, baseImg, 31, 1, 1024)
	res, err := sink.Registry(sink.WithRemote(r), fast).Write(ctx, []sink.Item{{Name: reg.Ref("team/app:1"), Image: app}})
	if err != nil {
		t.Fatal(err)
	}
	bm, _ := baseImg.Manifest()
	mounted := strings.Join(reg.Mounted(), " ")
	for _, l := range bm.Layers {
		for _, q := range reg.Requests() {
			if q.Kind == ocitest.BlobGet && q.Digest == l.Digest.String() {
				t.Errorf("base layer %s downloaded", l.Digest)
			}
		}
		if !strings.Contains(mounted, l.Digest.String()) {
			t.Errorf("base layer %s not mounted\n%s", l.Digest, reg)
		}
	}
	am, _ := app.Manifest()
	newLayer := am.Layers[len(am.Layers)-1].Digest.String()
	commits := 0
	for _, q := range reg.Requests() {
		if q.Kind == ocitest.UploadPut && q.Digest == newLayer {
			commits++
		}
	}
	if commits != 1 {
		t.Errorf("new layer committed %d times\n%s", commits, reg)
	}
	if got := pulled(t, reg.Ref("team/app:1")); got != res[0].Digest {
		t.Errorf("registry has %s", got)
	}
}

func TestSharedLayersCrossRepositoriesOnce(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	a := ocitest.Image(t, 40, 2, 4096, amd64)
	b := ocitest.Append(t, a, 41, 1, 4096)
	c := ocitest.Append(t, a, 42, 1, 4096)
	push(t, []sink.Item{{Name: reg.Ref("one/a:1"), Image: a}, {Name: reg.Ref("two/b:1"), Image: b}, {Name: reg.Ref("three/c:1"), Image: c}}, sink.WithJobs(2))
	am, _ := a.Manifest()
	for _, l := range am.Layers {
		n := 0
		for _, q := range reg.Requests() {
			if q.Kind == ocitest.UploadPut && q.Digest == l.Digest.String() {
				n++
			}
		}
		if n != 1 {
			t.Errorf("shared layer %s uploaded %d times\n%s", l.Digest, n, reg)
		}
	}
	if got := len(reg.Mounted()); got < 4 {
		t.Errorf("%d mounts, want the 2 shared layers into 2 repositories\n%s", got, reg)
	}
	for _, ref := range []string{"one/a:1", "two/b:1", "three/c:1"} {
		pulled(t, reg.Ref(ref))
	}
}

func TestInsecureRegistryTLS(t *testing.T) {
	reg := ocitest.StartRegistry(t, ocitest.WithTLS())
	img := ocitest.Image(t, 50, 1, 512, amd64)
	items := []sink.Item{{Name: reg.Ref("tls/app:1"), Image: img}}
	_, err := sink.Registry(fast, anonymous).Write(ctx, items)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("push to a self-signed registry without --insecure-registry: %v", err)
	}
	if _, err := sink.Registry(fast, anonymous, sink.WithInsecureRegistries(reg.Host)).Write(ctx, items); err != nil {
		t.Fatalf("with --insecure-registry: %v", err)
	}
	if reg.Count(ocitest.ManifestPut) != 1 {
		t.Errorf("manifest not put through the TLS proxy\n%s", reg)
	}
}

// TestInProcessRegistry covers the docker:// sink against ggcr's registry.
func TestInProcessRegistry(t *testing.T) {
	host := ocitest.StartInProcess(t).Host
	idx := ocitest.Index(t, 60, 1, 1024, ocitest.AMD64, ocitest.ARM64)
	s, err := sink.Parse("docker://"+host+"/x/multi:1", fast, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Write(ctx, []sink.Item{{Name: "ignored", Index: idx}})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].MediaType.IsIndex() || pulled(t, host+"/x/multi:1") != ocitest.Digest(t, idx) {
		t.Errorf("result %+v", res[0])
	}
}

// The registry sink pushes each item to the registry in its name, and
// refuses a name that says none (it would go to Docker Hub) before any
// request.
func TestRegistrySinkRefusesNamesWithoutRegistry(t *testing.T) {
	img := ocitest.Image(t, 1, 1, 64, amd64)
	_, err := sink.Registry(fast, anonymous).Write(ctx, []sink.Item{{Name: "hello:1.0", Image: img}})
	if err == nil || !strings.Contains(err.Error(), `"hello:1.0" names no registry`) || !strings.Contains(err.Error(), "Docker Hub") {
		t.Fatalf("pushing hello:1.0: %v", err)
	}
}
