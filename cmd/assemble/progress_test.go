package main

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
)

// lines is a writer that hands every write to the test, which waits on it
// instead of sleeping.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	got chan struct{}
}

func newLines() *lines { return &lines{got: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.got <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor blocks until what was written matches re, and returns it.
func (l *lines) waitFor(t *testing.T, re string) string {
	t.Helper()
	for {
		l.mu.Lock()
		s := l.buf.String()
		l.mu.Unlock()
		if regexp.MustCompile(re).MatchString(s) {
			return s
		}
		<-l.got // the test's deadline ends a wait that never matches
	}
}

// Without a terminal, a long layer write and a long upload print a line
// every interval with the bytes so far and the rate (the interval is
// shortened here: no test waits five seconds).
func TestPlainProgressPrintsLongWrites(t *testing.T) {
	out := newLines()
	pr := &progress{mode: "plain", out: out, every: time.Millisecond}

	layer := pr.Layer("files data -> /app", func() int64 { return 1 << 20 })
	layer(2048)
	out.waitFor(t, `(?m)^  write files data -> /app: 2\.0 KiB \([0-9.]+ [KMG]?i?B/s\)$`)
	layer(-1)

	blob := pr.Blob("sha256:0123456789ab", 4096)
	blob.Add(1024)
	out.waitFor(t, `(?m)^  sha256:0123456789ab: 1\.0 KiB of 4\.0 KiB \([0-9.]+ [KMG]?i?B/s\)$`)
	blob.Done(nil)

	// A cached layer (done at once) prints nothing.
	quiet := &progress{mode: "plain", out: newLines(), every: time.Millisecond}
	quiet.Layer("files . -> /", nil)(-1)
}

// On a terminal, the bar of a layer being written fills against the
// layer's size estimate.
func TestLayerBarFillsAgainstEstimate(t *testing.T) {
	out := newLines()
	refresh := make(chan interface{})
	// Without a terminal mpb draws in the bar width: wide enough for the counters.
	pr := &progress{mode: "tty", out: out, p: mpb.New(mpb.WithOutput(out), mpb.WithWidth(160), mpb.WithManualRefresh(refresh))}
	layer := pr.Layer("files data -> /app", func() int64 { return 10 << 10 })
	layer(5 << 10)
	refresh <- time.Now()
	s := out.waitFor(t, `5\.0 KiB / 10\.0 KiB`)
	if !strings.Contains(s, "write files data -> /app") {
		t.Errorf("bar without its label:\n%s", s)
	}
	layer(12 << 10) // past the estimate: the bar stays open
	refresh <- time.Now()
	out.waitFor(t, `12\.0 KiB / 12\.[0-9] KiB`)
	layer(-1)
	pr.Wait()
}
