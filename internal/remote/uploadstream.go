package remote

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// stream is a blob read once in order across the PATCHes of a chunked
// upload, and reopened at the registry's offset after a failure.
type stream struct {
	open func(offset int64) (io.ReadCloser, error)
	sent func(pos int64)

	rc     io.ReadCloser
	pos    int64
	active *chunkBody // the body of the last PATCH
	// failed is a read error of the blob itself (not of the network): it
	// ends the upload, since sending again would read the same bytes.
	failed error
}

// errBodyReused is what a PATCH body returns once the uploader took the
// stream back: a transport that sends the request again (ggcr's bearer
// transport does after refreshing a token) fails, and the uploader
// resumes at the registry's offset instead.
var errBodyReused = errors.New("chunk body read after its request ended")

// chunk returns a body of the n bytes from off, reopening the blob when
// the stream is not there.
func (s *stream) chunk(off, n int64) (*chunkBody, error) {
	if err := s.at(off); err != nil {
		return nil, err
	}
	s.active = &chunkBody{s: s, left: n}
	return s.active, nil
}

func (s *stream) at(off int64) error {
	s.release()
	if s.rc != nil && s.pos == off {
		return nil
	}
	s.close()
	rc, err := s.open(off)
	if err != nil {
		return err
	}
	s.rc, s.pos = rc, off
	return nil
}

// end reads the stream to its end at size, so a reader that checks the
// blob's digest at EOF does so before the upload is committed.
func (s *stream) end(size int64) error {
	if err := s.at(size); err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, s.rc)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("blob is larger than its %d bytes", size)
	}
	return nil
}

// release takes the stream back from the last body: no read of it runs
// or starts after this returns.
func (s *stream) release() {
	if s.active != nil {
		s.active.Close()
		s.active = nil
	}
}

func (s *stream) close() {
	s.release()
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
}

// chunkBody is one PATCH's body: the next left bytes of the stream. The
// transport may read and close it after Do has returned (RoundTripper's
// contract), so reads and Close are serialised and a closed body reads
// nothing more of the stream.
type chunkBody struct {
	mu     sync.Mutex
	s      *stream
	left   int64
	closed bool
}

func (c *chunkBody) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return 0, errBodyReused
	case c.left <= 0:
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.s.rc.Read(p)
	c.left -= int64(n)
	c.s.pos += int64(n)
	if n > 0 && c.s.sent != nil {
		c.s.sent(c.s.pos)
	}
	switch {
	case err == io.EOF && c.left > 0:
		c.s.failed = fmt.Errorf("blob ended at byte %d, before its size", c.s.pos)
		return n, c.s.failed
	case err != nil && err != io.EOF:
		c.s.failed = err
	}
	return n, err
}

func (c *chunkBody) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
