package layers

import (
	"context"
	"os"
	"testing"
)

// BenchmarkWriteLayer writes a layer of the tree in ASSEMBLE_BENCH_TREE
// (default /usr/local/go/src) with each compressor; the reported MB/s is
// uncompressed tar throughput. bench/compare.sh runs it beside tar|pigz.
func BenchmarkWriteLayer(b *testing.B) {
	tree := os.Getenv("ASSEMBLE_BENCH_TREE")
	if tree == "" {
		tree = "/usr/local/go/src"
	}
	for _, comp := range []Compression{Gzip, Zstd} {
		b.Run(comp.Name, func(b *testing.B) {
			ctx := context.Background()
			f := &Files{Root: tree}
			entries, err := f.Entries(ctx)
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
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.writeLayer(ctx, entries, buildOptions{compression: comp}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
