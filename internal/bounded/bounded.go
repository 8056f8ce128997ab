// Package bounded reads the files a repository's conventions read whole
// (Dockerfiles, ignore files, assemble.toml, devfiles, requirements, ...)
// with a limit per kind of file, so that a huge or random file is refused
// before it is read, with an error naming the file, its size and the limit,
// instead of costing its size several times over in memory while a parser
// chews on it. The limits are generous for real files (README, "Inputs with
// bounds"): the largest real ones are a few hundred kilobytes.
package bounded

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Kind is a kind of input file and the most bytes read of one.
type Kind struct {
	Name  string // with its article: "a Dockerfile", "an ignore file", ...
	Limit int64
}

// The kinds of files the conventions read whole. BuildKit reads a
// Dockerfile whole too and has no limit of its own short of its gRPC
// message size (16 MiB); real Dockerfiles, configuration and ignore files
// are kilobytes, so 4 MiB leaves them a thousandfold margin while their
// parsers stay well within 100 MB. Package lists (hash-pinned
// requirements, conda environments) and generated indexes get more.
var (
	Dockerfile   = Kind{"a Dockerfile", 4 << 20}
	IgnoreFile   = Kind{"an ignore file", 4 << 20}
	Config       = Kind{"a configuration file", 4 << 20}
	PackageList  = Kind{"a package list", 16 << 20}
	GeneratedMap = Kind{"a generated index", 16 << 20}
)

// TooLargeError is a file over its kind's limit.
type TooLargeError struct {
	Path string
	Size int64 // at least this many bytes (a file still growing may be larger)
	Kind Kind
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %s, more than the %s that assemble reads of %s: is it the file you meant? (the limits are in the README, \"Inputs with bounds\")",
		e.Path, Size(e.Size), Size(e.Kind.Limit), e.Kind.Name)
}

// Size formats n bytes for people: "100 MiB", "4 MiB", "512 KiB", "17 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadFile reads path whole if it is within k's limit: its size is checked
// before any byte is read, and the read stops at the limit should the file
// grow meanwhile. Errors from the file system are returned as os.ReadFile
// returns them (errors.Is(err, fs.ErrNotExist) holds for a missing file).
func ReadFile(path string, k Kind) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(f, path, k)
}

// ReadFS is ReadFile for a file of fsys.
func ReadFS(fsys fs.FS, name string, k Kind) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(f, name, k)
}

func readOpen(f fs.File, path string, k Kind) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() && fi.Size() > k.Limit {
		return nil, &TooLargeError{Path: path, Size: fi.Size(), Kind: k}
	}
	return Read(f, path, k)
}

// Read reads r to its end, or refuses it as path once it passes k's limit.
func Read(r io.Reader, path string, k Kind) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, k.Limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > k.Limit {
		return nil, &TooLargeError{Path: path, Size: int64(len(b)), Kind: k}
	}
	return b, nil
}

// IsTooLarge reports whether err is (or wraps) a TooLargeError.
func IsTooLarge(err error) bool {
	var t *TooLargeError
	return errors.As(err, &t)
}
