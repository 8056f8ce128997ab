package remote

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPClientRetries(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	c := NewHTTPClient(WithRetry(Retry{Initial: time.Millisecond}))
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "ok" || n.Load() != 3 {
		t.Errorf("status %d body %q after %d requests", resp.StatusCode, b, n.Load())
	}

	// A server that stays down is given up on after Attempts tries.
	n.Store(0)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer down.Close()
	c = NewHTTPClient(WithRetry(Retry{Attempts: 2, Initial: time.Millisecond}))
	resp, err = c.Get(down.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || n.Load() != 2 {
		t.Errorf("status %d after %d requests, want 500 after 2", resp.StatusCode, n.Load())
	}
}

type failing struct{ n int }

func (f *failing) RoundTrip(req *http.Request) (*http.Response, error) {
	f.n++
	return nil, &net.OpError{Op: "dial", Err: errors.New("connection refused")}
}

func TestHTTPClientRetriesNetworkErrorsOfGETOnly(t *testing.T) {
	f := &failing{}
	c := NewHTTPClient(WithHTTPTransport(f), WithRetry(Retry{Attempts: 3, Initial: time.Millisecond}))
	if _, err := c.Get("http://unreachable.invalid/x"); err == nil || f.n != 3 {
		t.Errorf("GET: %v after %d tries, want an error after 3", err, f.n)
	}
	f.n = 0
	if _, err := c.Post("http://unreachable.invalid/x", "text/plain", nil); err == nil || f.n != 1 {
		t.Errorf("POST: %v after %d tries, want an error after 1", err, f.n)
	}
}

func TestHTTPClientTimeouts(t *testing.T) {
	c := NewHTTPClient(WithResponseHeaderTimeout(time.Second))
	rt := c.Transport.(*retryTransport).inner.(*logTransport).inner.(*http.Transport)
	if rt.ResponseHeaderTimeout != time.Second || rt.TLSHandshakeTimeout == 0 || rt.Proxy == nil {
		t.Errorf("transport: header %v, handshake %v, proxy set %v", rt.ResponseHeaderTimeout, rt.TLSHandshakeTimeout, rt.Proxy != nil)
	}
}

func TestDefaultHTTPClientShared(t *testing.T) {
	a, b := DefaultHTTPClient(), DefaultHTTPClient()
	if a != b {
		t.Error("DefaultHTTPClient builds a new client each time")
	}
}
