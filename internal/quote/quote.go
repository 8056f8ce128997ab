// Package quote renders text for messages: a command cut to one line, and
// any text with its control characters escaped, so that what a user typed
// (or a file held) cannot move the cursor, recolour or retitle a terminal
// when an error echoes it.
package quote

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// commandMax is the most runes of a command a message shows.
const commandMax = 120

// Command renders a command (a shell script, a joined argv) on one line for
// an error: its first non-blank line, trimmed, with " ..." when more
// follows or it is longer than commandMax runes, control characters escaped.
func Command(s string) string {
	s = strings.TrimSpace(s)
	first, rest, more := strings.Cut(s, "\n")
	first = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(first), "\\"))
	cut := more && strings.TrimSpace(rest) != ""
	if utf8.RuneCountInString(first) > commandMax {
		first = string([]rune(first)[:commandMax])
		cut = true
	}
	first = Printable(first, false)
	if cut {
		first += " ..."
	}
	return first
}

// Printable escapes, as strconv.Quote does, the control characters and
// invalid UTF-8 in s; with multiline, newlines and tabs stay as they are
// (an error that quotes a command's output over several lines).
func Printable(s string, multiline bool) string {
	if !needsEscape(s, multiline) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string, multiline bool) bool {
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t'))) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}
