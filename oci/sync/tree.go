package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// node is a parsed YAML or JSON value that remembers its line, so config
// errors can point at the entry to fix.
type node struct {
	kind  nodeKind
	value string // scalars
	line  int
	items []*node // sequences
	keys  []*node // mappings: keys (scalars) and values, in file order
	vals  []*node
}

type nodeKind int

const (
	kindNull nodeKind = iota
	kindScalar
	kindSeq
	kindMap
)

func (k nodeKind) String() string {
	switch k {
	case kindScalar:
		return "a single value"
	case kindSeq:
		return "a list"
	case kindMap:
		return "a mapping"
	}
	return "nothing"
}

// parseTree reads data as YAML or JSON, chosen by the file's extension as
// image-syncer does.
func parseTree(file string, data []byte) (*node, error) {
	switch {
	case strings.HasSuffix(file, ".yaml"), strings.HasSuffix(file, ".yml"):
		return parseYAML(file, data)
	case strings.HasSuffix(file, ".json"):
		return parseJSON(file, data)
	}
	return nil, fmt.Errorf("%s: unknown format: name the file *.yaml, *.yml or *.json (image-syncer chooses the format by extension)", file)
}

func parseYAML(file string, data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3's messages already say "yaml: line N: ...".
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &node{kind: kindNull, line: 1}, nil
	}
	return fromYAML(doc.Content[0], 0)
}

func fromYAML(y *yaml.Node, depth int) (*node, error) {
	if depth > 64 {
		return nil, fmt.Errorf("line %d: nesting too deep", y.Line)
	}
	for y.Kind == yaml.AliasNode && y.Alias != nil {
		y = y.Alias
		depth++
		if depth > 64 {
			return nil, fmt.Errorf("line %d: alias nesting too deep", y.Line)
		}
	}
	n := &node{line: y.Line}
	switch y.Kind {
	case yaml.ScalarNode:
		if y.Tag == "!!null" {
			n.kind = kindNull
			return n, nil
		}
		n.kind = kindScalar
		n.value = y.Value
	case yaml.SequenceNode:
		n.kind = kindSeq
		for _, c := range y.Content {
			cn, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, cn)
		}
	case yaml.MappingNode:
		n.kind = kindMap
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, err := fromYAML(y.Content[i], depth+1)
			if err != nil {
				return nil, err
			}
			v, err := fromYAML(y.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
		}
	default:
		n.kind = kindNull
	}
	return n, nil
}

func parseJSON(file string, data []byte) (*node, error) {
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err == nil {
		// Anything after the top-level value is a mistake (two objects, a stray brace).
		if _, terr := p.dec.Token(); terr != io.EOF {
			err = fmt.Errorf("line %d: unexpected data after the top-level value", p.lineAt(p.dec.InputOffset()))
		}
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d: invalid JSON: %w", file, p.lineAt(se.Offset), err)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: invalid JSON: the file ends early (an unclosed { or [?)", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

type jsonParser struct {
	data []byte
	dec  *json.Decoder
}

func (p *jsonParser) lineAt(off int64) int {
	if off > int64(len(p.data)) {
		off = int64(len(p.data))
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(p.data[:off], []byte{'\n'}) + 1
}

// tokenLine is the line where the next token starts: InputOffset points just
// past the previous token, before any whitespace or separators.
func (p *jsonParser) tokenLine() int {
	off := p.dec.InputOffset()
	for off < int64(len(p.data)) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return p.lineAt(off)
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > 64 {
		return nil, fmt.Errorf("line %d: nesting too deep", p.tokenLine())
	}
	line := p.tokenLine()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{line: line}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = kindMap
			for p.dec.More() {
				kline := p.tokenLine()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				ks, _ := kt.(string)
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, &node{kind: kindScalar, value: ks, line: kline})
				n.vals = append(n.vals, v)
			}
		case '[':
			n.kind = kindSeq
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", line, t.String())
		}
		if _, err := p.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case nil:
		n.kind = kindNull
	case string:
		n.kind = kindScalar
		n.value = t
	case json.Number:
		n.kind = kindScalar
		n.value = t.String()
	case bool:
		n.kind = kindScalar
		n.value = fmt.Sprint(t)
	}
	return n, nil
}
