package wheel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
)

// closedIndexURL is an index URL on a loopback port nothing listens on, so
// that connecting to it is refused, as on a machine without network.
func closedIndexURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/simple/"
}

// wheelhouse writes wheels into a new directory, as `pip wheel -w` would.
func wheelhouse(t *testing.T, ws ...wheelSpec) string {
	t.Helper()
	dir := t.TempDir()
	for _, w := range ws {
		if err := os.WriteFile(filepath.Join(dir, w.filename()), w.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// countingTransport counts the requests that reach the network.
type countingTransport struct {
	n     atomic.Int32
	inner http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.inner.RoundTrip(r)
}

// fastRetryClient is NewHTTPClient over a counting transport, retrying
// network errors as in production (4 tries) but without waiting long.
func fastRetryClient() (*http.Client, *countingTransport) {
	ct := &countingTransport{inner: remote.BaseTransport()}
	return remote.NewHTTPClient(remote.WithHTTPTransport(ct),
		remote.WithRetry(remote.Retry{Attempts: 4, Initial: time.Millisecond, Max: time.Millisecond})), ct
}

// logged returns a context whose logger writes into the returned buffer.
func logged() (context.Context, *bytes.Buffer) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return logctx.With(context.Background(), l), &buf
}

func airgapHouse(t *testing.T) string {
	return wheelhouse(t,
		wheelSpec{Name: "alpha", Version: "1.0", Requires: []string{"beta>=2"}},
		wheelSpec{Name: "beta", Version: "1.0"},
		wheelSpec{Name: "beta", Version: "2.0"},
		wheelSpec{Name: "gamma", Version: "0.1"})
}

// --find-links without --no-index on a machine that cannot reach the index:
// the index is a warning, named once, and resolution goes on from the
// wheelhouse. The index host is tried for one page only (with the client's
// retries), not again for every project.
func TestResolveUnreachableIndexUsesWheelhouse(t *testing.T) {
	house := airgapHouse(t)
	index := closedIndexURL(t)
	hc, ct := fastRetryClient()
	cache := newCache(t)
	r := NewResolver(cache, WithIndexURL(index), WithFindLinks(house), WithHTTPClient(hc))
	ctx, logs := logged()
	set, err := r.Resolve(ctx, reqsOf(t, "alpha\ngamma\n"), debianTarget())
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got := fmt.Sprint(versions(set)); got != fmt.Sprint(map[string]string{"alpha": "1.0", "beta": "2.0", "gamma": "0.1"}) {
		t.Errorf("resolved %s", got)
	}
	for _, s := range set {
		if !strings.HasPrefix(s.URL, "file://"+house+"/") {
			t.Errorf("%s comes from %s, want the wheelhouse", s.Name, s.URL)
		}
	}
	if n := ct.n.Load(); n != 4 {
		t.Errorf("%d requests reached the network; want 4 (one page, retried), then the host is skipped", n)
	}
	warns := strings.Count(logs.String(), "level=WARN")
	if warns != 1 || !strings.Contains(logs.String(), index) || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("want one warning naming %s and its error; logged:\n%s", index, logs)
	}
	if _, err := NewLayer(cache, set, debianTarget(), WithDownloader(r)).Entries(ctx); err != nil {
		t.Errorf("layer from the wheelhouse: %v", err)
	}
}

// When a requirement cannot be met, the error names it with its file and
// line, says what every source said, and tells how to build without the
// index.
func TestResolveUnreachableIndexUnmetRequirement(t *testing.T) {
	house := airgapHouse(t)
	index := closedIndexURL(t)
	empty := newTestIndex(t) // answers 404 for every project
	hc, _ := fastRetryClient()
	r := NewResolver(newCache(t), WithIndexURL(index), WithExtraIndexURLs(empty.URL()), WithFindLinks(house), WithHTTPClient(hc))
	ctx, _ := logged()
	_, err := r.Resolve(ctx, reqsOf(t, "alpha\nbeta>=3\n"), debianTarget())
	if err == nil {
		t.Fatal("beta>=3 is nowhere; want an error")
	}
	if !errors.Is(err, ErrConflict) {
		t.Errorf("error does not wrap ErrConflict: %v", err)
	}
	for _, want := range []string{
		"beta>=3 (from requirements.txt:2)",
		index + ": cannot be reached (",
		"connection refused",
		empty.URL() + ": answered 404 Not Found for beta",
		house + ": offers beta 2.0, 1.0",
		"--no-index",
		"--index-url",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = r.Resolve(ctx, reqsOf(t, "no-such-thing\n"), debianTarget())
	if err == nil || !strings.Contains(err.Error(), house+": has no files of no-such-thing") {
		t.Errorf("a project in no source: %v", err)
	}
}

// --offline never uses the network: an index page that is not cached is
// skipped (with a warning), and the wheelhouse is enough.
func TestResolveOfflineWheelhouseNoNetwork(t *testing.T) {
	house := airgapHouse(t)
	ix := graphIndex(t)
	never := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("offline, a request was made: %s", r.URL)
		return nil, errors.New("offline")
	})}
	cache := newCache(t)
	for _, opts := range [][]Option{
		{WithIndexURL(ix.URL())},
		{}, // the default index
	} {
		r := NewResolver(cache, append(opts, WithFindLinks(house), WithOffline(), WithHTTPClient(never))...)
		ctx, logs := logged()
		set, err := r.Resolve(ctx, reqsOf(t, "alpha\n"), debianTarget())
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if got := fmt.Sprint(versions(set)); got != fmt.Sprint(map[string]string{"alpha": "1.0", "beta": "2.0"}) {
			t.Errorf("resolved %s", got)
		}
		if !strings.Contains(logs.String(), "--offline") {
			t.Errorf("no warning that the index was not consulted:\n%s", logs)
		}
		if _, err := NewLayer(cache, set, debianTarget(), WithDownloader(r)).Entries(ctx); err != nil {
			t.Errorf("offline layer: %v", err)
		}
		_, err = r.Resolve(ctx, reqsOf(t, "lib\n"), debianTarget())
		if err == nil || !errors.Is(err, layers.ErrNotCached) || !strings.Contains(err.Error(), "not consulted (--offline)") {
			t.Errorf("offline, a project only the index has: %v", err)
		}
	}
	if n := ix.requested("/"); n != 0 {
		t.Errorf("the index got %d requests", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A find-links page on an unreachable host is skipped like an index.
func TestResolveUnreachableFindLinksPage(t *testing.T) {
	house := airgapHouse(t)
	page := strings.TrimSuffix(closedIndexURL(t), "simple/") + "wheels.html"
	hc, _ := fastRetryClient()
	r := NewResolver(newCache(t), WithNoIndex(), WithFindLinks(page, house), WithHTTPClient(hc))
	ctx, logs := logged()
	if _, err := r.Resolve(ctx, reqsOf(t, "alpha\n"), debianTarget()); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if !strings.Contains(logs.String(), page) {
		t.Errorf("no warning naming %s:\n%s", page, logs)
	}
}

func TestLinkProject(t *testing.T) {
	for fn, want := range map[string]string{
		"Foo_Bar-1.0-py3-none-any.whl": "foo-bar",
		"foo-bar-1.0.tar.gz":           "foo-bar",
		"foo.zip":                      "",
		"README":                       "",
		"bad.whl":                      "",
	} {
		if got := linkProject(fn); got != want {
			t.Errorf("linkProject(%q) = %q, want %q", fn, got, want)
		}
	}
}
