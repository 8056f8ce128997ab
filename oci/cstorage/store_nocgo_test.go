//go:build !cgo

package cstorage

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
)

// TestNeedsCgo: a build without cgo links no store and says so when the
// output is asked for.
func TestNeedsCgo(t *testing.T) {
	const want = "containers-storage: needs a build with cgo (CGO_ENABLED=1)"
	if _, err := NewSink("containers-storage:localhost/app:1", nil); err == nil || err.Error() != want {
		t.Errorf("NewSink: got %v, want %q", err, want)
	}
	if _, err := Write(context.Background(), "localhost/app:1", empty.Image); err == nil || err.Error() != want {
		t.Errorf("Write: got %v, want %q", err, want)
	}
}
