package pyjson

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// encoder holds json.dumps's arguments; the zero value is json.dumps(v).
type encoder struct {
	indent   string // per level, when pretty
	pretty   bool   // indent is not None
	sortKeys bool
	unicode  bool // ensure_ascii=False
}

// Option is one keyword argument of json.dumps.
type Option func(*encoder)

// Indent is indent=n: one member per line, n spaces per level, and ","
// between members (Python drops the space after it when indenting).
func Indent(n int) Option {
	return func(e *encoder) { e.pretty, e.indent = true, strings.Repeat(" ", n) }
}

// SortKeys is sort_keys=True: object members in key order, not insertion order.
func SortKeys() Option { return func(e *encoder) { e.sortKeys = true } }

// EnsureASCII is ensure_ascii (true by default, as in Python): when false,
// characters outside ASCII are written as they are, not as \uXXXX.
func EnsureASCII(on bool) Option { return func(e *encoder) { e.unicode = !on } }

// Marshal renders v as Python's json.dumps(v, **opts) does.
func Marshal(v *Value, opts ...Option) []byte {
	var e encoder
	for _, o := range opts {
		o(&e)
	}
	var b bytes.Buffer
	e.write(&b, v, 0)
	return b.Bytes()
}

func (e *encoder) newline(b *bytes.Buffer, level int) {
	if e.pretty {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(e.indent, level))
	}
}

func (e *encoder) separator() string {
	if e.pretty {
		return ","
	}
	return ", "
}

func (e *encoder) write(b *bytes.Buffer, v *Value, level int) {
	switch v.kind {
	case KindNull:
		b.WriteString("null")
	case KindBool:
		b.WriteString(strconv.FormatBool(v.b))
	case KindNumber:
		b.WriteString(pythonNumber(v.s))
	case KindString:
		e.writeString(b, v.s)
	case KindArray:
		e.writeArray(b, v, level)
	case KindObject:
		e.writeObject(b, v, level)
	}
}

func (e *encoder) writeArray(b *bytes.Buffer, v *Value, level int) {
	if len(v.arr) == 0 {
		b.WriteString("[]")
		return
	}
	b.WriteByte('[')
	for i, x := range v.arr {
		if i > 0 {
			b.WriteString(e.separator())
		}
		e.newline(b, level+1)
		e.write(b, x, level+1)
	}
	e.newline(b, level)
	b.WriteByte(']')
}

func (e *encoder) writeObject(b *bytes.Buffer, v *Value, level int) {
	if len(v.keys) == 0 {
		b.WriteString("{}")
		return
	}
	keys := v.keys
	if e.sortKeys {
		// Go orders valid UTF-8 by code point, as Python orders str.
		keys = append([]string(nil), keys...)
		sort.Strings(keys)
	}
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(e.separator())
		}
		e.newline(b, level+1)
		e.writeString(b, k)
		b.WriteString(": ")
		e.write(b, v.vals[k], level+1)
	}
	e.newline(b, level)
	b.WriteByte('}')
}

// writeString escapes as Python does. With ensure_ascii everything outside
// printable ASCII (space to '~') becomes \uXXXX, lower-case hex, with
// surrogate pairs above the BMP; without it only control characters do.
func (e *encoder) writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r >= ' ' && r <= '~', e.unicode && r > '~':
				b.WriteRune(r)
			case r > 0xffff:
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}

// pythonNumber prints a JSON number's text as Python does after json.load:
// integers exactly, floats with repr().
func pythonNumber(text string) string {
	if !strings.ContainsAny(text, ".eE") {
		n, ok := new(big.Int).SetString(text, 10)
		if !ok {
			return text
		}
		return n.String()
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && math.IsInf(f, 0) {
		if f > 0 {
			return "Infinity"
		}
		return "-Infinity"
	}
	return floatRepr(f)
}

// floatRepr is Python's repr(float): the shortest digits that round-trip,
// in fixed notation for 1e-4 <= |x| < 1e16, else d.ddde+XX.
func floatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expText)
	decpt := exp + 1
	if decpt > 16 || decpt < -3 {
		out := digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, out, es, exp)
	}
	switch {
	case decpt <= 0:
		return sign + "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	default:
		return sign + digits[:decpt] + "." + digits[decpt:]
	}
}
