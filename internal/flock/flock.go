// Package flock takes advisory locks on open files (flock(2)). A lock lives
// as long as the open file: a process that dies, even by SIGKILL, releases
// it, which is what lets another process tell a live writer from a dead one.
package flock

import "errors"

// ErrUnsupported is returned where the system has no flock: callers fall
// back to something else (no lock, or an age).
var ErrUnsupported = errors.New("file locks are not supported on this system")
