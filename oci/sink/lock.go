package sink

import (
	"fmt"
	"os"

	"github.com/assemble-build/assemble/internal/flock"
)

// lockDir takes an exclusive flock on the layout directory itself, so two
// writers of one layout do not lose each other's index.json entries, and no
// lock file is left in the layout. Where flock is unavailable it does nothing.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := flock.Lock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = flock.Unlock(f)
		f.Close()
	}, nil
}
