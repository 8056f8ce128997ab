//go:build !cgo

package cstorage

import (
	"context"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// errNeedsCgo is what a build without cgo answers: the storage library
// enters the user namespace from C code that runs before the Go runtime,
// and extracts layers with cgo helpers, so this build links none of it.
var errNeedsCgo = errors.New("containers-storage: needs a build with cgo (CGO_ENABLED=1)")

// Init does nothing in a build without cgo: no store is linked to re-execute.
func Init() bool { return false }

// EnterUserNamespace does nothing in a build without cgo; Write refuses.
func EnterUserNamespace() {}

// Write fails in a build without cgo.
func Write(context.Context, string, v1.Image, ...Option) (v1.Hash, error) {
	return v1.Hash{}, errNeedsCgo
}
