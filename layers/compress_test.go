package layers

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"testing"
)

func TestZstdDeterminismAcrossProcs(t *testing.T) {
	data, _ := os.ReadFile("/usr/local/go/bin/go")
	data = append(data, bytes.Repeat([]byte("abcdefgh"), 4<<20)...)
	var sums []string
	for _, procs := range []int{1, 2, 1, 2} {
		runtime.GOMAXPROCS(procs)
		var buf bytes.Buffer
		w, _ := Zstd.NewWriter(&buf)
		for off := 0; off < len(data); off += 7777 {
			end := min(off+7777, len(data))
			w.Write(data[off:end])
		}
		w.Close()
		sums = append(sums, fmt.Sprintf("%x", sha256.Sum256(buf.Bytes())))
	}
	for _, s := range sums[1:] {
		if s != sums[0] {
			t.Fatalf("zstd output varies: %v", sums)
		}
	}
}
