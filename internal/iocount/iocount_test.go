package iocount

import (
	"bytes"
	"io"
	"testing"
)

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &Writer{W: &buf}
	io.WriteString(w, "hello ")
	io.WriteString(w, "world")
	if w.N != 11 || buf.String() != "hello world" {
		t.Errorf("N %d, wrote %q", w.N, buf.String())
	}
}
