package assembler

import "testing"

// A layer's inline packages are parsed on the lines of the file they come
// from, so the resolver's "from Pipfile.lock:N" names the entry.
func TestInlineRequirements(t *testing.T) {
	for _, c := range []struct {
		pkgs  []string
		lines []int
		want  string
	}{
		{[]string{"a", "b"}, nil, "a\nb"},
		{[]string{"a", "b"}, []int{3, 5}, "\n\na\n\nb"},
		{[]string{"x", "a", "b"}, []int{0, 2, 4}, "\na\n\nb\nx"},
		{[]string{"a", "b"}, []int{4, 2}, "\n\n\na\nb"}, // out of order: after
		{[]string{"a", "b", "c"}, []int{1}, "a\nb\nc"},
	} {
		if got := inlineRequirements(c.pkgs, c.lines); got != c.want {
			t.Errorf("inlineRequirements(%q, %v) = %q, want %q", c.pkgs, c.lines, got, c.want)
		}
	}
}
