package remote

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
)

// GGCRLoggers builds loggers for go-containerregistry's logs.Warn,
// logs.Progress and logs.Debug that send every line (request and response
// dumps included) to l at debug level, with every credential-bearing part
// redacted. Setting ggcr's globals is the program's business, not a
// library's: cmd/assemble assigns them.
func GGCRLoggers(l *slog.Logger) (warn, progress, debug *log.Logger) {
	return log.New(slogWriter{l: l, kind: "warn"}, "", 0),
		log.New(slogWriter{l: l, kind: "progress"}, "", 0),
		log.New(slogWriter{l: l, kind: "debug"}, "", 0)
}

type slogWriter struct {
	l    *slog.Logger
	kind string
}

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(redact.Text(string(p)), "\n")
	if msg != "" {
		w.l.Log(context.Background(), slog.LevelDebug, "ggcr", "log", w.kind, "msg", msg)
	}
	return len(p), nil
}

// logTransport logs one debug line per request without headers or bodies,
// and with query values other than harmless ones redacted.
type logTransport struct {
	inner http.RoundTripper
	what  string // "registry request", "http request"
}

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.inner.RoundTrip(req)
	l := logctx.From(req.Context())
	if err != nil {
		l.Debug(t.what, "method", req.Method, "url", redact.URL(req.URL), "error", redact.Text(err.Error()), "duration", time.Since(start))
		return resp, err
	}
	l.Debug(t.what, "method", req.Method, "url", redact.URL(req.URL), "status", resp.StatusCode, "duration", time.Since(start))
	return resp, err
}
