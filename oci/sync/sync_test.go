package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var s390x = v1.Platform{OS: "linux", Architecture: "s390x"}

func push(t *testing.T, ref string, x any) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	switch v := x.(type) {
	case v1.Image:
		if err := remote.Write(r, v); err != nil {
			t.Fatal(err)
		}
		d, _ := v.Digest()
		return d
	case v1.ImageIndex:
		if err := remote.WriteIndex(r, v); err != nil {
			t.Fatal(err)
		}
		d, _ := v.Digest()
		return d
	}
	t.Fatalf("cannot push %T", x)
	return v1.Hash{}
}

func headDigest(t *testing.T, ref string, opts ...remote.Option) (v1.Hash, bool) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r, opts...)
	if err != nil {
		return v1.Hash{}, false
	}
	return d.Digest, true
}

func childDigests(t *testing.T, idx v1.ImageIndex) map[string]v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		out[d.Platform.Architecture] = d.Digest
	}
	return out
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writes are the requests that changed (or tried to change) a registry.
func writes(r *ocitest.Registry) []ocitest.Request {
	var w []ocitest.Request
	for _, q := range r.Requests() {
		switch q.Kind {
		case ocitest.ManifestPut, ocitest.ManifestDelete, ocitest.UploadStart, ocitest.Mount, ocitest.UploadPatch, ocitest.UploadPut:
			w = append(w, q)
		}
	}
	return w
}

// mirrorFixture is two real registries, the destination behind basic
// auth, with images pushed to the source and an auth file for the
// destination.
type mirrorFixture struct {
	src, dst *ocitest.Registry
	dstAuth  remote.Option
	dir      string // holds the config files
	auth     string // the auth file
	srcIdx   v1.Hash
	children map[string]v1.Hash // the multi-arch index's children by architecture
	lst      map[string]v1.Hash // ns/lst's images by tag
	pinned   v1.Hash
}

func newMirrorFixture(t *testing.T) *mirrorFixture {
	t.Helper()
	m := &mirrorFixture{src: ocitest.StartRegistry(t), dst: ocitest.StartRegistry(t), dir: t.TempDir(), lst: map[string]v1.Hash{}}
	m.dst.RequireBasicAuth("mirror", "s3cret")
	m.dstAuth = remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "mirror", Password: "s3cret"}))

	idx := ocitest.Index(t, 1, 2, 512, ocitest.AMD64, ocitest.ARM64, s390x)
	m.srcIdx = push(t, m.src.Host+"/ns/multi:v1", idx)
	m.children = childDigests(t, idx)
	for i, tag := range []string{"v1.0", "v1.1", "v2.0", "latest"} {
		push(t, m.src.Host+"/ns/app:"+tag, ocitest.Image(t, int64(10+i), 2, 512, ocitest.AMD64))
	}
	for i, tag := range []string{"a", "b", "c"} {
		m.lst[tag] = push(t, m.src.Host+"/ns/lst:"+tag, ocitest.Image(t, int64(20+i), 2, 512, ocitest.AMD64))
	}
	m.pinned = push(t, m.src.Host+"/ns/pin:whatever", ocitest.Image(t, 30, 2, 512, ocitest.AMD64))
	m.src.Reset()

	t.Setenv("MIRROR_USER", "mirror")
	t.Setenv("MIRROR_PASS", "s3cret")
	m.auth = writeFile(t, m.dir, "auth.yaml", `
`+m.dst.Host+`:
  username: $MIRROR_USER
  password: ${MIRROR_PASS}
`)
	return m
}

// config loads the images file written as name.
func (m *mirrorFixture) config(t *testing.T, name, images string) *Config {
	t.Helper()
	cfg, err := LoadConfig(m.auth, writeFile(t, m.dir, name, images))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rerunWritesNothing runs cfg again: every image is skipped, and nothing
// is written to the destination.
func (m *mirrorFixture) rerunWritesNothing(t *testing.T, cfg *Config, images int, opts ...Option) {
	t.Helper()
	m.dst.Reset()
	sum, err := Run(context.Background(), cfg, append(opts, WithRetryDelay(0))...)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != images || sum.Copied != 0 {
		t.Fatalf("second run: %+v", sum)
	}
	if w := writes(m.dst); len(w) != 0 {
		t.Errorf("second run wrote to the destination: %v", w)
	}
}

// TestSyncTwoRegistries mirrors between two real registries: a multi-arch
// index with an arch filter, a tag regex, a comma list with several
// destinations, a digest source, a same-registry mount, and second runs
// that write nothing.
func TestSyncTwoRegistries(t *testing.T) {
	m := newMirrorFixture(t)
	t.Run("arch filter", func(t *testing.T) { testSyncArchFilter(t, m) })
	t.Run("regex, comma list, digest, many destinations", func(t *testing.T) { testSyncSelections(t, m) })
	// The mount reads what the previous subtest copied.
	t.Run("mount within a registry", func(t *testing.T) { testSyncMount(t, m) })
}

func testSyncArchFilter(t *testing.T, m *mirrorFixture) {
	cfg := m.config(t, "multi.yaml", m.src.Host+"/ns/multi:v1: "+m.dst.Host+"/mirror/multi\n")
	sum, err := Run(context.Background(), cfg, WithArch("arm64"), WithProcs(3), WithRetryDelay(0))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Copied != 1 || sum.Failed != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	ref, _ := name.ParseReference(m.dst.Host + "/mirror/multi:v1")
	got, err := remote.Index(ref, m.dstAuth)
	if err != nil {
		t.Fatal(err)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || !im.Manifests[0].Platform.Equals(ocitest.ARM64) {
		t.Fatalf("filtered index holds %+v, want only arm64", im.Manifests)
	}
	want := m.children["arm64"]
	if im.Manifests[0].Digest != want {
		t.Errorf("arm64 child digest %s, want the source's %s", im.Manifests[0].Digest, want)
	}
	gotDigest, _ := got.Digest()
	if gotDigest == m.srcIdx {
		t.Errorf("a filtered index must get a new digest")
	}
	if sum.Images[0].Digest != gotDigest.String() {
		t.Errorf("summary digest %s, registry has %s", sum.Images[0].Digest, gotDigest)
	}
	// Every blob of the arm64 image is really there.
	child, err := got.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateBlobs(child); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"amd64", "s390x"} {
		d := m.children[a]
		if _, ok := headDigest(t, m.dst.Host+"/mirror/multi@"+d.String(), m.dstAuth); ok {
			t.Errorf("%s child was copied despite the filter", a)
		}
	}
	m.rerunWritesNothing(t, cfg, 1, WithArch("arm64"))
}

func testSyncSelections(t *testing.T, m *mirrorFixture) {
	src, dst := m.src.Host, m.dst.Host
	cfg := m.config(t, "images.yaml", `
`+src+`/ns/app:/^v1\./: `+dst+`/mirror/app
`+src+`/ns/lst:a,b:
  - `+dst+`/mirror/lst
  - `+dst+`/mirror/lst2:x,y
`+src+`/ns/pin@`+m.pinned.String()+`: `+dst+`/mirror/pin:stable
`)
	m.dst.Reset()
	sum, err := Run(context.Background(), cfg, WithProcs(4), WithRetryDelay(0))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Copied != 7 || sum.Failed != 0 || sum.Skipped != 0 {
		var b strings.Builder
		sum.WriteTo(&b)
		t.Fatalf("summary:\n%s", b.String())
	}
	if sum.BlobsCopied == 0 || sum.BytesCopied == 0 {
		t.Errorf("no blob traffic counted: %+v", sum)
	}
	if got := tagsAuth(t, dst+"/mirror/app", m.dstAuth); !slices.Equal(got, []string{"v1.0", "v1.1"}) {
		t.Errorf("regex copied tags %v, want [v1.0 v1.1]", got)
	}
	if got := tagsAuth(t, dst+"/mirror/lst", m.dstAuth); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("comma list copied tags %v, want [a b]", got)
	}
	for tag, want := range map[string]v1.Hash{"x": m.lst["a"], "y": m.lst["b"]} {
		if d, ok := headDigest(t, dst+"/mirror/lst2:"+tag, m.dstAuth); !ok || d != want {
			t.Errorf("mirror/lst2:%s = %s, want %s (renamed in order)", tag, d, want)
		}
	}
	if d, ok := headDigest(t, dst+"/mirror/pin:stable", m.dstAuth); !ok || d != m.pinned {
		t.Errorf("digest source: mirror/pin:stable = %s, want %s", d, m.pinned)
	}
	m.rerunWritesNothing(t, cfg, 7)
}

func testSyncMount(t *testing.T, m *mirrorFixture) {
	cfg := m.config(t, "mount.yaml", m.dst.Host+"/mirror/lst:a: "+m.dst.Host+"/other/lst\n")
	m.dst.Reset()
	sum, err := Run(context.Background(), cfg, WithRetryDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 1 || sum.BlobsCopied != 0 || sum.BlobsReused != 3 {
		t.Fatalf("summary %+v: want 3 blobs (config + 2 layers) mounted, none streamed", sum)
	}
	if mounted := m.dst.Mounted(); len(mounted) != 3 {
		t.Errorf("want 3 blobs mounted, got %v", mounted)
	}
	if n := m.dst.BlobUploads(); n != 0 {
		t.Errorf("blobs were uploaded instead of mounted:\n%s", m.dst)
	}
	if d, ok := headDigest(t, m.dst.Host+"/other/lst:a", m.dstAuth); !ok || d != m.lst["a"] {
		t.Errorf("other/lst:a = %s, want %s", d, m.lst["a"])
	}
}

// TestSyncRetries makes the destination answer 503 twice before it works.
func TestSyncRetries(t *testing.T) {
	src := ocitest.StartRegistry(t)
	dst := ocitest.StartRegistry(t)
	want := push(t, src.Host+"/ns/img:1", ocitest.Image(t, 1, 2, 512, ocitest.AMD64))
	dir := t.TempDir()
	images := writeFile(t, dir, "images.json", `{"`+src.Host+`/ns/img:1": "`+dst.Host+`/ns/img"}`)
	cfg, err := LoadConfig("", images)
	if err != nil {
		t.Fatal(err)
	}
	failTwice := ocitest.Fault{Kind: ocitest.ManifestPut, Status: http.StatusServiceUnavailable, Times: 2}

	// One retry is not enough for two failures.
	dst.Inject(failTwice)
	sum, err := Run(context.Background(), cfg, WithRetries(1), WithRetryDelay(0))
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || sum.Failed != 1 {
		t.Fatalf("with 1 retry: err=%v summary=%+v, want one failed image", err, sum)
	}
	if !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("error does not say what the registry answered: %v", err)
	}
	if sum.Images[0].Attempts != 2 {
		t.Errorf("attempts = %d, want 2", sum.Images[0].Attempts)
	}

	// Two retries are.
	dst.Inject(failTwice)
	dst.Reset()
	sum, err = Run(context.Background(), cfg, WithRetries(2), WithRetryDelay(0))
	if err != nil {
		t.Fatalf("with 2 retries: %v", err)
	}
	if sum.Copied != 1 || sum.Images[0].Attempts != 3 || dst.Count(ocitest.ManifestPut) != 3 || dst.PendingFaults() != 0 {
		t.Fatalf("summary %+v: want copied on the third attempt:\n%s", sum, dst)
	}
	if d, ok := headDigest(t, dst.Host+"/ns/img:1"); !ok || d != want {
		t.Errorf("destination has %s, want %s", d, want)
	}
	// Blobs pushed in the failed attempts are not sent again.
	if n := dst.BlobUploads(); n != 0 {
		t.Errorf("blobs were uploaded again after the earlier attempts:\n%s", dst)
	}
}

// TestSyncBadCredentials gives one destination a wrong password: its images
// fail with a clear error, the other destination still gets everything.
func TestSyncBadCredentials(t *testing.T) {
	src := ocitest.StartRegistry(t)
	good := ocitest.StartRegistry(t)
	bad := ocitest.StartRegistry(t)
	good.RequireBasicAuth("u", "right")
	bad.RequireBasicAuth("u", "right")
	d1 := push(t, src.Host+"/ns/one:1", ocitest.Image(t, 1, 2, 512, ocitest.AMD64))
	d2 := push(t, src.Host+"/ns/two:1", ocitest.Image(t, 2, 2, 512, ocitest.AMD64))
	dir := t.TempDir()
	auth := writeFile(t, dir, "auth.json", `{
  "`+good.Host+`": {"username": "u", "password": "right"},
  "`+bad.Host+`/team": {"username": "u", "password": "wrong"}
}`)
	images := writeFile(t, dir, "images.json", `{
  "`+src.Host+`/ns/one:1": ["`+bad.Host+`/team/one", "`+good.Host+`/team/one"],
  "`+src.Host+`/ns/two:1": ["`+bad.Host+`/team/two", "`+good.Host+`/team/two"]
}`)
	cfg, err := LoadConfig(auth, images)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), cfg, WithRetries(0))
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("want a *FailedError, got %v", err)
	}
	if sum.Failed != 2 || sum.Copied != 2 {
		t.Fatalf("summary %+v: want 2 failed, 2 copied", sum)
	}
	for _, r := range fe.Failed {
		if !strings.HasPrefix(r.Destination, bad.Host) {
			t.Errorf("unexpected failure %s: %v", r.Destination, r.Err)
		}
		msg := r.Err.Error()
		for _, want := range []string{"access denied (HTTP 401)", `"` + bad.Host + `/team"`, auth + ":3"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not contain %q", msg, want)
			}
		}
	}
	goodAuth := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "u", Password: "right"}))
	for repo, want := range map[string]v1.Hash{"team/one": d1, "team/two": d2} {
		if d, ok := headDigest(t, good.Host+"/"+repo+":1", goodAuth); !ok || d != want {
			t.Errorf("%s on the good destination = %s, want %s", repo, d, want)
		}
	}
	if w := writes(bad); len(w) != 0 {
		t.Errorf("the bad destination was written to: %v", w)
	}
}

func tagsAuth(t *testing.T, repo string, opts ...remote.Option) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := remote.List(r, opts...)
	if err != nil {
		t.Fatalf("listing %s: %v", repo, err)
	}
	slices.Sort(ts)
	return ts
}

func validateBlobs(img v1.Image) error {
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		// go-containerregistry verifies the digest while reading.
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	_, err = img.RawConfigFile()
	return err
}

// TestSyncInsecure checks the auth file's insecure flag against a registry
// with a self-signed certificate and one speaking plain HTTP, both under
// non-loopback names (go-containerregistry always speaks plain HTTP to a
// loopback name), which a test dialer sends to the loopback proxies.
func TestSyncInsecure(t *testing.T) {
	src := ocitest.StartRegistry(t)
	tlsReg := ocitest.StartRegistry(t, ocitest.WithTLS())
	plainReg := ocitest.StartRegistry(t)
	want := push(t, src.Host+"/ns/img:1", ocitest.Image(t, 1, 2, 512, ocitest.AMD64))
	addrs := map[string]string{
		"selfsigned.test:443": tlsReg.Host,
		"plain.test:443":      plainReg.Host,
		"plain.test:80":       plainReg.Host,
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if a, ok := addrs[addr]; ok {
			addr = a
		} else if !strings.HasPrefix(addr, "127.0.0.1:") {
			return nil, fmt.Errorf("test dialer: unexpected address %s", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	dir := t.TempDir()
	images := writeFile(t, dir, "images.yaml", src.Host+"/ns/img:1: [selfsigned.test/ns/a, plain.test/ns/b]\n")

	// Without insecure, the certificate is refused and HTTP is not tried.
	cfg, err := LoadConfig("", images)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), cfg, WithTransport(tr), WithRetries(0))
	if err == nil || sum.Failed != 2 || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without insecure: err=%v summary=%+v, want certificate failures", err, sum)
	}

	auth := writeFile(t, dir, "auth.yaml", "selfsigned.test:\n  insecure: true\nplain.test/ns:\n  insecure: true\n")
	cfg, err = LoadConfig(auth, images)
	if err != nil {
		t.Fatal(err)
	}
	sum, err = Run(context.Background(), cfg, WithTransport(tr), WithRetries(0))
	if err != nil || sum.Copied != 2 {
		t.Fatalf("with insecure: err=%v summary=%+v", err, sum)
	}
	for _, c := range []struct{ reg, repo string }{{tlsReg.Direct, "ns/a"}, {plainReg.Direct, "ns/b"}} {
		if d, ok := headDigest(t, c.reg+"/"+c.repo+":1"); !ok || d != want {
			t.Errorf("%s = %s, want %s", c.repo, d, want)
		}
	}
}
