package pieces

import (
	"sort"

	"github.com/assemble-build/assemble/internal/pyjson"
)

// defaultMetadata is Domino's metadata_default
// (src/domino/utils/metadata_default.py), merged under every metadata.json.
func defaultMetadata() *pyjson.Value {
	m := pyjson.Object()
	m.Set("name", pyjson.String("DefaultPiece"))
	dep := pyjson.Object()
	dep.Set("dockerfile", pyjson.Null())
	dep.Set("requirements_file", pyjson.Null())
	m.Set("dependency", dep)
	m.Set("tags", pyjson.Array())
	style := pyjson.Object()
	style.Set("node_label", pyjson.String("Piece"))
	style.Set("node_type", pyjson.String("default"))
	ns := pyjson.Object()
	ns.Set("backgroundColor", pyjson.String("#ebebeb"))
	style.Set("node_style", ns)
	style.Set("useIcon", pyjson.Bool(true))
	style.Set("icon_class_name", pyjson.String("fa-solid fa-circle"))
	is := pyjson.Object()
	is.Set("cursor", pyjson.String("pointer"))
	style.Set("iconStyle", is)
	m.Set("style", style)
	return m
}

// deepUpdate is Domino's dict_deep_update(a, b): b's keys override a's, and
// where both hold objects the merge recurses.
func deepUpdate(a, b *pyjson.Value) {
	for _, k := range b.Keys() {
		bv := b.Get(k)
		if av := a.Get(k); av != nil && av.Kind() == pyjson.KindObject && bv.Kind() == pyjson.KindObject {
			deepUpdate(av, bv)
			continue
		}
		a.Set(k, bv)
	}
}

// schemaSet is what models.py gives one piece.
type schemaSet struct {
	input, output, secrets *pyjson.Value
}

// compileMetadata is create_compiled_pieces_metadata: for each piece, the
// default metadata with its metadata.json deep-merged on top, then the
// schemas and source_url. Keys come out in Domino's order: name,
// dependency, tags, style, the piece's other keys, input_schema,
// output_schema, secrets_schema, source_url. schemas may lack a piece (its
// schemas are then null).
func compileMetadata(ps []*piece, schemas map[string]schemaSet, sourceURL string) *pyjson.Value {
	out := pyjson.Object()
	for _, p := range ps {
		m := defaultMetadata()
		if p.metadata != nil {
			op := p.metadata.Clone()
			// An empty name is accepted (Domino's check skips a falsy
			// name) and stands for the folder name.
			if n := op.Get("name"); n == nil || n.Text() == "" {
				op.Set("name", pyjson.String(p.name))
			}
			deepUpdate(m, op)
		} else {
			m.Set("name", pyjson.String(p.name))
		}
		s := schemas[p.name]
		m.Set("input_schema", orNull(s.input))
		m.Set("output_schema", orNull(s.output))
		m.Set("secrets_schema", orNull(s.secrets))
		if sourceURL != "" {
			m.Set("source_url", pyjson.String(sourceURL+"/tree/main/pieces/"+p.name))
		} else {
			m.Set("source_url", pyjson.Null())
		}
		out.Set(p.name, m)
	}
	return out
}

func orNull(v *pyjson.Value) *pyjson.Value {
	if v == nil {
		return pyjson.Null()
	}
	return v
}

// Group is one dependency group: the pieces that share a (dockerfile,
// requirements_file) pair, and so one image.
type Group struct {
	// Name is "group<N>".
	Name string `json:"name"`
	// Dockerfile and RequirementsFile name files in dependencies/ ("" for null).
	// When both are set, Domino builds the Dockerfile only.
	Dockerfile       string   `json:"dockerfile,omitempty"`
	RequirementsFile string   `json:"requirementsFile,omitempty"`
	Pieces           []string `json:"pieces"`
	// Secrets is the union of the SecretsModel fields of the group's pieces, sorted.
	Secrets []string `json:"secrets"`
	// Image is the group's image reference with its tag.
	Image string `json:"image"`

	dependency *pyjson.Value
	secretSet  map[string]bool
}

// Kind says how the group's image is built: "dockerfile", "requirements" or
// "none" (the base and the repository only), with Domino's precedence.
func (g *Group) Kind() string {
	switch {
	case g.Dockerfile != "":
		return "dockerfile"
	case g.RequirementsFile != "":
		return "requirements"
	}
	return "none"
}

// groupInput is one compiled piece as create_dependencies_map sees it.
type groupInput struct {
	name       string
	dependency *pyjson.Value // always an object after the merge with the defaults
	secrets    []string
}

// formGroups is Domino's create_dependencies_map. Pieces are taken in the
// order given; the first opens group0; each later piece joins every
// existing group whose dependency equals the piece's on each of the piece's
// dependency keys (after the defaults, both dockerfile and
// requirements_file), else it opens group<len(groups)>. So one group is one
// distinct (dockerfile, requirements_file) pair, numbered by first
// appearance, and pieces with no dependency share one group.
//
// Where Domino would raise KeyError (a piece's dependency has a key, such as
// docker_image, that the group's first piece lacks) the missing key counts
// as null.
func formGroups(in []groupInput) []*Group {
	var groups []*Group
	for _, p := range in {
		joined := false
		for _, g := range groups {
			match := true
			for _, k := range p.dependency.Keys() {
				if !p.dependency.Get(k).Equal(g.dependency.Get(k)) {
					match = false
					break
				}
			}
			if match {
				g.Pieces = append(g.Pieces, p.name)
				for _, s := range p.secrets {
					g.secretSet[s] = true
				}
				joined = true
			}
		}
		if joined {
			continue
		}
		g := &Group{Name: "group" + itoa(len(groups)), Pieces: []string{p.name}, dependency: p.dependency, secretSet: map[string]bool{}}
		if v := p.dependency.Get("dockerfile"); v != nil && v.Kind() == pyjson.KindString {
			g.Dockerfile = v.Text()
		}
		if v := p.dependency.Get("requirements_file"); v != nil && v.Kind() == pyjson.KindString {
			g.RequirementsFile = v.Text()
		}
		for _, s := range p.secrets {
			g.secretSet[s] = true
		}
		groups = append(groups, g)
	}
	for _, g := range groups {
		g.Secrets = make([]string, 0, len(g.secretSet))
		for s := range g.secretSet {
			g.Secrets = append(g.Secrets, s)
		}
		sort.Strings(g.Secrets)
	}
	return groups
}

// secretNames are the property names of a SecretsModel schema.
func secretNames(s *pyjson.Value) []string {
	if !s.Truthy() || s.Kind() != pyjson.KindObject {
		return nil
	}
	props := s.Get("properties")
	if props == nil || props.Kind() != pyjson.KindObject {
		return nil
	}
	return append([]string(nil), props.Keys()...)
}

// groupInputs turns compiled metadata into create_dependencies_map's input.
func groupInputs(compiled *pyjson.Value) []groupInput {
	var in []groupInput
	for _, name := range compiled.Keys() {
		m := compiled.Get(name)
		dep := m.Get("dependency")
		if dep == nil || dep.Kind() != pyjson.KindObject {
			dep = pyjson.Object()
		}
		in = append(in, groupInput{name: name, dependency: dep, secrets: secretNames(m.Get("secrets_schema"))})
	}
	return in
}

// dependenciesMap renders .domino/dependencies_map.json as Domino writes it
// after building: group -> {dependency, pieces, secrets, source_image}.
func dependenciesMap(groups []*Group) *pyjson.Value {
	out := pyjson.Object()
	for _, g := range groups {
		o := pyjson.Object()
		o.Set("dependency", g.dependency)
		o.Set("pieces", pyjson.Strings(g.Pieces))
		o.Set("secrets", pyjson.Strings(g.Secrets))
		o.Set("source_image", pyjson.String(g.Image))
		out.Set(g.Name, o)
	}
	return out
}

// piecesImagesMap is Domino's PIECES_IMAGES_MAP: piece -> image, built by
// walking the groups in order (a piece in two groups gets the last one).
func piecesImagesMap(groups []*Group) *pyjson.Value {
	out := pyjson.Object()
	for _, g := range groups {
		for _, p := range g.Pieces {
			out.Set(p, pyjson.String(g.Image))
		}
	}
	return out
}
