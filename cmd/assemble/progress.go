package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/oci/sink"
)

// progress shows the pipeline's work: bars with bytes and rates on a
// terminal, one plain line per step otherwise (CI logs), nothing with "none".
type progress struct {
	mode string // "tty", "plain" or "none"
	out  io.Writer
	p    *mpb.Progress
	mu   sync.Mutex
	// every is how often a long write prints a line in plain mode, so that
	// a CI log shows the build is alive (tests shorten it).
	every time.Duration
}

// plainEvery is how often a long layer write or upload prints its bytes and
// rate without a terminal.
const plainEvery = 5 * time.Second

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
	pr := &progress{mode: mode, out: out, every: plainEvery}
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

// Layer tracks a layer being written. Its size is unknown until it ends:
// the bar fills against estimate, asked when the first bytes are written
// (the layer's inputs are read by then), and grows past it if need be.
func (pr *progress) Layer(desc string, estimate func() int64) func(int64) {
	switch pr.mode {
	case "tty":
		return pr.layerBar("write "+desc, estimate)
	case "plain":
		var t *ticker
		return func(n int64) {
			if n < 0 {
				if t != nil {
					t.stop()
				}
				return
			}
			if t == nil {
				t = pr.tick("write "+desc, 0)
			}
			t.set(n)
		}
	}
	return func(int64) {}
}

// layerBar is Layer's bar on a terminal.
func (pr *progress) layerBar(label string, estimate func() int64) func(int64) {
	var bar *mpb.Bar
	var total int64
	return func(n int64) {
		if n < 0 {
			if bar != nil {
				bar.SetTotal(-1, true)
			}
			return
		}
		if bar == nil {
			if estimate != nil {
				total = max(estimate(), 0)
			}
			bar = pr.bar(label, total, true)
		}
		if total > 0 && n >= total {
			// Past the estimate (tar headers, a file that grew): keep
			// the bar open, nearly full, until the layer ends.
			total = n + n/20 + 1
			bar.SetTotal(total, false)
		}
		bar.EwmaSetCurrent(n, 0)
	}
}

// Blob implements sink.Progress.
func (pr *progress) Blob(label string, total int64) sink.Tracker {
	switch pr.mode {
	case "tty":
		return &barTracker{bar: pr.bar(label, total, false)}
	case "plain":
		return &tickTracker{t: pr.tick(label, total)}
	}
	return nopTracker{}
}

// ticker prints, every pr.every until stopped, a line with the bytes done
// so far and the average rate.
type ticker struct {
	done  atomic.Int64
	quit  chan struct{}
	ended sync.Once
}

func (pr *progress) tick(label string, total int64) *ticker {
	t := &ticker{quit: make(chan struct{})}
	start := time.Now()
	go func() {
		tk := time.NewTicker(pr.every)
		defer tk.Stop()
		for {
			select {
			case <-t.quit:
				return
			case now := <-tk.C:
				pr.Step(progressLine(label, t.done.Load(), total, now.Sub(start)))
			}
		}
	}()
	return t
}

func (t *ticker) set(n int64) { t.done.Store(n) }
func (t *ticker) stop()       { t.ended.Do(func() { close(t.quit) }) }

// progressLine is a plain progress line: "LABEL: 12.0 MiB of 40.0 MiB (2.0 MiB/s)".
func progressLine(label string, done, total int64, elapsed time.Duration) string {
	amount := assembler.HumanSize(done)
	if total > 0 {
		amount += " of " + assembler.HumanSize(total)
	}
	rate := int64(0)
	if elapsed > 0 {
		rate = int64(float64(done) / elapsed.Seconds())
	}
	return fmt.Sprintf("  %s: %s (%s/s)", label, amount, assembler.HumanSize(rate))
}

type tickTracker struct{ t *ticker }

func (k *tickTracker) Add(n int64) { k.t.done.Add(n) }
func (k *tickTracker) Done(error)  { k.t.stop() }

// bar adds a bar of total bytes. An estimated total is only a guess: the
// bar neither ends nor stops counting when it is reached.
func (pr *progress) bar(label string, total int64, estimated bool) *mpb.Bar {
	if len(label) > 40 {
		label = label[:37] + "..."
	}
	// A layer's size is unknown while it is written: show bytes and rate only.
	count := decor.Counters(decor.SizeB1024(0), "% .1f / % .1f")
	if total <= 0 {
		count = decor.Current(decor.SizeB1024(0), "% .1f")
	}
	initial := total
	if estimated {
		initial = 0 // mpb ends a bar made with a total once it is reached
	}
	bar := pr.p.AddBar(initial,
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(label, decor.WC{W: 41, C: decor.DindentRight})),
		mpb.AppendDecorators(count, decor.Name("  "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f")),
	)
	if estimated && total > 0 {
		bar.SetTotal(total, false)
	}
	return bar
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
