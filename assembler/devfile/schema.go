package devfile

import (
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"go.yaml.in/yaml/v3"
)

// The devfile checks below are structural: they cover the devfile
// library's semantic validation (references between commands, components
// and events, default commands, unique names) and the schema rules users
// break most often, with messages that say what to do. Everything else the
// devfile 2.x JSON schema says (types, enums, unknown fields) is checked
// against the schema itself (jsonschema.go). They do not fetch parents or
// plugins or substitute {{variables}}; the devfile library
// (github.com/devfile/library/v2), which does, needs Kubernetes client
// modules this project does not take on.

var (
	// schemaVersionRe is the devfile schema's pattern; supported lists the
	// minor versions the devfile library ships schemas for.
	schemaVersionRe = lazyregexp.New(`^([2-9])\.([0-9]+)\.([0-9]+)(-[0-9a-z-]+(\.[0-9a-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	supported       = map[string]bool{"2.0": true, "2.1": true, "2.2": true, "2.3": true}
	// metadataVersionRe is metadata.version's pattern in the devfile schema.
	metadataVersionRe = lazyregexp.New(`^([0-9]+)\.([0-9]+)\.([0-9]+)(-[0-9a-z-]+(\.[0-9a-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	// nameRe is the pattern of component names, command ids, project and
	// endpoint names (a Kubernetes DNS label).
	nameRe = lazyregexp.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

var topLevelKeys = map[string]bool{
	"schemaVersion": true, "metadata": true, "parent": true, "variables": true, "attributes": true,
	"projects": true, "starterProjects": true, "dependentProjects": true, "components": true,
	"commands": true, "events": true,
}

var componentTypes = []string{"container", "kubernetes", "openshift", "volume", "image", "custom", "plugin"}
var commandTypes = []string{"exec", "apply", "composite", "vscodeTask", "vscodeLaunch", "custom"}
var groupKinds = map[string]bool{"build": true, "run": true, "test": true, "debug": true, "deploy": true}

// checkDevfile validates a devfile document. stackMeta adds the index
// generator's metadata rules (stacks need name, displayName, language,
// projectType and a version).
func (ps *problems) checkDevfile(file string, top *yaml.Node, stackMeta bool) {
	before := len(ps.List)
	for _, k := range keys(top) {
		if !topLevelKeys[k.Value] {
			ps.add(file, k.Line, "unknown top-level field %q (the devfile schema allows: schemaVersion, metadata, parent, variables, attributes, projects, starterProjects, dependentProjects, components, commands, events)", k.Value)
		}
	}
	sv := str(top, "schemaVersion")
	switch {
	case get(top, "schemaVersion") == nil:
		ps.add(file, top.Line, "schemaVersion is not set: add e.g. schemaVersion: 2.2.0")
	case !schemaVersionRe.MatchString(sv):
		ps.add(file, keyLine(top, "schemaVersion"), "schemaVersion %q is not a version like 2.2.0", sv)
	default:
		m := schemaVersionRe.FindStringSubmatch(sv)
		if !supported[m[1]+"."+m[2]] {
			ps.add(file, keyLine(top, "schemaVersion"), "schemaVersion %s is not supported (devfile schemas exist for 2.0, 2.1, 2.2 and 2.3)", sv)
			sv = ""
		}
	}

	md := get(top, "metadata")
	if md != nil && md.Kind != yaml.MappingNode {
		ps.add(file, md.Line, "metadata must be a mapping")
		md = nil
	}
	if stackMeta {
		for _, f := range []string{"name", "displayName", "language", "projectType"} {
			if str(md, f) == "" {
				line := top.Line
				if md != nil {
					line = keyLine(top, "metadata")
				}
				ps.add(file, line, "metadata.%s is not set", f)
			}
		}
		v := str(md, "version")
		switch {
		case v == "":
			line := top.Line
			if md != nil {
				line = keyLine(top, "metadata")
			}
			ps.add(file, line, "metadata.version is not set: stacks need a semantic version (1.0.0)")
		case !metadataVersionRe.MatchString(v):
			ps.add(file, keyLine(md, "version"), "metadata.version %q is not a semantic version (1.0.0)", v)
		case !tagRe.MatchString(v):
			ps.add(file, keyLine(md, "version"), "metadata.version %q cannot be an OCI tag (the stack is pushed as devfile-catalog/<stack>:<version>): %s (the devfile schema allows build metadata), "+
				"but '+' is not allowed in an OCI tag, so assemble cannot push it: drop the +build part", v, generatorAccepts)
		}
	}
	for _, f := range []string{"tags", "architectures"} {
		if n := get(md, f); n != nil && n.Kind != yaml.SequenceNode {
			ps.add(file, n.Line, "metadata.%s must be a list", f)
		}
	}

	hasParent := get(top, "parent") != nil
	components := ps.checkComponents(file, top)
	commands := ps.checkCommands(file, top, components, hasParent)
	ps.checkEvents(file, top, commands, hasParent)
	ps.checkProjects(file, top, "starterProjects")
	ps.checkProjects(file, top, "projects")
	if schemaVersionRe.MatchString(sv) {
		reported := map[int]bool{}
		for _, p := range ps.List[before:] {
			reported[p.Line] = true
		}
		ps.checkSchema(file, top, sv, reported)
	}
}

// checkName checks a name or id field of list element n.
func (ps *problems) checkName(file string, n *yaml.Node, field, what string, seen map[string]int) string {
	name := str(n, field)
	switch {
	case name == "":
		ps.add(file, n.Line, "%s has no %s", what, field)
	case len(name) > 63 || !nameRe.MatchString(name):
		ps.add(file, keyLine(n, field), "%s %s %q must be lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters", what, field, name)
	}
	if name != "" {
		if prev, ok := seen[name]; ok {
			ps.add(file, keyLine(n, field), "%s %s %q is already used at line %d", what, field, name, prev)
		} else {
			seen[name] = keyLine(n, field)
		}
	}
	return name
}

// oneOf returns the single type key of n among types, reporting none or many.
func (ps *problems) oneOf(file string, n *yaml.Node, what, name string, types []string) string {
	var found []string
	for _, t := range types {
		if get(n, t) != nil {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 1:
		return found[0]
	case 0:
		ps.add(file, n.Line, "%s %q has no type: give it exactly one of %s", what, name, strings.Join(types, ", "))
	default:
		ps.add(file, n.Line, "%s %q has several types (%s): give it exactly one", what, name, strings.Join(found, ", "))
	}
	return ""
}

func (ps *problems) checkList(file string, top *yaml.Node, key string) []*yaml.Node {
	n := get(top, key)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		ps.add(file, n.Line, "%s must be a list", key)
		return nil
	}
	var out []*yaml.Node
	for _, it := range n.Content {
		if it.Kind != yaml.MappingNode {
			ps.add(file, it.Line, "each entry of %s must be a mapping", key)
			continue
		}
		out = append(out, it)
	}
	return out
}

func (ps *problems) checkComponents(file string, top *yaml.Node) map[string]bool {
	names := map[string]bool{}
	seen := map[string]int{}
	endpoints := map[string]int{}
	for _, c := range ps.checkList(file, top, "components") {
		name := ps.checkName(file, c, "name", "component", seen)
		names[name] = true
		switch t := ps.oneOf(file, c, "component", name, componentTypes); t {
		case "container":
			ct := get(c, "container")
			if str(ct, "image") == "" {
				ps.add(file, keyLine(c, "container"), "container component %q has no image", name)
			}
			for _, e := range items(ct, "endpoints") {
				en := ps.checkName(file, e, "name", "endpoint", endpoints)
				if len(en) > 15 {
					ps.add(file, keyLine(e, "name"), "endpoint name %q is longer than 15 characters", en)
				}
				if get(e, "targetPort") == nil {
					ps.add(file, e.Line, "endpoint %q has no targetPort", en)
				}
			}
		case "kubernetes", "openshift":
			k := get(c, t)
			if (get(k, "uri") == nil) == (get(k, "inlined") == nil) {
				ps.add(file, keyLine(c, t), "%s component %q needs exactly one of uri and inlined", t, name)
			}
		case "image":
			im := get(c, "image")
			if str(im, "imageName") == "" {
				ps.add(file, keyLine(c, "image"), "image component %q has no imageName", name)
			}
		}
	}
	return names
}

type commandInfo struct {
	line      int
	kind      string
	isDefault bool
	children  []*yaml.Node
}

func (ps *problems) checkCommands(file string, top *yaml.Node, components map[string]bool, hasParent bool) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]int{}
	infos := map[string]*commandInfo{}
	var order []string
	for _, c := range ps.checkList(file, top, "commands") {
		id := ps.checkName(file, c, "id", "command", seen)
		ids[id] = true
		t := ps.oneOf(file, c, "command", id, commandTypes)
		if t == "" {
			continue
		}
		body := get(c, t)
		info := &commandInfo{line: keyLine(c, t)}
		if g := get(body, "group"); g != nil {
			info.kind = str(g, "kind")
			if !groupKinds[info.kind] {
				ps.add(file, keyLine(g, "kind"), "command %q: group kind %q must be one of build, run, test, debug, deploy", id, info.kind)
			}
			info.isDefault = str(g, "isDefault") == "true"
			if info.isDefault {
				info.line = keyLine(g, "isDefault")
			}
		}
		switch t {
		case "exec":
			if str(body, "commandLine") == "" {
				ps.add(file, keyLine(c, t), "exec command %q has no commandLine", id)
			}
			fallthrough
		case "apply":
			comp := str(body, "component")
			if comp == "" {
				ps.add(file, keyLine(c, t), "%s command %q has no component", t, id)
			} else if !hasParent && !components[comp] {
				ps.add(file, keyLine(body, "component"), "%s command %q refers to component %q, which is not defined", t, id, comp)
			}
		case "composite":
			info.children = items(body, "commands")
		}
		if id != "" {
			infos[id] = info
			order = append(order, id)
		}
	}
	for _, id := range order {
		for _, ch := range infos[id].children {
			switch {
			case ch.Value == id:
				ps.add(file, ch.Line, "composite command %q refers to itself", id)
			case !hasParent && !ids[ch.Value]:
				ps.add(file, ch.Line, "composite command %q refers to command %q, which is not defined", id, ch.Value)
			}
		}
	}
	// The devfile library: when a group kind has several commands, at most
	// one may be the default (none is only a warning).
	byKind := map[string][]string{}
	for _, id := range order {
		if k := infos[id].kind; k != "" {
			byKind[k] = append(byKind[k], id)
		}
	}
	for _, k := range []string{"build", "run", "test", "debug", "deploy"} {
		cmds := byKind[k]
		if len(cmds) < 2 {
			continue
		}
		var defaults []string
		for _, id := range cmds {
			if infos[id].isDefault {
				defaults = append(defaults, id)
			}
		}
		if len(defaults) > 1 {
			ps.add(file, infos[defaults[1]].line, "command group %s has several default commands (%s): mark exactly one isDefault: true", k, strings.Join(defaults, ", "))
		}
	}
	return ids
}

func (ps *problems) checkEvents(file string, top *yaml.Node, commands map[string]bool, hasParent bool) {
	ev := get(top, "events")
	if ev == nil || hasParent {
		return
	}
	for _, phase := range []string{"preStart", "postStart", "preStop", "postStop"} {
		for _, c := range items(ev, phase) {
			if !commands[c.Value] {
				ps.add(file, c.Line, "events.%s refers to command %q, which is not defined", phase, c.Value)
			}
		}
	}
}

func (ps *problems) checkProjects(file string, top *yaml.Node, key string) {
	seen := map[string]int{}
	what := strings.TrimSuffix(key, "s")
	for _, p := range ps.checkList(file, top, key) {
		name := ps.checkName(file, p, "name", what, seen)
		types := []string{"git", "zip"}
		if key == "projects" {
			types = append(types, "custom")
		}
		if ps.oneOf(file, p, what, name, types) != "git" {
			continue
		}
		g := get(p, "git")
		remotes := get(g, "remotes")
		if remotes == nil || remotes.Kind != yaml.MappingNode || len(remotes.Content) == 0 {
			ps.add(file, keyLine(p, "git"), "%s %q: git needs at least one remote", what, name)
			continue
		}
		if len(remotes.Content) > 2 {
			from := str(get(g, "checkoutFrom"), "remote")
			if from == "" {
				ps.add(file, keyLine(p, "git"), "%s %q has several git remotes: set checkoutFrom.remote", what, name)
			} else if get(remotes, from) == nil {
				ps.add(file, keyLine(get(g, "checkoutFrom"), "remote"), "%s %q: checkoutFrom.remote %q is not one of its remotes", what, name, from)
			}
		}
	}
}
