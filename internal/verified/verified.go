// Package verified reads a blob while checking its size and sha256 digest,
// so corrupt or changed content fails the read instead of reaching an output.
package verified

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Mismatch describes content that is not what its descriptor says.
type Mismatch struct {
	Want    v1.Hash
	Size    int64  // the size the descriptor gives
	Got     string // sha256 hex of what was read (up to the failure)
	Read    int64  // bytes read
	TooLong bool   // more bytes than Size arrived (found before EOF)
}

// Error is the default message.
func (m Mismatch) Error() string {
	switch {
	case m.TooLong:
		return fmt.Sprintf("blob %s is larger than its %d bytes", m.Want, m.Size)
	case m.Read != m.Size:
		return fmt.Sprintf("blob %s has %d bytes, want %d", m.Want, m.Read, m.Size)
	default:
		return fmt.Sprintf("blob %s has digest sha256:%s (corrupt blob)", m.Want, m.Got)
	}
}

type config struct {
	fail func(Mismatch) error
}

// Option configures a reader.
type Option func(*config)

// WithError makes the reader fail with fail(m) instead of m itself, for
// messages that say what to do about it.
func WithError(fail func(Mismatch) error) Option { return func(c *config) { c.fail = fail } }

// NewReader returns a reader of rc that fails at EOF when the bytes read do
// not have want's sha256 digest and size bytes, and as soon as more than
// size bytes arrive. Only sha256 digests are supported: check the algorithm
// before calling. Closing it closes rc.
func NewReader(rc io.ReadCloser, want v1.Hash, size int64, opts ...Option) io.ReadCloser {
	c := config{fail: func(m Mismatch) error { return m }}
	for _, o := range opts {
		o(&c)
	}
	return &reader{rc: rc, h: sha256.New(), want: want, size: size, fail: c.fail}
}

type reader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want v1.Hash
	size int64
	fail func(Mismatch) error
}

func (v *reader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		return n, v.fail(v.mismatch(true))
	}
	if errors.Is(err, io.EOF) {
		m := v.mismatch(false)
		if v.n != v.size || m.Got != v.want.Hex {
			return n, v.fail(m)
		}
	}
	return n, err
}

func (v *reader) mismatch(tooLong bool) Mismatch {
	return Mismatch{Want: v.want, Size: v.size, Got: hex.EncodeToString(v.h.Sum(nil)), Read: v.n, TooLong: tooLong}
}

func (v *reader) Close() error { return v.rc.Close() }
