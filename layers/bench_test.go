package layers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchTree is the tree the layer benchmarks write: ASSEMBLE_BENCH_TREE, or
// Go's own sources.
func benchTree() string {
	if t := os.Getenv("ASSEMBLE_BENCH_TREE"); t != "" {
		return t
	}
	return "/usr/local/go/src"
}

// cpuTime is the process's user+system time so far: on a machine shared with
// other work, CPU per op moves far less than wall time per op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ms/op and the compression ratio to a benchmark's line.
func reportCPU(b *testing.B, start time.Duration, in, out int64) {
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
	if in > 0 {
		b.ReportMetric(float64(out)/float64(in), "ratio")
	}
}

// BenchmarkWriteLayer writes a layer of benchTree with each compressor, the
// whole pipeline (read, tar, diffID, compress, digest, temp file, rename);
// MB/s is uncompressed tar throughput. bench/run.sh layer sets it beside
// tar | pigz and tar | zstd.
func BenchmarkWriteLayer(b *testing.B) {
	for _, comp := range []Compression{Gzip, Zstd} {
		b.Run(comp.Name, func(b *testing.B) {
			ctx := context.Background()
			entries, err := (&Files{Root: benchTree()}).Entries(ctx)
			if err != nil {
				b.Fatal(err)
			}
			c, err := OpenCache(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			var size int64
			for _, e := range entries {
				size += e.Size
			}
			b.SetBytes(size)
			var d Descriptor
			b.ResetTimer()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				if d, err = c.writeLayer(ctx, entries, buildOptions{compression: comp}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start, size, d.Size)
		})
	}
}

// BenchmarkBuildFiles is a cold build of a files layer of benchTree, as
// `assemble build` makes it: the walk, then (outside git, in a cache that
// never built the tree) the one pass that writes the layer and keys it.
func BenchmarkBuildFiles(b *testing.B) {
	for _, comp := range []Compression{Gzip, Zstd} {
		b.Run(comp.Name, func(b *testing.B) {
			ctx := context.Background()
			entries, err := (&Files{Root: benchTree()}).Entries(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var size int64
			for _, e := range entries {
				size += e.Size
			}
			b.SetBytes(size)
			var r Result
			b.ResetTimer()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c, err := OpenCache(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if r, err = c.Build(ctx, &Files{Root: benchTree()}, WithCompression(comp)); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start, size, r.Size)
		})
	}
}

// BenchmarkCompress is the compressor alone over a tar of benchTree held in
// memory, beside the C tools where they are installed (tar | zstd -3 -T2,
// tar | pigz -6 -p2), fed from the same bytes. MB/s is uncompressed
// throughput; cpu-ms/op counts this process's CPU (the peers' own CPU is
// not in it: compare their MB/s).
func BenchmarkCompress(b *testing.B) {
	entries, err := (&Files{Root: benchTree()}).Entries(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var tarball bytes.Buffer
	if err := WriteTar(&tarball, entries, time.Unix(0, 0)); err != nil {
		b.Fatal(err)
	}
	data := tarball.Bytes()
	for _, comp := range []Compression{Gzip, Zstd} {
		b.Run(comp.Name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var n int64
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				cw := &countWriter{}
				zw, err := comp.NewWriter(cw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := zw.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
				n = cw.n
			}
			reportCPU(b, start, int64(len(data)), n)
		})
	}
	for name, argv := range map[string][]string{"zstd-3-T2": {"zstd", "-q", "-3", "-T2", "-c"}, "pigz-6-p2": {"pigz", "-6", "-p2", "-c"}} {
		b.Run(name, func(b *testing.B) {
			if _, err := exec.LookPath(argv[0]); err != nil {
				b.Skipf("%s is not installed", argv[0])
			}
			b.SetBytes(int64(len(data)))
			var n int64
			for i := 0; i < b.N; i++ {
				cw := &countWriter{}
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Stdin, cmd.Stdout = bytes.NewReader(data), cw
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
				n = cw.n
			}
			b.ReportMetric(float64(n)/float64(len(data)), "ratio")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// BenchmarkWriteSmallLayer writes a layer of a few small files, as most of
// an image's layers are: what a writer costs to set up and tear down.
func BenchmarkWriteSmallLayer(b *testing.B) {
	var entries []Entry
	for i := range 20 {
		entries = append(entries, fileEntry(fmt.Sprintf("etc/app/file%02d.conf", i), strings.Repeat("key = value\n", 100)))
	}
	for _, comp := range []Compression{Gzip, Zstd} {
		b.Run(comp.Name, func(b *testing.B) {
			c, err := OpenCache(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := c.writeLayer(context.Background(), entries, buildOptions{compression: comp}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start, 0, 0)
		})
	}
}

// BenchmarkNormalize is what a layer write does before its first byte:
// check, order and complete benchTree's entries (15k for Go's tree), on
// one core while the compressor's workers wait.
func BenchmarkNormalize(b *testing.B) {
	entries, err := (&Files{Root: benchTree()}).Entries(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTarReader(entries, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWalk lists benchTree as a files layer's first build does (no
// git: every entry is stat'ed), the part of a cold build before the layer
// write can start.
func BenchmarkWalk(b *testing.B) {
	ctx := context.Background()
	start := cpuTime()
	for b.Loop() {
		if _, err := (&Files{Root: benchTree()}).Entries(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start, 0, 0)
}
