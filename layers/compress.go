package layers

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Compression names a layer compressor with every parameter that changes its
// output pinned, so that the same tar always gives the same blob.
type Compression struct {
	Name  string // "gzip" or "zstd"
	Level int
}

// Gzip is the default: klauspost's parallel gzip (pgzip) at a fixed level
// and a pinned block size, with a header that carries no name, time or
// OS-specific byte. pgzip compresses fixed-size blocks, each primed with the
// tail of the one before, so its output depends on the block size and level,
// never on how many cores ran it.
var Gzip = Compression{Name: "gzip", Level: 5}

// gzipBlock is pgzip's block size: part of the output's identity.
const gzipBlock = 1 << 20

// Zstd writes tar+zstd layers. klauspost's zstd output depends on its
// concurrency, so the number of concurrent jobs is pinned (zstdJobs), not
// taken from the machine.
var Zstd = Compression{Name: "zstd", Level: int(zstd.SpeedDefault)}

// ParseCompression accepts "gzip" or "zstd".
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "gzip":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	}
	return Compression{}, fmt.Errorf("unknown compression %q: use gzip or zstd", s)
}

// MediaType is the OCI layer media type for this compression.
func (c Compression) MediaType() types.MediaType {
	if c.Name == "zstd" {
		return types.OCILayerZStd
	}
	return types.OCILayer
}

// DockerMediaType is the Docker schema2 media type, for images whose base uses
// Docker manifests (gzip only).
func (c Compression) DockerMediaType() (types.MediaType, bool) {
	if c.Name == "gzip" {
		return types.DockerLayer, true
	}
	return "", false
}

// Params is the part of a layer key that describes the compressor: name,
// library version, level and concurrency.
func (c Compression) Params() string {
	if c.Name == "zstd" {
		return fmt.Sprintf("zstd/klauspost-compress@%s/level=%d/jobs=%d", compressVersion(), c.Level, zstdJobs)
	}
	return fmt.Sprintf("gzip/klauspost-pgzip@%s/klauspost-compress@%s/level=%d/block=%d", moduleVersion("github.com/klauspost/pgzip"), compressVersion(), c.Level, gzipBlock)
}

// zstdJobs is the pinned number of concurrent zstd jobs: part of the output's
// identity, so the same on every machine.
const zstdJobs = 2

// NewWriter wraps w with the compressor.
func (c Compression) NewWriter(w io.Writer) (io.WriteCloser, error) {
	switch c.Name {
	case "gzip":
		zw, err := pgzip.NewWriterLevel(w, c.Level)
		if err != nil {
			return nil, err
		}
		if err := zw.SetConcurrency(gzipBlock, 2*runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
		zw.OS = 255 // unknown: the same on every machine
		// The zero time.Time would be written as a 2042 date: MTIME 0 means "none".
		zw.ModTime = time.Unix(0, 0)
		return zw, nil
	case "zstd":
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevel(c.Level)),
			zstd.WithEncoderConcurrency(zstdJobs), zstd.WithConcurrentBlocks(true), zstd.WithZeroFrames(true))
	}
	return nil, fmt.Errorf("unknown compression %q", c.Name)
}

// NewReader decompresses a blob written by NewWriter (or any gzip/zstd stream).
func (c Compression) NewReader(r io.Reader) (io.ReadCloser, error) {
	switch c.Name {
	case "gzip":
		return gzip.NewReader(r)
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown compression %q", c.Name)
}

// CompressionFor maps a layer media type back to its compression.
func CompressionFor(mt types.MediaType) (Compression, bool) {
	switch mt {
	case types.OCILayer, types.DockerLayer, types.OCIRestrictedLayer, types.DockerForeignLayer, types.OCIUncompressedRestrictedLayer:
		return Gzip, true
	case types.OCILayerZStd:
		return Zstd, true
	}
	return Compression{}, false
}

var compressVersion = sync.OnceValue(func() string { return moduleVersion("github.com/klauspost/compress") })

// moduleVersion is the version of a module linked into this binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}
