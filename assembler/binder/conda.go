package binder

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/assemble-build/assemble/layers/wheel"
)

// An environment.yml that asks conda for nothing but Python, pip and a pip:
// list is a Python environment in all but name: it is built as the Python
// buildpack builds requirements, on the Debian release carrying the Python
// version it names. Anything else needs conda and stays refused, naming the
// conda packages.

// condaEnv is what an environment.yml asks for.
type condaEnv struct {
	python   string   // "3.11" from python=3.11; "" when unpinned
	pyLine   int      // where python is pinned
	pip      []string // the pip: list, in order
	pipLine  int
	condaPkg []string // conda packages other than python and pip, with their lines
}

// condaSpecRE splits a conda match spec "name[=|==|>=...]version[=build]".
var condaSpecRE = regexp.MustCompile(`^([A-Za-z0-9_.\-]+)\s*(.*)$`)

// readCondaEnv parses rel as conda's env update reads it: a mapping (an
// empty file is an empty one), whose dependencies are match specs and one
// {pip: [...]} mapping.
func (r *repo) readCondaEnv(rel string) (*condaEnv, error) {
	b, err := r.readFile(rel)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v (fix the YAML syntax)", rel, err)
	}
	env := &condaEnv{}
	if len(doc.Content) == 0 {
		return env, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a mapping (name:, channels:, dependencies:), as conda requires", rel, top.Line)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "dependencies" {
			continue
		}
		deps := top.Content[i+1]
		if deps.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s:%d: dependencies must be a list", rel, deps.Line)
		}
		for _, d := range deps.Content {
			if err := env.add(rel, d); err != nil {
				return nil, err
			}
		}
	}
	return env, nil
}

// add takes one entry of dependencies.
func (env *condaEnv) add(rel string, d *yaml.Node) error {
	where := fmt.Sprintf("%s:%d", rel, d.Line)
	switch d.Kind {
	case yaml.MappingNode:
		for j := 0; j+1 < len(d.Content); j += 2 {
			k, v := d.Content[j], d.Content[j+1]
			if k.Value != "pip" || v.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s: %q: only a pip: list may appear among the dependencies", where, k.Value)
			}
			env.pipLine = k.Line
			for _, p := range v.Content {
				env.pip = append(env.pip, strings.TrimSpace(p.Value))
			}
		}
		return nil
	case yaml.ScalarNode:
	default:
		return fmt.Errorf("%s: a dependency must be a conda match spec or a pip: list", where)
	}
	spec := strings.TrimSpace(d.Value)
	m := condaSpecRE.FindStringSubmatch(spec)
	if m == nil {
		return fmt.Errorf("%s: %q is not a conda match spec", where, spec)
	}
	name := strings.ToLower(m[1])
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	switch name {
	case "pip":
		return nil
	case "python":
		env.python, env.pyLine = condaPython(m[2]), d.Line
		if m[2] != "" && env.python == "" {
			return fmt.Errorf("%s: python%s: pin a Python version as python=3.X", where, m[2])
		}
		return nil
	}
	env.condaPkg = append(env.condaPkg, fmt.Sprintf("%s (line %d)", spec, d.Line))
	return nil
}

// condaPython turns the version part of a python spec ("=3.11", "==3.11.4",
// "3.11.*") into "3.11"; "" when it is not a plain version.
func condaPython(v string) string {
	v = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(v), "="))
	v = strings.TrimSuffix(strings.TrimSuffix(v, ".*"), "*")
	if i := strings.IndexByte(v, '='); i >= 0 { // python=3.11=h123_0: a build string
		v = v[:i]
	}
	if !regexp.MustCompile(`^\d+(\.\d+){0,2}$`).MatchString(v) {
		return ""
	}
	return majorMinor(v)
}

// conda is CondaBuildPack for an environment.yml that only needs pip: its
// python pin and pip: list. requirements.txt, Pipfile and runtime.txt are
// ignored, as repo2docker's conda buildpack ignores them.
func (e *pyEnv) conda() error {
	b, r := e.b, e.b.r
	rel := b.d.reason
	env, err := r.readCondaEnv(rel)
	if err != nil {
		return err
	}
	if len(env.condaPkg) > 0 {
		u := unsupported(r, b.d).(*UnsupportedError)
		u.Why = "it installs conda packages, which only conda/mamba can: " + strings.Join(env.condaPkg, ", ")
		u.Instead = "list only python=3.X, pip and a pip: list in " + rel + " (that is built without conda), or " + u.Instead
		return u
	}
	if env.python != "" {
		e.want, e.wantFrom = env.python, fmt.Sprintf("%s:%d", rel, env.pyLine)
	}
	if len(env.pip) > 0 {
		e.out.sources = append(e.out.sources, rel)
	}
	for _, line := range env.pip {
		if err := e.condaPip(rel, line, fmt.Sprintf("%s:%d: pip", rel, env.pipLine)); err != nil {
			return err
		}
	}
	for _, f := range []string{"requirements.txt", "requirements3.txt", "Pipfile", "Pipfile.lock", "runtime.txt"} {
		if p := r.path(f); r.exists(p) {
			b.res.Ignored = append(b.res.Ignored, p+": ignored by CondaBuildPack, as repo2docker ignores it beside "+rel)
		}
	}
	return nil
}

// condaPip adds one line of the pip: list; paths in it are relative to the
// environment file's directory, where repo2docker runs pip.
func (e *pyEnv) condaPip(rel, line, where string) error {
	dir := path.Dir(rel)
	name, value := "", ""
	if strings.HasPrefix(line, "-") {
		name, value = splitOption(line)
	}
	switch {
	case name == "--requirement":
		return e.addRequirements(path.Join(dir, value))
	case name == "--editable" && looksLocal(value), name == "" && looksLocal(requirementPart(line)):
		arg := value
		if name == "" {
			arg = requirementPart(line)
		}
		ref, err := e.b.r.local(arg, name != "", pipenvDir(rel), where)
		if err != nil {
			return err
		}
		e.out.local = append(e.out.local, ref)
		return nil
	case name == "--find-links" || name == "--constraint":
		if !strings.Contains(value, "://") && !path.IsAbs(value) {
			value = path.Join(dir, value)
		}
		e.layer.Packages = append(e.layer.Packages, name+" "+value)
		return nil
	case name != "":
		e.layer.Packages = append(e.layer.Packages, line)
		return nil
	}
	q, err := wheel.ParseRequirement(requirementPart(line))
	if err != nil {
		return fmt.Errorf("%s: %q: %w", where, line, err)
	}
	e.out.names = append(e.out.names, wheel.NormalizeName(q.Name))
	e.layer.Packages = append(e.layer.Packages, line)
	return nil
}
