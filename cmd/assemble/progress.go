package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/assemble-build/assemble/oci/sink"
)

// progress shows the pipeline's work: bars with bytes and rates on a
// terminal, one plain line per step otherwise (CI logs), nothing with "none".
type progress struct {
	mode string // "tty", "plain" or "none"
	out  io.Writer
	p    *mpb.Progress
	mu   sync.Mutex
}

func newProgress(mode string, out *os.File) (*progress, error) {
	switch mode {
	case "auto", "":
		mode = "plain"
		if term.IsTerminal(int(out.Fd())) && os.Getenv("CI") == "" {
			mode = "tty"
		}
	case "tty", "plain", "none":
	default:
		return nil, fmt.Errorf("--progress %q: use auto, tty, plain or none", mode)
	}
	pr := &progress{mode: mode, out: out}
	if mode == "tty" {
		pr.p = mpb.New(mpb.WithOutput(out), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
	}
	return pr, nil
}

// Step prints one line: above the bars on a terminal, plain in logs.
func (pr *progress) Step(msg string) {
	switch pr.mode {
	case "tty":
		fmt.Fprintln(pr.p, msg)
	case "plain":
		pr.mu.Lock()
		fmt.Fprintln(pr.out, msg)
		pr.mu.Unlock()
	}
}

// Layer tracks a layer being written (its size is unknown until it ends).
func (pr *progress) Layer(desc string) func(int64) {
	if pr.mode != "tty" {
		return func(int64) {}
	}
	var bar *mpb.Bar
	var once sync.Once
	return func(n int64) {
		if n < 0 {
			if bar != nil {
				bar.SetTotal(-1, true)
			}
			return
		}
		once.Do(func() { bar = pr.bar("write "+desc, 0) })
		bar.EwmaSetCurrent(n, 0)
	}
}

// Blob implements sink.Progress.
func (pr *progress) Blob(label string, total int64) sink.Tracker {
	if pr.mode != "tty" {
		return nopTracker{}
	}
	return &barTracker{bar: pr.bar(label, total)}
}

func (pr *progress) bar(label string, total int64) *mpb.Bar {
	if len(label) > 40 {
		label = label[:37] + "..."
	}
	// A layer's size is unknown while it is written: show bytes and rate only.
	count := decor.Counters(decor.SizeB1024(0), "% .1f / % .1f")
	if total <= 0 {
		count = decor.Current(decor.SizeB1024(0), "% .1f")
	}
	return pr.p.AddBar(total,
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(label, decor.WC{W: 41, C: decor.DindentRight})),
		mpb.AppendDecorators(count, decor.Name("  "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f")),
	)
}

// Wait lets the bars finish drawing.
func (pr *progress) Wait() {
	if pr.p != nil {
		pr.p.Wait()
	}
}

type barTracker struct {
	bar *mpb.Bar
}

func (t *barTracker) Add(n int64) { t.bar.IncrInt64(n) }
func (t *barTracker) Done(err error) {
	if err != nil {
		t.bar.Abort(true)
		return
	}
	t.bar.SetTotal(-1, true)
}

type nopTracker struct{}

func (nopTracker) Add(int64)  {}
func (nopTracker) Done(error) {}
