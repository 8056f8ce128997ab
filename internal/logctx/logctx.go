// Package logctx carries a *slog.Logger in a context, so that libraries log
// where their caller says without touching slog's default logger.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, l)
}

// From returns the logger ctx carries, or slog.Default() (which the
// program, not a library, configures) when it carries none.
func From(ctx context.Context) *slog.Logger {
	if ctx != nil {
		if l, ok := ctx.Value(key{}).(*slog.Logger); ok && l != nil {
			return l
		}
	}
	return slog.Default()
}
