package plan

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/internal/atomicfile"
)

// WriteFiles writes generated files under dir (the repository root for
// --write-metadata, a directory of their own for --metadata-out), each
// atomically, and refuses a file whose path would leave dir. It returns the
// paths written, relative to dir, in the order of files. Conventions never
// call it: planning writes nothing, the pipeline writes what the user asks.
func WriteFiles(dir string, files []File) ([]string, error) {
	var written []string
	for _, f := range files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		if rel, err := filepath.Rel(dir, dst); err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return written, fmt.Errorf("generated file %q leaves %s", f.Path, dir)
		}
		if err := atomicfile.WriteFile(dst, f.Content); err != nil {
			return written, err
		}
		written = append(written, f.Path)
	}
	return written, nil
}
