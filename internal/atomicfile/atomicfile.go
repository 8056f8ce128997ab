// Package atomicfile writes files so that readers see the old content or
// the new, never a part: through a temporary file in the same directory,
// synced, then renamed over the target.
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

type config struct {
	mode      os.FileMode
	rename    func(from, to string) error
	noDirSync bool
}

// Option configures a write.
type Option func(*config)

// WithMode sets the file's permissions (default 0644).
func WithMode(m os.FileMode) Option { return func(c *config) { c.mode = m } }

// WithRename replaces os.Rename, so tests can simulate a crash at the
// moment the file would be put in place.
func WithRename(f func(from, to string) error) Option { return func(c *config) { c.rename = f } }

// WithoutDirSync leaves the rename to be made durable by the caller's
// SyncDir, once for many files put in one directory.
func WithoutDirSync() Option { return func(c *config) { c.noDirSync = true } }

// WriteFile writes data to path atomically, creating missing parent
// directories.
func WriteFile(path string, data []byte, opts ...Option) error {
	return Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	}, opts...)
}

// Write streams content from write into path atomically, creating missing
// parent directories. An error from write is returned as it is; the
// temporary file is removed on any failure.
func Write(path string, write func(io.Writer) error, opts ...Option) (rerr error) {
	c := config{mode: 0o644, rename: os.Rename}
	for _, o := range opts {
		o(&c)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if rerr != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// CreateTemp makes 0600 files; the umask must not decide either.
	if err := os.Chmod(tmp.Name(), c.mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := c.rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if !c.noDirSync {
		SyncDir(dir)
	}
	return nil
}

// SyncDir makes the renames into dir durable; failure only weakens crash
// safety.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
