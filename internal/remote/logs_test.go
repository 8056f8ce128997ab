package remote

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/logctx"
)

func TestGGCRLoggersRedact(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, _, debug := GGCRLoggers(l)
	debug.Printf("PUT /v2/a/blobs/uploads/1?_state=secret-state HTTP/1.1\nAuthorization: Bearer abcdefgh\n")
	out := buf.String()
	if strings.Contains(out, "secret-state") || strings.Contains(out, "abcdefgh") || !strings.Contains(out, "ggcr") {
		t.Errorf("log %q", out)
	}
}

type okTransport struct{}

func (okTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

func TestRequestsLogToTheContextLogger(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := logctx.With(context.Background(), l)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://u:pw@r.example/v2/a/blobs/uploads/1?_state=s3&digest=sha256:00", nil)
	if _, err := (&logTransport{inner: okTransport{}, what: "registry request"}).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "registry request") || strings.Contains(out, "pw") || strings.Contains(out, "s3") {
		t.Errorf("log %q", out)
	}
}
