package devfile

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
)

// The devfile spec's own JSON schemas, one per schemaVersion the devfile
// library supports, copied unchanged from schemas/latest/devfile.json of
// github.com/devfile/api/v2 at the tag of each version (Apache-2.0, see
// schemas/LICENSE). The index generator validates every devfile against
// the schema of its schemaVersion; so does assemble, so that a wrong type or
// enum value (targetPort: "x", exposure: bogus) fails here and not at the
// registry build.
//
//go:embed schemas/devfile-*.json
var schemaFiles embed.FS

var schemaVersions = func() []string {
	ents, err := schemaFiles.ReadDir("schemas")
	if err != nil {
		panic(err)
	}
	var vs []string
	for _, e := range ents {
		vs = append(vs, strings.TrimSuffix(strings.TrimPrefix(e.Name(), "devfile-"), ".json"))
	}
	return vs
}()

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

// schemaFor returns the compiled schema for schemaVersion sv: its own when
// vendored, else the newest of the same major.minor (a patch release does
// not change the devfile's structure), else nil.
func schemaFor(sv string) (*jsonschema.Schema, string, error) {
	sv, _, _ = strings.Cut(sv, "-")
	sv, _, _ = strings.Cut(sv, "+")
	use := ""
	minor := sv[:strings.LastIndex(sv, ".")+1]
	for _, v := range schemaVersions {
		if v == sv {
			use = v
			break
		}
		if strings.HasPrefix(v, minor) && (use == "" || patchOf(v) > patchOf(use)) {
			use = v
		}
	}
	if use == "" {
		return nil, "", nil
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s := schemaCache[use]; s != nil {
		return s, use, nil
	}
	b, err := schemaFiles.ReadFile("schemas/devfile-" + use + ".json")
	if err != nil {
		return nil, "", err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("devfile schema %s: %w", use, err)
	}
	c := jsonschema.NewCompiler()
	// The schemas name no $schema; the devfile library reads them as draft 7.
	c.DefaultDraft(jsonschema.Draft7)
	url := "devfile-" + use + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, "", fmt.Errorf("devfile schema %s: %w", use, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, "", fmt.Errorf("devfile schema %s: %w", use, err)
	}
	schemaCache[use] = s
	return s, use, nil
}

func patchOf(v string) int {
	n, _ := strconv.Atoi(v[strings.LastIndex(v, ".")+1:])
	return n
}

// checkSchema validates top against the JSON schema of schemaVersion sv and
// reports each failing value at its line. A problem already reported on the
// same line by the structural checks (which say more) is not repeated.
func (ps *problems) checkSchema(file string, top *yaml.Node, sv string, already map[int]bool) {
	s, used, err := schemaFor(sv)
	if err != nil {
		ps.add(file, 0, "%v", err)
		return
	}
	if s == nil {
		return
	}
	verr := s.Validate(jsonValue(top))
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		if verr != nil {
			ps.add(file, 0, "devfile schema %s: %v", used, verr)
		}
		return
	}
	seen := map[string]bool{}
	for _, u := range leafErrors(ve.BasicOutput()) {
		loc := u.InstanceLocation
		if ap, ok := u.Error.Kind.(*kind.AdditionalProperties); ok && len(ap.Properties) > 0 {
			// Point at the first unknown key, not at its parent.
			loc += "/" + strings.ReplaceAll(strings.ReplaceAll(ap.Properties[0], "~", "~0"), "/", "~1")
		}
		line := lineAt(top, loc)
		msg := fmt.Sprintf("%s: %s (devfile schema %s)", pointerPath(u.InstanceLocation), u.Error.String(), used)
		if already[line] || seen[msg] {
			continue
		}
		seen[msg] = true
		ps.add(file, line, "%s", msg)
	}
}

// leafErrors returns the errors of a basic output that explain a failure:
// when a oneOf/anyOf fails, its branches' errors say why, and the summary
// ("oneOf failed, none matched") is kept only where no branch error sits at
// or below the same value.
func leafErrors(out *jsonschema.OutputUnit) []jsonschema.OutputUnit {
	var all []jsonschema.OutputUnit
	for _, u := range out.Errors {
		if u.Error != nil {
			all = append(all, u)
		}
	}
	var leaves []jsonschema.OutputUnit
	for i, u := range all {
		deeper := false
		for j, o := range all {
			if i != j && strings.HasPrefix(o.KeywordLocation, u.KeywordLocation+"/") {
				deeper = true
				break
			}
		}
		if !deeper {
			leaves = append(leaves, u)
		}
	}
	sort.SliceStable(leaves, func(i, j int) bool { return leaves[i].InstanceLocation < leaves[j].InstanceLocation })
	return leaves
}

// pointerPath turns a JSON pointer into the dotted path users write
// (/components/0/container/image -> components[0].container.image).
func pointerPath(ptr string) string {
	if ptr == "" {
		return "the devfile"
	}
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// lineAt returns the line of the value a JSON pointer names in the YAML
// tree: the line of its key for a mapping entry, so the message points at
// "targetPort:", not at the value on the next line of a block.
func lineAt(n *yaml.Node, ptr string) int {
	line := n.Line
	if ptr == "" {
		return line
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n = resolveAlias(n)
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
			if next == nil {
				return line
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// yaml11Bools are the plain scalars YAML 1.1 reads as booleans. The
// devfile library converts devfiles to JSON with a YAML 1.1 parser before
// validating, so "mountSources: yes" is true there; this keeps the same.
var yaml11Bools = map[string]bool{}

func init() {
	for _, w := range []string{"y", "yes", "on", "true"} {
		for _, v := range []string{w, strings.ToUpper(w[:1]) + w[1:], strings.ToUpper(w)} {
			yaml11Bools[v] = true
		}
	}
	for _, w := range []string{"n", "no", "off", "false"} {
		for _, v := range []string{w, strings.ToUpper(w[:1]) + w[1:], strings.ToUpper(w)} {
			yaml11Bools[v] = false
		}
	}
}

// jsonValue converts a YAML node to the value JSON would give: mappings
// with string keys, numbers as int or float64, timestamps and other
// tagged scalars as strings.
func jsonValue(n *yaml.Node) any {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return jsonValue(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			if k.Tag == "!!merge" {
				if mm, ok := jsonValue(n.Content[i+1]).(map[string]any); ok {
					for mk, mv := range mm {
						if _, set := m[mk]; !set {
							m[mk] = mv
						}
					}
				}
				continue
			}
			m[k.Value] = jsonValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, c := range n.Content {
			a[i] = jsonValue(c)
		}
		return a
	}
	return scalarValue(n)
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			return v
		}
	case "!!str":
		if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
			return b
		}
	}
	return n.Value
}
