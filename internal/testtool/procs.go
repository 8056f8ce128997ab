package testtool

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// AwaitProcesses waits (up to a minute) until no other process on the
// machine has needle in its command line. `podman run --rm` returns while
// conmon's `podman container cleanup` may still be removing the container
// from the store; a test that then removes the store races it ("directory
// not empty"). Waiting for every process naming the store ends the race.
func AwaitProcesses(t testing.TB, needle string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pids := processesWith(needle)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("processes still using %s after a minute: %v", needle, pids)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesWith lists the pids whose command line contains needle, this
// process excluded.
func processesWith(needle string) []string {
	self := strconv.Itoa(os.Getpid())
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, p := range paths {
		pid := filepath.Base(filepath.Dir(p))
		if pid == self {
			continue
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
