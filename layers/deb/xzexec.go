package deb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// bulkDecompressor is decompressor for the large members, data.tar and the
// Packages indexes: ".xz" goes through the system's xz(1) when it is on PATH,
// several times faster than the pure-Go decoder, which stays the fallback (a
// build without xz works the same). Both give the same bytes: xz -dc checks
// the stream as the pure-Go decoder does. control.tar takes it too: though
// a few kB, it declares xz -6's 8 MiB dictionary, which the pure-Go decoder
// allocates and clears for every package (about 4 times the cost of
// starting xz).
func bulkDecompressor(name string, r io.Reader) (io.ReadCloser, error) {
	if strings.HasSuffix(name, ".xz") {
		if bin, err := exec.LookPath("xz"); err == nil {
			return startXZ(bin, r)
		}
	}
	return decompressor(name, r)
}

// xzProcess is the output of xz -dc fed from a reader.
type xzProcess struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	buf    *bufio.Reader // over out: a tar reader's 512-byte reads cost no syscall each
	stderr bytes.Buffer
	src    *readErr
	copied chan struct{} // closed when feeding stdin has ended
	once   sync.Once
	err    error // what Read returns once the output has ended
}

// readErr remembers the error that ended reading its source, so a truncated
// input is reported as that rather than as xz's complaint about it.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func startXZ(bin string, r io.Reader) (*xzProcess, error) {
	// No environment: XZ_DEFAULTS and XZ_OPT must not change what is decoded.
	cmd := exec.Command(bin, "-dc")
	cmd.Env = []string{}
	p := &xzProcess{cmd: cmd, src: &readErr{r: r}, copied: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	if p.out, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	p.buf = bufio.NewReaderSize(p.out, 1<<16)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		defer close(p.copied)
		// A write error means xz has stopped reading (it failed or was
		// killed by Close): Wait reports that.
		_, _ = io.Copy(stdin, p.src)
		_ = stdin.Close()
	}()
	return p, nil
}

func (p *xzProcess) Read(b []byte) (int, error) {
	n, err := p.buf.Read(b)
	if err == io.EOF {
		p.once.Do(func() { p.err = p.wait() })
		err = p.err
	}
	return n, err
}

// wait reaps xz once its output has ended, and says why it ended.
func (p *xzProcess) wait() error {
	werr := p.cmd.Wait()
	<-p.copied
	if p.src.err != nil {
		return truncErr(p.src.err)
	}
	if werr != nil {
		return fmt.Errorf("xz -dc: %s: %w", strings.TrimSpace(p.stderr.String()), werr)
	}
	return io.EOF
}

// Close stops xz if its output has not been read to the end (a tar reader
// stops at the archive's end blocks) and waits for the goroutine feeding
// it, so the source reader is free again when Close returns. xz itself is
// reaped in the background: waiting for its exit cost every package two
// round trips through the scheduler (one per member), idle time for the
// goroutine unpacking it.
func (p *xzProcess) Close() error {
	p.once.Do(func() {
		// xz may have exited on its own already: Kill's error says only that.
		_ = p.cmd.Process.Kill()
		// Killed, xz stops reading: the feeding goroutine's write fails.
		<-p.copied
		go func() { _ = p.cmd.Wait() }()
		p.err = os.ErrClosed
	})
	return nil
}
