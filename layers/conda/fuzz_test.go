package conda

import (
	"bytes"
	"testing"
)

// FuzzReplaceBinary: whatever the file, a prefix no longer than the
// placeholder keeps the file's length, leaves no placeholder inside a
// NUL-terminated string, and changes nothing else.
func FuzzReplaceBinary(f *testing.F) {
	f.Add([]byte("\x7fELF\x00/opt/placeholder/lib\x00x"), "/opt/placeholder", "/srv/env")
	f.Add([]byte("/ph/ph/ph\x00/ph"), "/ph", "/s")
	f.Add([]byte("no placeholder"), "/opt/p", "/s")
	f.Fuzz(func(t *testing.T, data []byte, placeholder, prefix string) {
		if placeholder == "" || len(prefix) > len(placeholder) || bytes.ContainsRune([]byte(placeholder+prefix), 0) {
			t.Skip()
		}
		out, changed, err := replaceBinary(data, placeholder, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(data) {
			t.Fatalf("length %d -> %d", len(data), len(out))
		}
		if !changed && !bytes.Equal(out, data) {
			t.Fatal("unchanged, yet different")
		}
		// Every NUL-terminated string of the output but the last holds no
		// placeholder (unless the prefix brought it back).
		strs := bytes.Split(out, []byte{0})
		for _, s := range strs[:len(strs)-1] {
			if bytes.Contains(s, []byte(placeholder)) && !bytes.Contains([]byte(prefix), []byte(placeholder)) &&
				!bytes.Contains(s, []byte(prefix)) {
				t.Fatalf("placeholder left in %q", s)
			}
		}
	})
}

// FuzzSplitQuoted never panics and never returns an empty field for a
// line without quotes.
func FuzzSplitQuoted(f *testing.F) {
	f.Add(`/opt/ph text "bin/a b"`)
	f.Fuzz(func(t *testing.T, s string) {
		fields, err := splitQuoted(s)
		if err != nil || bytes.ContainsAny([]byte(s), `"'`) {
			return
		}
		for _, x := range fields {
			if x == "" {
				t.Fatalf("empty field in %q", s)
			}
		}
	})
}
