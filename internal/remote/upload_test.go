package remote

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for v, want := range map[string]int64{"0-0": 1, "0-1023": 1024, "bytes=0-9": 10, " 0-4 ": 5} {
		if got, ok := parseRange(v); !ok || got != want {
			t.Errorf("parseRange(%q) = %d, %v; want %d", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "5-9", "0-", "0-x", "0--1", "1024"} {
		if got, ok := parseRange(v); ok {
			t.Errorf("parseRange(%q) = %d, want no range", v, got)
		}
	}
}

func TestNextLocation(t *testing.T) {
	req := &http.Request{Method: http.MethodPatch, URL: &url.URL{Scheme: "https", Host: "registry.example", Path: "/v2/a/blobs/uploads/1"}}
	resp := func(loc string) *http.Response {
		h := http.Header{}
		if loc != "" {
			h.Set("Location", loc)
		}
		return &http.Response{Header: h, Request: req}
	}
	if got, err := nextLocation(resp("/v2/a/blobs/uploads/1?_state=x"), ""); err != nil || got != "https://registry.example/v2/a/blobs/uploads/1?_state=x" {
		t.Errorf("relative Location: %q, %v", got, err)
	}
	if got, err := nextLocation(resp(""), "https://keep"); err != nil || got != "https://keep" {
		t.Errorf("no Location, keep: %q, %v", got, err)
	}
	if _, err := nextLocation(resp(""), ""); err == nil || !strings.Contains(err.Error(), "no Location") {
		t.Errorf("no Location on a POST: %v", err)
	}
	if _, err := nextLocation(resp("http://10.0.0.1/upload"), ""); err == nil || !strings.Contains(err.Error(), "private address") {
		t.Errorf("redirect to a private address: %v", err)
	}
}

// A chunk body gives exactly its bytes, reports positions, and reads
// nothing more of the stream once the uploader took it back.
func TestChunkBody(t *testing.T) {
	var opens []int64
	var sent int64
	s := &stream{
		open: func(off int64) (io.ReadCloser, error) {
			opens = append(opens, off)
			return io.NopCloser(strings.NewReader("0123456789"[off:])), nil
		},
		sent: func(pos int64) { sent = pos },
	}
	read := func(off, n int64) string {
		t.Helper()
		b, err := s.chunk(off, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	if got := read(0, 4); got != "0123" || sent != 4 {
		t.Errorf("first chunk %q, sent %d", got, sent)
	}
	first := s.active
	if got := read(4, 4); got != "4567" {
		t.Errorf("second chunk %q", got)
	}
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, errBodyReused) {
		t.Errorf("read of a finished body: %v", err)
	}
	// The registry holds 6 bytes: the stream is reopened there.
	if got := read(6, 4); got != "6789" || len(opens) != 2 || opens[1] != 6 {
		t.Errorf("resumed chunk %q, opens %v", got, opens)
	}
	if err := s.end(10); err != nil {
		t.Errorf("end: %v", err)
	}
	// A blob shorter than its size fails the read, not just the request.
	s.close()
	b, _ := s.chunk(8, 4)
	if _, err := io.ReadAll(b); err == nil || s.failed == nil || !strings.Contains(s.failed.Error(), "ended at byte 10") {
		t.Errorf("short blob: %v, failed %v", err, s.failed)
	}
	s.close()
}
