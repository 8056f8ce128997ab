package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobServer serves one blob as a registry, answering Range requests as
// mode says: "range" (206), "ignore" (200, the whole blob), "wrong" (206
// from the wrong offset), or "corrupt" (200, a changed byte).
func blobServer(t *testing.T, blob []byte, mode string) (name.Repository, v1.Hash) {
	t.Helper()
	d, _, err := v1.SHA256(strings.NewReader(string(blob)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		if r.URL.Path != "/v2/ns/app/blobs/"+d.String() {
			http.NotFound(w, r)
			return
		}
		var off int
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &off); err != nil || mode == "ignore" || mode == "corrupt" {
			b := blob
			if mode == "corrupt" {
				b = append([]byte{'X'}, blob[1:]...)
			}
			_, _ = w.Write(b)
			return
		}
		if mode == "wrong" {
			off++
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, len(blob)-1, len(blob)))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(blob[off:])
	}))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/ns/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return repo, d
}

func TestOpenBlob(t *testing.T) {
	blob := []byte("0123456789abcdefghij")
	read := func(mode string, off int64) (string, error) {
		repo, d := blobServer(t, blob, mode)
		rc, err := Endpoint{}.OpenBlob(context.Background(), repo, d, int64(len(blob)), off)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	for _, tc := range []struct {
		mode    string
		off     int64
		want    string
		wantErr string
	}{
		{"range", 0, string(blob), ""},
		{"range", 12, "cdefghij", ""},
		// A registry that ignores Range: the bytes before the offset are dropped, the digest still checked.
		{"ignore", 12, "cdefghij", ""},
		{"corrupt", 0, "", "has digest"},
		{"corrupt", 12, "", "has digest"},
		{"wrong", 12, "", `sent range "bytes 13-19/20"`},
	} {
		got, err := read(tc.mode, tc.off)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s from %d: %q, %v; want an error saying %q", tc.mode, tc.off, got, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%s from %d: %q, %v; want %q", tc.mode, tc.off, got, err, tc.want)
		}
	}
}

func TestChunkingApplies(t *testing.T) {
	def := &Chunking{}
	if def.Applies("r", DefaultChunkThreshold-1) || !def.Applies("r", DefaultChunkThreshold) {
		t.Error("the default threshold is not 1 GiB")
	}
	off := &Chunking{Threshold: -1}
	if off.Applies("r", 1<<40) {
		t.Error("a negative threshold chunks")
	}
	all := &Chunking{Threshold: 1}
	if !all.Applies("r", 1) || all.Applies("r", 0) {
		t.Error("threshold 1: every non-empty blob goes in chunks")
	}
	all.refused.Store("r", true)
	if all.Applies("r", 100) || !all.Applies("other", 100) {
		t.Error("a registry that refused chunks gets none; others still do")
	}
}
