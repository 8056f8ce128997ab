package devfile

import (
	"errors"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Problem is one thing wrong with a devfile registry.
type Problem = plan.Problem

// ValidationError lists every problem found, so one run shows them all.
type ValidationError = plan.ValidationError

// fileError is an error about one file, so it can become a Problem with
// that file's name.
type fileError struct{ file, msg string }

func (e *fileError) Error() string { return e.file + ": " + e.msg }

// problems collects Problems as a registry is read.
type problems struct{ plan.Problems }

func (ps *problems) add(file string, line int, format string, args ...any) {
	ps.Add(file, line, format, args...)
}

// addErr records err, under the file it names if it is a fileError.
func (ps *problems) addErr(file string, err error) {
	var fe *fileError
	if errors.As(err, &fe) {
		ps.add(fe.file, 0, "%s", fe.msg)
		return
	}
	ps.add(file, 0, "%v", err)
}

var yamlLineRe = lazyregexp.New(`line (\d+)`)

// yamlError turns a yaml.v3 error into problems, one per line it names.
func (ps *problems) yamlError(file string, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if te, ok := err.(*yaml.TypeError); ok {
		for _, e := range te.Errors {
			ps.add(file, lineOf(e), "%s", stripLine(e))
		}
		return
	}
	ps.add(file, lineOf(msg), "%s (fix the YAML syntax)", stripLine(msg))
}

func lineOf(msg string) int {
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

var linePrefixRe = lazyregexp.New(`^(yaml: )?line \d+: `)

func stripLine(msg string) string { return linePrefixRe.ReplaceAllString(msg, "") }

// parseYAML reads a YAML document into a node, reporting syntax errors and
// duplicate keys (which yaml.v3 finds only when decoding). It returns the
// document's top node, or nil when the file cannot be used.
func (ps *problems) parseYAML(file string, src []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		ps.yamlError(file, err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		ps.add(file, 0, "the file is empty")
		return nil
	}
	top := doc.Content[0]
	var anything any
	if err := top.Decode(&anything); err != nil {
		ps.yamlError(file, err)
		return nil
	}
	if top.Kind != yaml.MappingNode {
		ps.add(file, top.Line, "the document must be a mapping of keys to values")
		return nil
	}
	return top
}

// decode fills v from n, reporting type errors with their lines.
func (ps *problems) decode(file string, n *yaml.Node, v any) bool {
	if err := n.Decode(v); err != nil {
		ps.yamlError(file, err)
		return false
	}
	return true
}

// get returns the value node of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// keyLine returns the line of key in mapping n, or n's own line.
func keyLine(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
	}
	return n.Line
}

// str returns the scalar value of key in n ("" when absent or not a scalar).
func str(n *yaml.Node, key string) string {
	v := get(n, key)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return ""
	}
	return v.Value
}

// items returns the elements of the sequence at key in n.
func items(n *yaml.Node, key string) []*yaml.Node {
	v := get(n, key)
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil
	}
	return v.Content
}

// keys returns the keys of mapping n.
func keys(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var ks []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i])
	}
	return ks
}

// generatorAccepts begins the explanation of a check where assemble is
// stricter than registry-support's index generator: each such message goes
// on to say why assemble cannot accept what the generator does, and what
// to change.
const generatorAccepts = "registry-support's index generator accepts this"
