//go:build !unix

package flock

import "os"

// Lock does nothing where flock is unavailable.
func Lock(*os.File) error { return nil }

// TryLock cannot tell: callers decide by other means.
func TryLock(*os.File) (bool, error) { return false, ErrUnsupported }

// Unlock does nothing where flock is unavailable.
func Unlock(*os.File) error { return nil }
