// Package testhook lets an end-to-end test stop assemble at a named point,
// so that it can kill the process exactly there instead of guessing with
// sleeps. With ASSEMBLE_TEST_HOOK=NAME in the environment, Pause(NAME)
// writes "assemble: test hook: paused at NAME" to stderr and never returns;
// without it, Pause does nothing.
package testhook

import (
	"fmt"
	"os"
	"time"
)

// Env is the environment variable naming the point to pause at.
const Env = "ASSEMBLE_TEST_HOOK"

// Paused is the line Pause writes to stderr before it blocks, without the
// point's name.
const Paused = "assemble: test hook: paused at "

// Pause blocks forever when the test hook names point.
func Pause(point string) {
	if os.Getenv(Env) != point {
		return
	}
	fmt.Fprintln(os.Stderr, Paused+point)
	// Sleeping, not select{}: the runtime must not take a process where
	// every goroutine waits for its deadlock.
	for {
		time.Sleep(time.Hour)
	}
}
