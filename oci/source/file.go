package source

import (
	"fmt"
	"io"
	"os"
)

func openFile(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	return f, nil
}
