//go:build !linux

package git

import (
	"io"
	"os"
)

// mapFile reads the first size bytes of f outside Linux.
func mapFile(f *os.File, size int64) (data []byte, release func(), err error) {
	data = make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, func() {}, nil
}
