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

// A gzip layer's header carries no time and no name, and an unknown OS.
func TestGzipHeaderHasNoTime(t *testing.T) {
	var buf bytes.Buffer
	w, err := Gzip.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data"))
	w.Close()
	h := buf.Bytes()[:10]
	if h[3] != 0 {
		t.Errorf("FLG %#x: a name or comment is set", h[3])
	}
	if mtime := h[4:8]; !bytes.Equal(mtime, []byte{0, 0, 0, 0}) {
		t.Errorf("MTIME %x, want zero", mtime)
	}
	if h[9] != 255 {
		t.Errorf("OS %d, want 255 (unknown)", h[9])
	}
}

// Gzip layers are the same bytes whatever the number of cores.
func TestGzipDeterminismAcrossProcs(t *testing.T) {
	data := bytes.Repeat([]byte("assemble writes every layer itself\n"), 200000)
	var sums []string
	for _, procs := range []int{1, 2, 4, 1} {
		old := runtime.GOMAXPROCS(procs)
		var buf bytes.Buffer
		w, err := Gzip.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(data); off += 9999 {
			w.Write(data[off:min(off+9999, len(data))])
		}
		w.Close()
		runtime.GOMAXPROCS(old)
		sums = append(sums, fmt.Sprintf("%x", sha256.Sum256(buf.Bytes())))
	}
	for _, s := range sums[1:] {
		if s != sums[0] {
			t.Fatalf("gzip output varies with GOMAXPROCS: %v", sums)
		}
	}
}
