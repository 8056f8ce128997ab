package binder

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"

	"github.com/assemble-build/assemble/layers/wheel"
)

// An environment.yml that asks conda for nothing but Python, pip and a pip:
// list is a Python environment in all but name: it is built as the Python
// buildpack builds requirements, on the Debian release carrying the Python
// version it names. One that asks for conda packages (or has an explicit
// lock beside it) is installed as conda would: repo2docker's base
// environment at NB_PYTHON_PREFIX in one layer, the file's packages in the
// next, both resolved from its channels by layers/conda (condaenv.go).

// condaEnv is what an environment.yml asks for.
type condaEnv struct {
	python   string   // "3.11" from python=3.11; "" when unpinned
	pySpec   string   // the python spec as written ("python=3.11")
	pyLine   int      // where python is pinned
	pip      []string // the pip: list, in order
	pipLine  int
	condaPkg []string // conda packages other than python and pip, with their lines
	// specs are every match spec of dependencies, with where each is.
	specs []plan.CondaSpec
	// names are the conda packages' names.
	names    []string
	channels []string
}

// condaSpecRE splits a conda match spec "name[=|==|>=...]version[=build]".
var condaSpecRE = lazyregexp.New(`^([A-Za-z0-9_.\-]+)\s*(.*)$`)

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
		if top.Content[i].Value == "channels" {
			if err := env.readChannels(rel, top.Content[i+1]); err != nil {
				return nil, err
			}
		}
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
	bare := spec
	if i := strings.LastIndex(bare, "::"); i >= 0 {
		bare = bare[i+2:] // channel::name
	}
	m := condaSpecRE.FindStringSubmatch(bare)
	if m == nil {
		return fmt.Errorf("%s: %q is not a conda match spec", where, spec)
	}
	name := strings.ToLower(m[1])
	env.specs = append(env.specs, plan.CondaSpec{Spec: spec, Where: where})
	env.names = append(env.names, name)
	switch name {
	case "pip":
		return nil
	case "python":
		env.python, env.pySpec, env.pyLine = condaPython(m[2]), spec, d.Line
		if m[2] != "" && env.python == "" {
			return fmt.Errorf("%s: python%s: pin a Python version as python=3.X", where, m[2])
		}
		return nil
	}
	env.condaPkg = append(env.condaPkg, fmt.Sprintf("%s (line %d)", spec, d.Line))
	return nil
}

// readChannels takes the channels: list.
func (env *condaEnv) readChannels(rel string, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s:%d: channels must be a list of channel names or URLs", rel, n.Line)
	}
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || strings.TrimSpace(c.Value) == "" {
			return fmt.Errorf("%s:%d: a channel is a name (conda-forge) or a URL", rel, c.Line)
		}
		env.channels = append(env.channels, strings.TrimSpace(c.Value))
	}
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
	var rpkgs []string
	for i, n := range env.names {
		if strings.HasPrefix(n, "r-") {
			rpkgs = append(rpkgs, env.specs[i].Spec+" ("+env.specs[i].Where+")")
		}
	}
	if len(rpkgs) > 0 {
		u := unsupported(r, b.d).(*UnsupportedError)
		u.Why += ": " + strings.Join(rpkgs, ", ")
		return u
	}
	locks, err := r.condaLocks(path.Dir(rel))
	if err != nil {
		return err
	}
	if len(env.condaPkg) > 0 || len(locks) > 0 {
		b.conda = newCondaPlan(b, rel, env, locks)
		e.out.names = append(e.out.names, b.conda.names...)
	} else if env.python != "" {
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
