package layers

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/assemble-build/assemble/internal/testtool"
)

// compressible is about 19 MB, three zstd jobs and nineteen pgzip blocks: a
// binary (matches near and far) and repeated text.
func compressible(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(testtool.RequireTool(t, "go"))
	if err != nil {
		t.Fatal(err)
	}
	return append(data, bytes.Repeat([]byte("assemble writes every layer itself\n"), 100000)...)
}

// compressWith compresses data with comp under GOMAXPROCS procs, written in
// chunks of the given size, and returns the stream's hash.
func compressWith(t *testing.T, comp Compression, data []byte, procs, chunk int) string {
	t.Helper()
	old := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(old)
	var buf bytes.Buffer
	w, err := comp.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += chunk {
		if _, err := w.Write(data[off:min(off+chunk, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
}

// Both compressors give the same bytes whatever the number of cores (and so
// of zstd workers: 2 under GOMAXPROCS 1 and 2, 4 under 4 and 8) and however the
// tar is cut into writes.
func TestCompressionDeterminismAcrossProcs(t *testing.T) {
	data := compressible(t)
	for _, comp := range []Compression{Zstd, Gzip} {
		want := compressWith(t, comp, data, 2, 1<<20)
		for _, run := range []struct{ procs, chunk int }{{1, 7777}, {2, 512}, {4, 3 << 20}, {8, 64 << 10}, {1, len(data)}} {
			if got := compressWith(t, comp, data, run.procs, run.chunk); got != want {
				t.Errorf("%s under GOMAXPROCS %d in writes of %d: sha256 %s, want %s", comp.Name, run.procs, run.chunk, got, want)
			}
		}
	}
}

// What NewWriter writes, NewReader and the C tools (zstd -d, gzip -d) read
// back unchanged; a zstd layer needs no more than a 2 MB window to decode.
func TestCompressionRoundTrip(t *testing.T) {
	data := compressible(t)
	for _, comp := range []Compression{Zstd, Gzip} {
		var buf bytes.Buffer
		w, err := comp.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := comp.NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: NewReader gave %d bytes (%v), want the %d written", comp.Name, len(got), err, len(data))
		}
		tool := map[string]string{"zstd": "zstd", "gzip": "gzip"}[comp.Name]
		cmd := exec.Command(testtool.RequireTool(t, tool), "-d", "-c")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		if got, err := cmd.Output(); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s -d gave %d bytes (%v), want the %d written", tool, len(got), err, len(data))
		}
	}
	var buf bytes.Buffer
	w, _ := Zstd.NewWriter(&buf)
	w.Write(data)
	w.Close()
	zr, err := zstd.NewReader(bytes.NewReader(buf.Bytes()), zstd.WithDecoderMaxWindow(zstdWindow))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if n, err := io.Copy(io.Discard, zr); err != nil || n != int64(len(data)) {
		t.Errorf("decoding with a %d-byte window: %d bytes, %v", zstdWindow, n, err)
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

// A pooled writer is reset and reconfigured before its next stream: that
// stream has the same bytes as a new writer's, whatever the writer wrote
// before (a whole stream, or a stream closed half-way through a layer).
func TestResetWriterWritesTheSameBytes(t *testing.T) {
	data := compressible(t)
	stream := func(zw io.Writer, buf *bytes.Buffer) string {
		t.Helper()
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
	}
	for _, comp := range []Compression{Zstd, Gzip} {
		var fresh bytes.Buffer
		zw, err := comp.newWriter(&fresh)
		if err != nil {
			t.Fatal(err)
		}
		want := stream(zw, &fresh)
		for _, before := range []int{5 << 20, 100} { // each after the whole stream before it
			var first, second bytes.Buffer
			zw.Reset(&first)
			if err := comp.configure(zw); err != nil {
				t.Fatal(err)
			}
			zw.Write(data[:before])
			zw.Close()
			zw.Reset(&second)
			if err := comp.configure(zw); err != nil {
				t.Fatal(err)
			}
			if got := stream(zw, &second); got != want {
				t.Errorf("%s after a stream of %d bytes: sha256 %s, want a new writer's %s", comp.Name, before, got, want)
			}
		}
	}
}

// pinnedInput is about 12 MB of text made from a fixed seed: the same bytes
// on every machine and Go version (PCG is specified), two zstd jobs.
func pinnedInput() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("assemble writes every layer itself from the repository files sorted by path with mtimes clamped")
	var b bytes.Buffer
	for b.Len() < 12<<20 {
		fmt.Fprintf(&b, "%08x %s %s %d\n", r.Uint32(), words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1<<20))
	}
	return b.Bytes()
}

// The compressors' output is pinned: these digests change only with a
// deliberate change of a compressor parameter or library version (both
// in Compression.Params, so in every layer key too). Update them then,
// and say so.
func TestCompressionPinned(t *testing.T) {
	data := pinnedInput()
	for _, c := range []struct {
		comp Compression
		want string
	}{
		{Zstd, "369237bb5e59fc62306b464f8c72a0c3efc0006dde0a18f33ce89a48257deb25"},
		{Gzip, "b07007c4acfdacc692b12e7b19023a68a7b23012d983ea44a8ee1b2f8ddf2cce"},
	} {
		for _, procs := range []int{1, 2, 8} {
			if got := compressWith(t, c.comp, data, procs, 256<<10); got != c.want {
				t.Errorf("%s under GOMAXPROCS %d: sha256 %s, pinned %s", c.comp.Name, procs, got, c.want)
			}
		}
	}
}

// chunkReader yields r in reads of at most n bytes, then err (io.EOF when nil).
type chunkReader struct {
	r   io.Reader
	n   int
	err error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), c.n)])
	if err == io.EOF && c.err != nil {
		err = c.err
	}
	return n, err
}

// A stream read with ReadFrom (as layers are) is the bytes Write gives,
// however the reads fall; a stream whose reader fails part way does not
// leave its writer to the next layer in a state that changes its bytes.
func TestReadFromWritesWhatWriteWrites(t *testing.T) {
	data := compressible(t)
	for _, comp := range []Compression{Zstd, Gzip} {
		want := compressWith(t, comp, data, runtime.GOMAXPROCS(0), len(data))
		for _, chunk := range []int{7777, 3 << 20, len(data)} {
			var buf bytes.Buffer
			w, err := comp.NewWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.ReadFrom(&chunkReader{r: bytes.NewReader(data), n: chunk}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%x", sha256.Sum256(buf.Bytes())); got != want {
				t.Errorf("%s read in pieces of %d: sha256 %s, want Write's %s", comp.Name, chunk, got, want)
			}
		}
		failing := errors.New("the disk went away")
		w, err := comp.NewWriter(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.ReadFrom(&chunkReader{r: bytes.NewReader(data[:5<<20]), n: 1 << 20, err: failing}); !errors.Is(err, failing) {
			t.Errorf("%s: ReadFrom gave %v, want the reader's error", comp.Name, err)
		}
		w.Close()
		if got := compressWith(t, comp, data, runtime.GOMAXPROCS(0), len(data)); got != want {
			t.Errorf("%s after a failed stream: sha256 %s, want %s", comp.Name, got, want)
		}
	}
}
