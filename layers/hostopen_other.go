//go:build !unix

package layers

import (
	"io"
	"os"
)

// openHostFile opens the regular file p for one sequential read.
func openHostFile(p string) (io.ReadCloser, error) { return os.Open(p) }
