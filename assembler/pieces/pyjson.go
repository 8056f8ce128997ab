package pieces

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Domino writes its files with Python's json module, so the bytes here must
// be what json.dump(obj, f, indent=4) writes: keys in insertion order,
// ensure_ascii escapes, Python's float repr. encoding/json can do none of
// these, hence this small ordered value.

type kind uint8

const (
	jNull kind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// value is a JSON value that keeps object keys in order. Numbers keep their
// source text and are printed as Python would after json.load.
type value struct {
	kind kind
	b    bool
	s    string // a string, or a number's text
	arr  []*value
	keys []string
	vals map[string]*value
}

func null() *value                 { return &value{kind: jNull} }
func str(s string) *value          { return &value{kind: jString, s: s} }
func boolean(b bool) *value        { return &value{kind: jBool, b: b} }
func newObject() *value            { return &value{kind: jObject, vals: map[string]*value{}} }
func array(items ...*value) *value { return &value{kind: jArray, arr: append([]*value{}, items...)} }

func strArray(ss []string) *value {
	a := array()
	for _, s := range ss {
		a.arr = append(a.arr, str(s))
	}
	return a
}

// get returns an object's member, or nil.
func (v *value) get(k string) *value {
	if v == nil || v.kind != jObject {
		return nil
	}
	return v.vals[k]
}

// set is Python's d[k] = x: a new key goes last, an existing key keeps its place.
func (v *value) set(k string, x *value) {
	if _, ok := v.vals[k]; !ok {
		v.keys = append(v.keys, k)
	}
	v.vals[k] = x
}

func (v *value) clone() *value {
	if v == nil {
		return nil
	}
	c := *v
	switch v.kind {
	case jArray:
		c.arr = make([]*value, len(v.arr))
		for i, x := range v.arr {
			c.arr[i] = x.clone()
		}
	case jObject:
		c.keys = append([]string(nil), v.keys...)
		c.vals = make(map[string]*value, len(v.vals))
		for k, x := range v.vals {
			c.vals[k] = x.clone()
		}
	}
	return &c
}

// truthy is Python's bool(x) for a JSON value.
func (v *value) truthy() bool {
	if v == nil {
		return false
	}
	switch v.kind {
	case jBool:
		return v.b
	case jNumber:
		f, _, err := big.ParseFloat(v.s, 10, 64, big.ToNearestEven)
		return err != nil || f.Sign() != 0
	case jString:
		return v.s != ""
	case jArray:
		return len(v.arr) > 0
	case jObject:
		return len(v.keys) > 0
	}
	return false
}

// equal is Python's == on decoded JSON (numbers by value).
func (v *value) equal(w *value) bool {
	if v == nil || w == nil {
		return (v == nil || v.kind == jNull) && (w == nil || w.kind == jNull)
	}
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case jNull:
		return true
	case jBool:
		return v.b == w.b
	case jString:
		return v.s == w.s
	case jNumber:
		a, _, err1 := big.ParseFloat(v.s, 10, 200, big.ToNearestEven)
		b, _, err2 := big.ParseFloat(w.s, 10, 200, big.ToNearestEven)
		if err1 != nil || err2 != nil {
			return v.s == w.s
		}
		return a.Cmp(b) == 0
	case jArray:
		if len(v.arr) != len(w.arr) {
			return false
		}
		for i := range v.arr {
			if !v.arr[i].equal(w.arr[i]) {
				return false
			}
		}
		return true
	case jObject:
		if len(v.keys) != len(w.keys) {
			return false
		}
		for _, k := range v.keys {
			x, ok := w.vals[k]
			if !ok || !v.vals[k].equal(x) {
				return false
			}
		}
		return true
	}
	return false
}

// typeName names a value's JSON type as Python's jsonschema messages do.
func (v *value) typeName() string {
	switch v.kind {
	case jNull:
		return "null"
	case jBool:
		return "a boolean"
	case jNumber:
		return "a number"
	case jString:
		return "a string"
	case jArray:
		return "an array"
	}
	return "an object"
}

// syntaxError is a JSON error at a line and column.
type syntaxError struct {
	line, col int
	msg       string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("line %d column %d: %s", e.line, e.col, e.msg)
}

// parseJSON reads one JSON document, with Python's rules for duplicate keys
// (the last value wins, in the first one's place).
func parseJSON(data []byte) (*value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	pos := func(off int64) (int, int) {
		if off > int64(len(data)) {
			off = int64(len(data))
		}
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		col := int(off) - bytes.LastIndexByte(data[:off], '\n')
		return line, col
	}
	wrap := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			l, c := pos(se.Offset)
			return &syntaxError{l, c, se.Error()}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			l, c := pos(int64(len(data)))
			return &syntaxError{l, c, "unexpected end of the file"}
		}
		l, c := pos(dec.InputOffset())
		return &syntaxError{l, c, err.Error()}
	}
	var read func(depth int) (*value, error)
	read = func(depth int) (*value, error) {
		if depth > 1000 {
			l, c := pos(dec.InputOffset())
			return nil, &syntaxError{l, c, "nested too deeply"}
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, wrap(err)
		}
		switch t := tok.(type) {
		case nil:
			return null(), nil
		case bool:
			return boolean(t), nil
		case json.Number:
			return &value{kind: jNumber, s: t.String()}, nil
		case string:
			return str(t), nil
		case json.Delim:
			switch t {
			case '[':
				a := array()
				for dec.More() {
					x, err := read(depth + 1)
					if err != nil {
						return nil, err
					}
					a.arr = append(a.arr, x)
				}
				if _, err := dec.Token(); err != nil {
					return nil, wrap(err)
				}
				return a, nil
			case '{':
				o := newObject()
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, wrap(err)
					}
					k, _ := kt.(string)
					x, err := read(depth + 1)
					if err != nil {
						return nil, err
					}
					o.set(k, x)
				}
				if _, err := dec.Token(); err != nil {
					return nil, wrap(err)
				}
				return o, nil
			}
		}
		l, c := pos(dec.InputOffset())
		return nil, &syntaxError{l, c, fmt.Sprintf("unexpected %v", tok)}
	}
	v, err := read(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		l, c := pos(dec.InputOffset())
		return nil, &syntaxError{l, c, "extra data after the JSON value"}
	}
	return v, nil
}

// pyIndent renders v as Python's json.dumps(v, indent=4) does.
func pyIndent(v *value) []byte {
	var b bytes.Buffer
	writePy(&b, v, 0, true)
	return b.Bytes()
}

// pyCompact renders v as Python's json.dumps(v) does (", " and ": ").
func pyCompact(v *value) []byte {
	var b bytes.Buffer
	writePy(&b, v, 0, false)
	return b.Bytes()
}

func writePy(b *bytes.Buffer, v *value, level int, indent bool) {
	nl := func(l int) {
		if indent {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat("    ", l))
		}
	}
	sep := ", "
	if indent {
		sep = ","
	}
	switch v.kind {
	case jNull:
		b.WriteString("null")
	case jBool:
		if v.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case jNumber:
		b.WriteString(pyNumber(v.s))
	case jString:
		writePyString(b, v.s)
	case jArray:
		if len(v.arr) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, x := range v.arr {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(level + 1)
			writePy(b, x, level+1, indent)
		}
		nl(level)
		b.WriteByte(']')
	case jObject:
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(level + 1)
			writePyString(b, k)
			b.WriteString(": ")
			writePy(b, v.vals[k], level+1, indent)
		}
		nl(level)
		b.WriteByte('}')
	}
}

// writePyString escapes as Python's ensure_ascii does: everything outside
// printable ASCII (space to '~') becomes \uXXXX, lower-case hex, with
// surrogate pairs above the BMP.
func writePyString(b *bytes.Buffer, s string) {
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
			case r >= ' ' && r <= '~':
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

// pyNumber prints a JSON number as Python does after json.load: integers
// exactly, floats with repr().
func pyNumber(text string) string {
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
	return pyFloatRepr(f)
}

// pyFloatRepr is Python's repr(float): the shortest digits that round-trip,
// in fixed notation for 1e-4 <= |x| < 1e16, else d.ddde+XX.
func pyFloatRepr(f float64) string {
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
