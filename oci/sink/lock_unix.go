//go:build unix

package sink

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on the layout directory itself, so two
// writers of one layout do not lose each other's index.json entries, and no
// lock file is left in the layout.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
