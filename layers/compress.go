package layers

import (
	"errors"
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
// never on how many cores ran it. Level 7 is the first of klauspost's lazy
// matchers: its levels 5 and 6 (fast matchers) are 4.8% and 3.4% larger than
// pigz -6 on a tree of Go sources and binaries, level 7 is 2.0% larger at
// about half pigz's CPU (bench/run.sh layer measures both).
var Gzip = Compression{Name: "gzip", Level: 7}

// gzipBlock is pgzip's block size: part of the output's identity.
const gzipBlock = 1 << 20

// Zstd writes tar+zstd layers with klauspost's encoder at its default level
// (zstd -3's ratio) in its concurrent-blocks mode: the stream is cut into
// jobs of four windows, each primed with the last eighth of a window of the
// one before, and the jobs are compressed in parallel and written in order.
// The cuts depend on the window alone, never on the number of workers or on
// how the tar was written to the encoder, so the output is the same on every
// machine. The 2 MB window is zstd -3's for large inputs: jobs of 8 MB, as
// zstd -T2 cuts them, keep both cores busy to the end of a layer and the
// buffers in flight small. The frame carries no content checksum (zstd's
// --no-check): the layer's digest and diffID already check every byte, and
// the checksum would be one more pass over the tar on the goroutine that
// feeds the workers.
var Zstd = Compression{Name: "zstd", Level: int(zstd.SpeedDefault)}

// zstdWindow is the zstd window: it sets the job cuts, so it is part of the
// output's identity.
const zstdWindow = 2 << 20

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
// library version and every parameter that changes the bytes.
func (c Compression) Params() string {
	if c.Name == "zstd" {
		return fmt.Sprintf("zstd/klauspost-compress@%s/level=%d/window=%d/concurrent-blocks/no-checksum", compressVersion(), c.Level, zstdWindow)
	}
	return fmt.Sprintf("gzip/klauspost-pgzip@%s/klauspost-compress@%s/level=%d/block=%d", moduleVersion("github.com/klauspost/pgzip"), compressVersion(), c.Level, gzipBlock)
}

// zstdWorkers is how many jobs run at once: only speed and memory depend on
// it. At least 2, as one worker turns the concurrent-blocks mode (and its
// cuts) off; at most 4, as each job in flight holds 8 MB or more.
func zstdWorkers() int { return min(max(runtime.GOMAXPROCS(0), 2), 4) }

// NewWriter wraps w with the compressor. A writer costs more to set up than
// most layers cost to compress (zstd: an 8 MB job buffer, and hash tables and
// a history per worker; pgzip: a flate state per block), so a writer closed
// without error is kept for the next one. Reset starts an independent stream:
// a reused writer writes the same bytes as a new one.
func (c Compression) NewWriter(w io.Writer) (*Writer, error) {
	p, _ := writerPools.LoadOrStore(c, new(sync.Pool))
	pool := p.(*sync.Pool)
	if zw, ok := pool.Get().(resetWriter); ok {
		zw.Reset(w)
		if err := c.configure(zw); err != nil {
			return nil, err
		}
		return &Writer{zw: zw, pool: pool}, nil
	}
	zw, err := c.newWriter(w)
	if err != nil {
		return nil, err
	}
	return &Writer{zw: zw, pool: pool}, nil
}

// writerPools holds a *sync.Pool of closed writers for each Compression.
var writerPools sync.Map

type resetWriter interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// newWriter makes a new writer, not taken from the pool.
func (c Compression) newWriter(w io.Writer) (resetWriter, error) {
	switch c.Name {
	case "gzip":
		zw, err := pgzip.NewWriterLevel(w, c.Level)
		if err != nil {
			return nil, err
		}
		return zw, c.configure(zw)
	case "zstd":
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevel(c.Level)), zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderConcurrency(zstdWorkers()), zstd.WithConcurrentBlocks(true), zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false))
	}
	return nil, fmt.Errorf("unknown compression %q", c.Name)
}

// configure sets what pgzip's Reset sets back to its defaults.
func (c Compression) configure(zw resetWriter) error {
	gz, ok := zw.(*pgzip.Writer)
	if !ok {
		return nil
	}
	if err := gz.SetConcurrency(gzipBlock, 2*runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	gz.OS = 255 // unknown: the same on every machine
	// The zero time.Time would be written as a 2042 date: MTIME 0 means "none".
	gz.ModTime = time.Unix(0, 0)
	return nil
}

// Writer is a compressor from NewWriter. It returns to its pool when it
// closes without error.
type Writer struct {
	zw   resetWriter
	pool *sync.Pool
}

func (p *Writer) Write(b []byte) (int, error) {
	if p.zw == nil {
		return 0, errors.New("write to a closed compressor")
	}
	return p.zw.Write(b)
}

// ReadFrom compresses what r yields. zstd reads r straight into its job
// buffers; a zstd stream must then have no other input (its ReadFrom ends
// the job being filled first, which Write would not).
func (p *Writer) ReadFrom(r io.Reader) (int64, error) {
	if p.zw == nil {
		return 0, errors.New("write to a closed compressor")
	}
	if rf, ok := p.zw.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.CopyBuffer(writerOnly{p.zw}, r, make([]byte, 256<<10))
}

// Close ends the stream.
func (p *Writer) Close() error {
	zw := p.zw
	if zw == nil {
		return nil
	}
	p.zw = nil
	if err := zw.Close(); err != nil {
		return err
	}
	zw.Reset(nil) // holds no reference to the finished stream's writer
	p.pool.Put(zw)
	return nil
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
