//go:build unix

package flock

import (
	"os"
	"path/filepath"
	"testing"
)

// A lock held through one open file is seen from another, even in the
// same process, and is free once the holder closes its file.
func TestTryLockSeesHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	holder, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Lock(holder); err != nil {
		t.Fatal(err)
	}
	other, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := TryLock(other); err != nil || got {
		t.Fatalf("TryLock on a held lock = %v, %v; want false", got, err)
	}
	holder.Close()
	if got, err := TryLock(other); err != nil || !got {
		t.Fatalf("TryLock after the holder closed = %v, %v; want true", got, err)
	}
}
