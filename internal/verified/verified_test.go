package verified

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func digest(s string) v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func read(s string, want v1.Hash, size int64, opts ...Option) (string, error) {
	r := NewReader(io.NopCloser(strings.NewReader(s)), want, size, opts...)
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestReader(t *testing.T) {
	d := digest("hello")
	if got, err := read("hello", d, 5); err != nil || got != "hello" {
		t.Fatalf("good blob: %q, %v", got, err)
	}
	_, err := read("hellx", d, 5)
	var m Mismatch
	if !errors.As(err, &m) || m.Got != digest("hellx").Hex || m.TooLong || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("wrong digest: %v", err)
	}
	if _, err := read("hell", d, 5); !errors.As(err, &m) || m.Read != 4 || !strings.Contains(err.Error(), "has 4 bytes, want 5") {
		t.Errorf("short blob: %v", err)
	}
	if _, err := read("hello!", d, 5); !errors.As(err, &m) || !m.TooLong {
		t.Errorf("long blob: %v", err)
	}
	custom := errors.New("custom")
	if _, err := read("nope", d, 5, WithError(func(Mismatch) error { return custom })); !errors.Is(err, custom) {
		t.Errorf("WithError: %v", err)
	}
}
