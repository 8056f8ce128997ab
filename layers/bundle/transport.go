package bundle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/assemble-build/assemble/layers"
)

// Transport keeps the URLs a build fetches directly (Dockerfile ADD) in the
// cache's download store, under their URL, like the Debian and Python
// clients keep theirs: online, every successful GET goes to the store (and
// so into a bundle); offline, a GET is answered from the store, and a URL it
// lacks is an error naming it (layers.ErrNotCached), never the network.
func Transport(cache *layers.Cache, next http.RoundTripper, offline bool) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{cache: cache, next: next, offline: offline}
}

type transport struct {
	cache   *layers.Cache
	next    http.RoundTripper
	offline bool
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		if t.offline {
			return nil, fmt.Errorf("%s %s: offline: %w", req.Method, req.URL, layers.ErrNotCached)
		}
		return t.next.RoundTrip(req)
	}
	name := req.URL.String()
	if t.offline {
		d, ok := t.cache.Ref(name)
		if !ok {
			return nil, fmt.Errorf("%s is not in the cache (offline; build once online or from a bundle holding it): %w", name, layers.ErrNotCached)
		}
		return t.serve(req, d)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	_, d, err := t.cache.Download(req.Context(), "", func(_ context.Context, w io.Writer) error {
		n, err := io.Copy(w, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	if err := t.cache.SetRef(name, d); err != nil {
		return nil, err
	}
	return t.serve(req, d)
}

// serve answers req with the download d.
func (t *transport) serve(req *http.Request, d string) (*http.Response, error) {
	f, err := os.Open(t.cache.DownloadPath(d))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.URL, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: f, ContentLength: fi.Size(), Request: req,
	}, nil
}
