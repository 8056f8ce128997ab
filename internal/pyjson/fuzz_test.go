package pyjson

import (
	"bytes"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// What Parse reads, Marshal writes (indented or compact, ASCII or not) in a
// form that reads back as an equal value. Seeds: the pieces' metadata.json
// files and the tests' tricky document. hack/test.sh runs it briefly.
func FuzzParse(f *testing.F) {
	for _, b := range testtool.ReadFiles(f, "../../testdata/pieces/repo/pieces/*/metadata.json") {
		f.Add(b)
	}
	for _, s := range []string{tricky, `{"a": 1, "a": 2}`, `[1, 2`, `{"a" 1}`, `"\ud800"`, `1e999`, `null`, `[true, false, null]`, `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			return
		}
		for _, opts := range [][]Option{{Indent(4)}, nil, {Indent(2), EnsureASCII(false)}, {SortKeys()}} {
			out := Marshal(v, opts...)
			w, err := Parse(out)
			if err != nil {
				if bytes.Contains(out, []byte("Infinity")) || bytes.Contains(out, []byte("NaN")) {
					continue // Python writes overflowing floats so; JSON has no word for them
				}
				t.Fatalf("%q is written as %q, which does not read back: %v", data, out, err)
			}
			if !v.Equal(w) {
				t.Errorf("%q is written as %q, which reads back as a different value", data, out)
			}
		}
	})
}
