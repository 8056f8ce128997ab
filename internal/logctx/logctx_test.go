package logctx

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	if From(context.Background()) != slog.Default() {
		t.Error("an empty context must give slog.Default()")
	}
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	ctx := With(context.Background(), l)
	From(ctx).Info("hello")
	if !strings.Contains(buf.String(), "hello") {
		t.Errorf("log went elsewhere: %q", buf.String())
	}
}
