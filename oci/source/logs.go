package source

import (
	"context"
	"log"
	"log/slog"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/logs"
)

// RouteGGCRLogs sends ggcr's Warn, Progress and Debug loggers (request and
// response dumps included) to slog.Default() at debug level, with every
// credential-bearing part redacted. It is called automatically the first time
// a registry is used while slog's default logger has debug enabled; call it
// yourself if you enable debug logging later. The returned function puts
// the previous loggers back.
func RouteGGCRLogs() (restore func()) {
	w, p, d := logs.Warn, logs.Progress, logs.Debug
	logs.Warn = log.New(slogWriter{kind: "warn"}, "", 0)
	logs.Progress = log.New(slogWriter{kind: "progress"}, "", 0)
	logs.Debug = log.New(slogWriter{kind: "debug"}, "", 0)
	return func() { logs.Warn, logs.Progress, logs.Debug = w, p, d }
}

type slogWriter struct{ kind string }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(redactText(string(p)), "\n")
	if msg != "" {
		slog.Default().Log(context.Background(), slog.LevelDebug, "ggcr", "log", w.kind, "msg", msg)
	}
	return len(p), nil
}

var redactions = []struct {
	re   *regexp.Regexp
	with string
}{
	// Header lines in request/response dumps.
	{regexp.MustCompile(`(?im)^((?:proxy-)?authorization|cookie|set-cookie|x-amz-security-token|x-registry-auth|x-auth-token):[^\r\n]*`), "$1: <redacted>"},
	// Credentials anywhere else, e.g. in an error text.
	{regexp.MustCompile(`(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{4,}`), "$1 <redacted>"},
	// Token responses and auth files.
	{regexp.MustCompile(`(?i)"(token|access_token|refresh_token|password|identitytoken|registrytoken|auth|secret)"\s*:\s*"[^"]*"`), `"$1":"<redacted>"`},
	// Query parameters of upload sessions, signed blob URLs and token requests.
	{regexp.MustCompile(`(?i)([?&](?:_state|x-amz-[a-z-]+|sig|signature|se|token|access_token|refresh_token|password|code)=)[^&\s"]*`), "${1}REDACTED"},
	// User info in URLs.
	{regexp.MustCompile(`(?i)(https?://)[^/@\s]+@`), "${1}<redacted>@"},
	// Form bodies of OAuth2 token requests.
	{regexp.MustCompile(`(?i)\b(password|refresh_token|access_token)=[^&\s]*`), "$1=<redacted>"},
}

func redactText(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}
