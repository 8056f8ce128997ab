//go:build !linux

package run

import (
	"context"
	"errors"
)

// MaybeRunChild does nothing off Linux: there is no sandbox to be.
func MaybeRunChild() {}

// Run needs Linux namespaces.
func Run(ctx context.Context, s Spec, opts ...Option) (*Result, error) {
	return nil, errors.New("RUN " + command(s.Command) + ": running commands needs Linux (namespaces); build on a Linux host or drop the RUN step")
}
