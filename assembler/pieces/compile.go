package pieces

import (
	"sort"
)

// defaultMetadata is Domino's metadata_default
// (src/domino/utils/metadata_default.py), merged under every metadata.json.
func defaultMetadata() *value {
	m := newObject()
	m.set("name", str("DefaultPiece"))
	dep := newObject()
	dep.set("dockerfile", null())
	dep.set("requirements_file", null())
	m.set("dependency", dep)
	m.set("tags", array())
	style := newObject()
	style.set("node_label", str("Piece"))
	style.set("node_type", str("default"))
	ns := newObject()
	ns.set("backgroundColor", str("#ebebeb"))
	style.set("node_style", ns)
	style.set("useIcon", boolean(true))
	style.set("icon_class_name", str("fa-solid fa-circle"))
	is := newObject()
	is.set("cursor", str("pointer"))
	style.set("iconStyle", is)
	m.set("style", style)
	return m
}

// deepUpdate is Domino's dict_deep_update(a, b): b's keys override a's, and
// where both hold objects the merge recurses.
func deepUpdate(a, b *value) {
	for _, k := range b.keys {
		bv := b.vals[k]
		if av := a.get(k); av != nil && av.kind == jObject && bv.kind == jObject {
			deepUpdate(av, bv)
			continue
		}
		a.set(k, bv)
	}
}

// schemaSet is what models.py gives one piece.
type schemaSet struct {
	input, output, secrets *value
}

// compileMetadata is create_compiled_pieces_metadata: for each piece, the
// default metadata with its metadata.json deep-merged on top, then the
// schemas and source_url. Keys come out in Domino's order: name,
// dependency, tags, style, the piece's other keys, input_schema,
// output_schema, secrets_schema, source_url. schemas may lack a piece (its
// schemas are then null).
func compileMetadata(ps []*piece, schemas map[string]schemaSet, sourceURL string) *value {
	out := newObject()
	for _, p := range ps {
		m := defaultMetadata()
		if p.metadata != nil {
			op := p.metadata.clone()
			if op.get("name") == nil {
				op.set("name", str(p.name))
			}
			deepUpdate(m, op)
		} else {
			m.set("name", str(p.name))
		}
		s := schemas[p.name]
		m.set("input_schema", orNull(s.input))
		m.set("output_schema", orNull(s.output))
		m.set("secrets_schema", orNull(s.secrets))
		if sourceURL != "" {
			m.set("source_url", str(sourceURL+"/tree/main/pieces/"+p.name))
		} else {
			m.set("source_url", null())
		}
		out.set(p.name, m)
	}
	return out
}

func orNull(v *value) *value {
	if v == nil {
		return null()
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

	dependency *value
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
	dependency *value // always an object after the merge with the defaults
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
			for _, k := range p.dependency.keys {
				if !p.dependency.vals[k].equal(g.dependency.get(k)) {
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
		if v := p.dependency.get("dockerfile"); v != nil && v.kind == jString {
			g.Dockerfile = v.s
		}
		if v := p.dependency.get("requirements_file"); v != nil && v.kind == jString {
			g.RequirementsFile = v.s
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
func secretNames(s *value) []string {
	if !s.truthy() || s.kind != jObject {
		return nil
	}
	props := s.get("properties")
	if props == nil || props.kind != jObject {
		return nil
	}
	return append([]string(nil), props.keys...)
}

// groupInputs turns compiled metadata into create_dependencies_map's input.
func groupInputs(compiled *value) []groupInput {
	var in []groupInput
	for _, name := range compiled.keys {
		m := compiled.vals[name]
		dep := m.get("dependency")
		if dep == nil || dep.kind != jObject {
			dep = newObject()
		}
		in = append(in, groupInput{name: name, dependency: dep, secrets: secretNames(m.get("secrets_schema"))})
	}
	return in
}

// dependenciesMap renders .domino/dependencies_map.json as Domino writes it
// after building: group -> {dependency, pieces, secrets, source_image}.
func dependenciesMap(groups []*Group) *value {
	out := newObject()
	for _, g := range groups {
		o := newObject()
		o.set("dependency", g.dependency)
		o.set("pieces", strArray(g.Pieces))
		o.set("secrets", strArray(g.Secrets))
		o.set("source_image", str(g.Image))
		out.set(g.Name, o)
	}
	return out
}

// piecesImagesMap is Domino's PIECES_IMAGES_MAP: piece -> image, built by
// walking the groups in order (a piece in two groups gets the last one).
func piecesImagesMap(groups []*Group) *value {
	out := newObject()
	for _, g := range groups {
		for _, p := range g.Pieces {
			out.set(p, str(g.Image))
		}
	}
	return out
}
