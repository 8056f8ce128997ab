// Package pyjson reads and writes JSON as Python's json module does.
//
// Domino's metadata files and pip's direct_url.json are written by Python,
// so reproducing them byte for byte needs what encoding/json lacks: objects
// that keep their keys in insertion order (or sort them on output), numbers
// printed as Python prints them after json.load, and ensure_ascii escapes
// (encoding/json escapes <, > and & as \u003c..., Python does not).
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Kind is a JSON value's type.
type Kind uint8

// The JSON value types.
const (
	KindNull Kind = iota
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// TypeName names a JSON type as Python's jsonschema messages do ("a string").
func (k Kind) TypeName() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "a boolean"
	case KindNumber:
		return "a number"
	case KindString:
		return "a string"
	case KindArray:
		return "an array"
	}
	return "an object"
}

// Value is a JSON value whose objects keep their keys in order. Numbers keep
// their source text and are printed as Python would after json.load.
type Value struct {
	kind Kind
	b    bool
	s    string // a string, or a number's text
	arr  []*Value
	keys []string
	vals map[string]*Value
}

// Null is JSON null (Python's None).
func Null() *Value { return &Value{kind: KindNull} }

// String is a JSON string.
func String(s string) *Value { return &Value{kind: KindString, s: s} }

// Bool is true or false.
func Bool(b bool) *Value { return &Value{kind: KindBool, b: b} }

// Number is a JSON number given by its text ("1", "2.50", "1e-5").
func Number(text string) *Value { return &Value{kind: KindNumber, s: text} }

// Object is an empty object (Python's {}).
func Object() *Value { return &Value{kind: KindObject, vals: map[string]*Value{}} }

// Array is a list of values.
func Array(items ...*Value) *Value {
	return &Value{kind: KindArray, arr: append([]*Value{}, items...)}
}

// Strings is a list of strings.
func Strings(ss []string) *Value {
	a := Array()
	for _, s := range ss {
		a.arr = append(a.arr, String(s))
	}
	return a
}

// Kind is the value's type.
func (v *Value) Kind() Kind { return v.kind }

// Text is a string's value or a number's source text ("" for other kinds).
func (v *Value) Text() string { return v.s }

// Keys lists an object's keys in order.
func (v *Value) Keys() []string { return append([]string(nil), v.keys...) }

// Items lists an array's values.
func (v *Value) Items() []*Value { return append([]*Value(nil), v.arr...) }

// TypeName is Kind().TypeName().
func (v *Value) TypeName() string { return v.kind.TypeName() }

// Get returns an object's member, or nil (also when v is nil or no object).
func (v *Value) Get(k string) *Value {
	if v == nil || v.kind != KindObject {
		return nil
	}
	return v.vals[k]
}

// Set is Python's d[k] = x: a new key goes last, an existing key keeps its place.
func (v *Value) Set(k string, x *Value) {
	if _, ok := v.vals[k]; !ok {
		v.keys = append(v.keys, k)
	}
	v.vals[k] = x
}

// Clone copies v deeply.
func (v *Value) Clone() *Value {
	if v == nil {
		return nil
	}
	c := *v
	switch v.kind {
	case KindArray:
		c.arr = make([]*Value, len(v.arr))
		for i, x := range v.arr {
			c.arr[i] = x.Clone()
		}
	case KindObject:
		c.keys = append([]string(nil), v.keys...)
		c.vals = make(map[string]*Value, len(v.vals))
		for k, x := range v.vals {
			c.vals[k] = x.Clone()
		}
	}
	return &c
}

// Truthy is Python's bool(x) for a decoded JSON value (nil is None).
func (v *Value) Truthy() bool {
	if v == nil {
		return false
	}
	switch v.kind {
	case KindBool:
		return v.b
	case KindNumber:
		f, _, err := big.ParseFloat(v.s, 10, 64, big.ToNearestEven)
		return err != nil || f.Sign() != 0
	case KindString:
		return v.s != ""
	case KindArray:
		return len(v.arr) > 0
	case KindObject:
		return len(v.keys) > 0
	}
	return false
}

// Equal is Python's == on decoded JSON (numbers by value; nil is None).
func (v *Value) Equal(w *Value) bool {
	if v == nil || w == nil {
		return (v == nil || v.kind == KindNull) && (w == nil || w.kind == KindNull)
	}
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindNull:
		return true
	case KindBool:
		return v.b == w.b
	case KindString:
		return v.s == w.s
	case KindNumber:
		a, _, err1 := big.ParseFloat(v.s, 10, 200, big.ToNearestEven)
		b, _, err2 := big.ParseFloat(w.s, 10, 200, big.ToNearestEven)
		if err1 != nil || err2 != nil {
			return v.s == w.s
		}
		return a.Cmp(b) == 0
	case KindArray:
		if len(v.arr) != len(w.arr) {
			return false
		}
		for i := range v.arr {
			if !v.arr[i].Equal(w.arr[i]) {
				return false
			}
		}
		return true
	case KindObject:
		if len(v.keys) != len(w.keys) {
			return false
		}
		for _, k := range v.keys {
			x, ok := w.vals[k]
			if !ok || !v.vals[k].Equal(x) {
				return false
			}
		}
		return true
	}
	return false
}

// SyntaxError is a JSON error at a line and column (both from 1).
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d column %d: %s", e.Line, e.Col, e.Msg)
}

// maxDepth bounds nesting, as Python's recursion limit does.
const maxDepth = 1000

// parser reads one document token by token, keeping object key order.
type parser struct {
	data []byte
	dec  *json.Decoder
}

// Parse reads one JSON document, with Python's rules for duplicate keys
// (the last value wins, in the first one's place).
func Parse(data []byte) (*Value, error) {
	p := &parser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, p.errorAt(p.dec.InputOffset(), "extra data after the JSON value")
	}
	return v, nil
}

func (p *parser) errorAt(off int64, msg string) *SyntaxError {
	if off > int64(len(p.data)) {
		off = int64(len(p.data))
	}
	line := 1 + bytes.Count(p.data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(p.data[:off], '\n')
	return &SyntaxError{Line: line, Col: col, Msg: msg}
}

func (p *parser) wrap(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return p.errorAt(se.Offset, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return p.errorAt(int64(len(p.data)), "unexpected end of the file")
	}
	return p.errorAt(p.dec.InputOffset(), err.Error())
}

func (p *parser) value(depth int) (*Value, error) {
	if depth > maxDepth {
		return nil, p.errorAt(p.dec.InputOffset(), "nested too deeply")
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.wrap(err)
	}
	switch t := tok.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(t), nil
	case json.Number:
		return Number(t.String()), nil
	case string:
		return String(t), nil
	case json.Delim:
		switch t {
		case '[':
			return p.array(depth)
		case '{':
			return p.object(depth)
		}
	}
	return nil, p.errorAt(p.dec.InputOffset(), fmt.Sprintf("unexpected %v", tok))
}

// array reads an array's items and its closing bracket.
func (p *parser) array(depth int) (*Value, error) {
	a := Array()
	for p.dec.More() {
		x, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a.arr = append(a.arr, x)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.wrap(err)
	}
	return a, nil
}

// object reads an object's members and its closing brace.
func (p *parser) object(depth int) (*Value, error) {
	o := Object()
	for p.dec.More() {
		kt, err := p.dec.Token()
		if err != nil {
			return nil, p.wrap(err)
		}
		k, _ := kt.(string)
		x, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o.Set(k, x)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.wrap(err)
	}
	return o, nil
}
