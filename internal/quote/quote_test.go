package quote

import "testing"

func TestCommand(t *testing.T) {
	long := ""
	for range 30 {
		long += "word "
	}
	cases := map[string]string{
		"echo hi": "echo hi",
		"apt-get update && \\\n  apt-get install x": "apt-get update && ...",
		"\n  set -e\n\n":       "set -e",
		"printf '\x1b[31mred'": `printf '\x1b[31mred'`,
		long:                   long[:120] + " ...",
	}
	for in, want := range cases {
		if got := Command(in); got != want {
			t.Errorf("Command(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	cases := []struct {
		in        string
		multiline bool
		want      string
	}{
		{"plain ünïcode", false, "plain ünïcode"},
		{"a\x1b]0;title\x07b", false, `a\x1b]0;title\ab`},
		{"bad \xff byte", false, `bad \xff byte`},
		{"two\nlines\ttab", true, "two\nlines\ttab"},
		{"two\nlines", false, `two\nlines`},
		{"cr\rover", true, `cr\rover`},
	}
	for _, c := range cases {
		if got := Printable(c.in, c.multiline); got != c.want {
			t.Errorf("Printable(%q, %v) = %q, want %q", c.in, c.multiline, got, c.want)
		}
	}
}
