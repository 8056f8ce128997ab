package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorLine is the error assemble printed last ("assemble: ...").
func errorLine(t *testing.T, r result) string {
	t.Helper()
	if r.err == nil {
		t.Fatalf("assemble succeeded; want an error\n%s", r.stderr)
	}
	i := strings.LastIndex(r.stderr, "assemble: ")
	if i < 0 {
		t.Fatalf("no error printed:\n%s", r.stderr)
	}
	return r.stderr[i:]
}

// A failed write names the output once, not "writing oci:X: oci:X: ...".
func TestWriteErrorNamesOutputOnce(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "layout")
	os.MkdirAll(layout, 0o755)
	os.WriteFile(filepath.Join(layout, "index.json"), []byte("not json"), 0o644)
	msg := errorLine(t, assemble(t, t.TempDir(), "build", "../../testdata/hello", "-o", "oci:"+layout))
	if n := strings.Count(msg, "oci:"+layout); n != 1 || !strings.HasPrefix(msg, "assemble: writing oci:"+layout+": ") {
		t.Errorf("the output is named %d times:\n%s", n, msg)
	}
}

// Bytes a user typed come back escaped: a path with terminal escapes in an
// error does not clear the screen or retitle the window.
func TestErrorEscapesControlCharacters(t *testing.T) {
	msg := errorLine(t, assemble(t, t.TempDir(), "copy", "oci:/nonexistent/\x1b[2J\x1b]0;pwned\a:tag", "oci:"+t.TempDir()))
	if strings.ContainsAny(msg, "\x1b\a") || !strings.Contains(msg, `\x1b[2J\x1b]0;pwned\a`) {
		t.Errorf("control characters echoed raw or lost: %q", msg)
	}
}

// A registry's error shows neither the upload session's URL nor its _state,
// and names the output once.
func TestRegistryErrorHidesUploadSession(t *testing.T) {
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/"):
			w.Header().Set("Location", "/v2/app/blobs/uploads/SESSION-0123?_state=SECRET-STATE")
			w.WriteHeader(http.StatusAccepted)
		case strings.Contains(r.URL.Path, "/blobs/uploads/SESSION-0123"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errors":[{"code":"SIZE_INVALID","message":"quota exceeded"}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	cache := t.TempDir()
	layout := filepath.Join(t.TempDir(), "layout")
	mustAssemble(t, cache, "build", "../../testdata/hello", "-o", "oci:"+layout)
	msg := errorLine(t, assemble(t, cache, "--insecure-registry", host, "copy", "oci:"+layout+":hello:latest", "docker://"+host+"/app:1"))
	for _, secret := range []string{"SESSION-0123", "SECRET-STATE", "_state"} {
		if strings.Contains(msg, secret) {
			t.Errorf("the error shows %s:\n%s", secret, msg)
		}
	}
	if !strings.Contains(msg, "quota exceeded") || strings.Count(msg, host+"/app:1") != 1 {
		t.Errorf("the error lacks the registry's reason or names the output other than once:\n%s", msg)
	}
}
