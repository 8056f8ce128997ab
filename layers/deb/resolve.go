package deb

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Request asks for one package by name.
type Request struct {
	// Name is "name", "name=version" or "name:arch".
	Name string
	// Where the request was made, for messages ("apt.txt:3").
	Where string
}

func (r Request) String() string {
	if r.Where == "" {
		return r.Name
	}
	return r.Where + ": " + r.Name
}

// relAlt is one alternative of a relation: "name:arch (op version)".
type relAlt struct {
	name, arch, op, version string
}

func (a relAlt) String() string {
	s := a.name
	if a.arch != "" {
		s += ":" + a.arch
	}
	if a.op != "" {
		s += " (" + a.op + " " + a.version + ")"
	}
	return s
}

// parseRelations parses a relation field (Depends, Provides, ...) into
// relations of alternatives, as pault.ag/go/debian/dependency does.
func parseRelations(s string) ([][]relAlt, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if out, ok := fastRelations(s); ok {
		return out, nil
	}
	return slowRelations(s)
}

// slowRelations parses a relation field with pault.ag/go/debian/dependency,
// which handles every form (architecture qualifiers, substitution
// variables, ...) but builds its strings a byte at a time.
func slowRelations(s string) ([][]relAlt, error) {
	d, err := dependency.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("bad relation %q: %w", truncate(s, 80), err)
	}
	var out [][]relAlt
	for _, r := range d.Relations {
		var alts []relAlt
		for _, p := range r.Possibilities {
			if p.Substvar {
				return nil, fmt.Errorf("bad relation %q: unexpanded substitution variable ${%s}", truncate(s, 80), p.Name)
			}
			a := relAlt{name: p.Name}
			if p.Arch != nil {
				a.arch = p.Arch.String()
			}
			if p.Version != nil {
				a.op, a.version = p.Version.Operator, p.Version.Number
				if a.op == "<" {
					a.op = "<="
				} else if a.op == ">" {
					a.op = ">="
				}
			}
			alts = append(alts, a)
		}
		if len(alts) > 0 {
			out = append(out, alts)
		}
	}
	return out, nil
}

// fastRelations parses the common forms of a relation field ("a, b (>= 1)
// | c") exactly as dependency.Parse does; ok is false for anything else
// (architecture qualifiers, restrictions, substitution variables, odd
// spacing inside parentheses, errors), which slowRelations then handles.
// Building the Provides table parses thousands of fields, so this matters.
func fastRelations(s string) (out [][]relAlt, ok bool) {
	i := skipRelSpace(s, 0)
	for i < len(s) {
		if s[i] == ',' {
			i = skipRelSpace(s, i+1)
			continue
		}
		var alts []relAlt
		for i < len(s) && s[i] != ',' {
			if s[i] == '|' {
				i = skipRelSpace(s, i+1)
				continue
			}
			var a relAlt
			if a, i, ok = fastAlternative(s, i); !ok {
				return nil, false
			}
			alts = append(alts, a)
		}
		if len(alts) > 0 {
			out = append(out, alts)
		}
	}
	return out, true
}

// fastAlternative parses "name" or "name (op version)" at s[i:] and the
// blanks after it; the next byte must be ',', '|' or the end.
func fastAlternative(s string, i int) (relAlt, int, bool) {
	var a relAlt
	j := i
	for j < len(s) && relNameByte(s[j]) {
		j++
	}
	if j == i {
		return a, 0, false
	}
	a.name = s[i:j]
	k := skipRelSpace(s, j)
	if k < len(s) && s[k] == '(' {
		k = skipRelSpace(s, k+1)
		switch {
		case k < len(s) && s[k] == '=':
			a.op = "="
			k++
		case k+1 < len(s):
			switch op := s[k : k+2]; op {
			case ">=", "<=", "<<", ">>":
				a.op = op
				k += 2
			default:
				return a, 0, false
			}
		default:
			return a, 0, false
		}
		k = skipRelSpace(s, k)
		v := k
		for k < len(s) && relVersionByte(s[k]) {
			k++
		}
		if k == v || k >= len(s) || s[k] != ')' {
			return a, 0, false
		}
		a.version = s[v:k]
		k = skipRelSpace(s, k+1)
	}
	if k < len(s) && s[k] != ',' && s[k] != '|' {
		return a, 0, false
	}
	return a, k, true
}

func skipRelSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func relNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func relVersionByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' || c == '~' || c == ':'
}

// versionSatisfies reports whether v satisfies "op want".
func versionSatisfies(v version.Version, op, want string) bool {
	if op == "" {
		return true
	}
	return dependency.VersionRelation{Operator: op, Number: want}.SatisfiedBy(v)
}

// parseRequestName splits "name", "name=version", "name:arch".
func parseRequestName(s string) (name, arch, ver string, err error) {
	name = s
	if i := strings.IndexByte(name, '='); i >= 0 {
		name, ver = name[:i], name[i+1:]
		if _, perr := version.Parse(ver); perr != nil {
			return "", "", "", fmt.Errorf("bad version in %q: %v", s, perr)
		}
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name, arch = name[:i], name[i+1:]
	}
	if !validName(name) {
		return "", "", "", fmt.Errorf("bad package name %q (want lower-case letters, digits, '+', '-', '.', e.g. \"python3\")", s)
	}
	return name, arch, ver, nil
}

// priorityRank orders providers of a virtual package as apt prefers them.
func priorityRank(p string) int {
	switch p {
	case "required":
		return 0
	case "important":
		return 1
	case "standard":
		return 2
	case "optional":
		return 3
	}
	return 4
}

type resolver struct {
	ix        *Index
	installed map[string]string
	chosen    map[string]*Package
	roots     []*Package
	visited   map[string]bool
	edges     map[string][]string // package -> packages satisfying its dependencies
	reqOf     map[string]int      // package -> index of the request that brought it in
	errs      []error
}

// Resolve finds the full set of packages needed for reqs, as apt would
// choose them: Pre-Depends and Depends (not Recommends), the first
// satisfiable alternative unless another one is already chosen or installed,
// the highest version that satisfies the constraints, and for a virtual
// package a real provider (preferring one already chosen). installed maps
// "name" (or "name:arch") to the version already in the base (see
// ParseStatus); such packages are not installed again unless a dependency
// needs a newer version. The result is in install order (dependencies
// first); each package is a copy with Requested and Reason set.
//
// Every error names the request (with its file and line) and the dependency
// chain that failed.
//
// A successful resolution is kept in the client's cache, keyed by the
// index's sources, the requests (not their Where) and installed; the same
// question asked again is answered from there without parsing the index.
func (ix *Index) Resolve(reqs []Request, installed map[string]string) ([]*Package, error) {
	key := ix.resolveKey(reqs, installed)
	if key != "" {
		if pkgs, ok := ix.cachedResolve(key, reqs); ok {
			return pkgs, nil
		}
	}
	out, reqOf, err := ix.resolve(reqs, installed)
	if err != nil {
		return nil, err
	}
	if key != "" {
		ix.storeResolution(key, out, reqOf)
	}
	return out, nil
}

// resolve is Resolve without the cache. It also returns, for each chosen
// package, the index of the request that brought it in.
func (ix *Index) resolve(reqs []Request, installed map[string]string) ([]*Package, map[string]int, error) {
	if err := ix.load(); err != nil {
		return nil, nil, err
	}
	r := &resolver{ix: ix, installed: installed, chosen: map[string]*Package{}, visited: map[string]bool{}, edges: map[string][]string{}, reqOf: map[string]int{}}
	if r.installed == nil {
		r.installed = map[string]string{}
	}
	// Like apt-get install, mark every requested package first, then
	// resolve their dependencies, so a requested package satisfies the
	// alternatives of the others.
	for i, req := range reqs {
		r.request(req, i)
	}
	for _, p := range r.roots {
		r.visit(p)
	}
	r.checkConflicts()
	if len(r.errs) > 0 {
		return nil, nil, errors.Join(r.errs...)
	}
	return r.installOrder(), r.reqOf, nil
}

func (r *resolver) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

func (r *resolver) installedVersion(name string) (string, bool) {
	if v, ok := r.installed[name]; ok {
		return v, true
	}
	if v, ok := r.installed[name+":"+r.ix.Arch]; ok {
		return v, true
	}
	if v, ok := r.installed[name+":all"]; ok {
		return v, true
	}
	return "", false
}

func (r *resolver) request(req Request, idx int) {
	if req.Where == "" {
		req.Where = "request" // Requested must be non-empty for a requested package
	}
	name, arch, ver, err := parseRequestName(strings.TrimSpace(req.Name))
	if err != nil {
		r.fail("%s: %v", req.Where, err)
		return
	}
	if arch != "" && arch != r.ix.Arch && arch != "all" && arch != "any" && arch != "native" {
		r.fail("%s: %s: architecture %s is not the target architecture %s", req.Where, req.Name, arch, r.ix.Arch)
		return
	}
	if iv, ok := r.installedVersion(name); ok && (ver == "" || iv == ver) {
		if _, chosen := r.chosen[name]; !chosen {
			return // already in the base
		}
	}
	if c, ok := r.chosen[name]; ok {
		if ver != "" && c.Version != ver {
			r.fail("%s: %s=%s conflicts with %s, which asks for version %s", req.Where, name, ver, c.Requested, c.Version)
		}
		return
	}
	want := relAlt{name: name}
	if ver != "" {
		want.op, want.version = "=", ver
	}
	if vs := r.ix.pkgs[name]; len(vs) > 0 {
		for _, p := range vs {
			if r.realSatisfies(p, want) {
				r.mark(p, req.Where, req.Where, name, idx)
				return
			}
		}
		r.fail("%s: %s: no version %s in %s (it has %s)", req.Where, req.Name, ver, r.ix.Describe(), versionList(vs))
		return
	}
	provs := r.providers(want)
	switch len(provs) {
	case 0:
		r.fail("%s: unknown package %q: not in %s", req.Where, req.Name, r.ix.Describe())
	case 1:
		r.mark(provs[0], req.Where, req.Where, name+" (provided by "+provs[0].Name+")", idx)
	default:
		var names []string
		for _, p := range provs {
			names = append(names, p.Name)
		}
		r.fail("%s: %q is a virtual package provided by %s; name one of them", req.Where, name, strings.Join(names, ", "))
	}
}

func versionList(vs []*Package) string {
	var s []string
	for _, p := range vs {
		s = append(s, p.Version)
	}
	return strings.Join(s, ", ")
}

// mark chooses a package (a copy of the index's). where is the request
// that led to it (reqs[req]), chain the dependency path from that request.
func (r *resolver) mark(p *Package, requested, where, chain string, req int) *Package {
	c := *p
	c.Requested = requested
	c.where, c.chain = where, chain
	c.Reason = where + ": " + chain
	r.chosen[p.Name] = &c
	r.reqOf[p.Name] = req
	if requested != "" {
		r.roots = append(r.roots, &c)
	}
	return &c
}

// archOK checks an arch qualifier (":any", ":native", ":amd64") against a
// package, as dpkg does for a single-architecture system.
func (r *resolver) archOK(p *Package, arch string) bool {
	switch arch {
	case "":
		return p.Architecture == r.ix.Arch || p.Architecture == "all"
	case "any":
		return p.MultiArch == "allowed"
	case "native", r.ix.Arch:
		return p.Architecture == r.ix.Arch || p.Architecture == "all"
	}
	return p.Architecture == arch
}

func (r *resolver) realSatisfies(p *Package, a relAlt) bool {
	return p.Name == a.name && r.archOK(p, a.arch) && versionSatisfies(p.ver, a.op, a.version)
}

// providers returns the index packages that provide a.name in a way that
// satisfies a, highest version of each provider only, best first.
func (r *resolver) providers(a relAlt) []*Package {
	var out []*Package
	seen := map[string]bool{}
	for _, pv := range r.ix.provides[a.name] {
		if seen[pv.pkg.Name] || !r.archOK(pv.pkg, a.arch) {
			continue
		}
		if a.op != "" {
			if pv.version == "" {
				continue
			}
			v, err := version.Parse(pv.version)
			if err != nil || !versionSatisfies(v, a.op, a.version) {
				continue
			}
		}
		// Only the provider's candidate (highest) version counts, as in apt.
		if best := r.ix.pkgs[pv.pkg.Name]; len(best) > 0 && best[0] != pv.pkg {
			continue
		}
		seen[pv.pkg.Name] = true
		out = append(out, pv.pkg)
	}
	sort.SliceStable(out, func(i, j int) bool {
		_, ci := r.chosen[out[i].Name]
		_, cj := r.chosen[out[j].Name]
		if ci != cj {
			return ci
		}
		if pi, pj := priorityRank(out[i].Priority), priorityRank(out[j].Priority); pi != pj {
			return pi < pj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// satisfiedNow reports whether an alternative is met by a chosen or
// installed package, and by which.
func (r *resolver) satisfiedNow(a relAlt) (string, bool) {
	if c, ok := r.chosen[a.name]; ok && r.realSatisfies(c, a) {
		return c.Name, true
	}
	if _, chosen := r.chosen[a.name]; !chosen {
		if iv, ok := r.installedVersion(a.name); ok {
			v, err := version.Parse(iv)
			// The base's dpkg accepted its own arch qualifiers; only versions are checked.
			if err == nil && versionSatisfies(v, a.op, a.version) {
				return "", true
			}
		}
	}
	// A chosen package providing it.
	for _, pv := range r.ix.provides[a.name] {
		c, ok := r.chosen[pv.pkg.Name]
		if !ok || c.Version != pv.pkg.Version || !r.archOK(c, a.arch) {
			continue
		}
		if a.op != "" {
			v, err := version.Parse(pv.version)
			if pv.version == "" || err != nil || !versionSatisfies(v, a.op, a.version) {
				continue
			}
		}
		return c.Name, true
	}
	// An installed package providing it: the base's status does not carry
	// Provides here, so the index's entry for that installed version stands in.
	for _, pv := range r.ix.provides[a.name] {
		if _, chosen := r.chosen[pv.pkg.Name]; chosen {
			continue
		}
		iv, ok := r.installedVersion(pv.pkg.Name)
		if !ok || iv != pv.pkg.Version {
			continue
		}
		if a.op != "" {
			v, err := version.Parse(pv.version)
			if pv.version == "" || err != nil || !versionSatisfies(v, a.op, a.version) {
				continue
			}
		}
		return "", true
	}
	return "", false
}

// pick chooses a package for one alternative, or says why none fits.
func (r *resolver) pick(a relAlt) (*Package, string) {
	if vs := r.ix.pkgs[a.name]; len(vs) > 0 {
		for _, p := range vs {
			if r.realSatisfies(p, a) {
				return p, ""
			}
		}
		if a.arch == "any" && vs[0].MultiArch != "allowed" {
			return nil, fmt.Sprintf("%s is not Multi-Arch: allowed, so %s cannot be met", a.name, a)
		}
		if provs := r.providers(a); len(provs) > 0 {
			return provs[0], ""
		}
		return nil, fmt.Sprintf("%s has only version(s) %s", a.name, versionList(vs))
	}
	if provs := r.providers(a); len(provs) > 0 {
		return provs[0], ""
	}
	if len(r.ix.provides[a.name]) > 0 {
		return nil, fmt.Sprintf("no provider of %s fits", a)
	}
	return nil, fmt.Sprintf("%s is not in %s", a.name, r.ix.Describe())
}

// visit resolves a chosen package's dependencies, depth first as apt does.
func (r *resolver) visit(p *Package) {
	if r.visited[p.Name] {
		return
	}
	r.visited[p.Name] = true
	for _, field := range []struct{ name, value string }{{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}} {
		rels, err := parseRelations(field.value)
		if err != nil {
			r.fail("%s: %s: %s: %v", p.Reason, p.Name, field.name, err)
			continue
		}
	relations:
		for _, alts := range rels {
			for _, a := range alts {
				if by, ok := r.satisfiedNow(a); ok {
					if by != "" && by != p.Name {
						r.edges[p.Name] = append(r.edges[p.Name], by)
					}
					continue relations
				}
			}
			var why []string
			for _, a := range alts {
				c, reason := r.pick(a)
				if c == nil {
					why = append(why, reason)
					continue
				}
				if prev, ok := r.chosen[c.Name]; ok {
					// Another version is already chosen (a versioned
					// dependency it does not meet): one version per package.
					why = append(why, fmt.Sprintf("%s %s is already chosen (%s)", prev.Name, prev.Version, prev.Reason))
					continue
				}
				// When the base has an older version of c, c is installed
				// over it (an upgrade in this layer).
				nc := r.mark(c, "", p.where, p.chain+" -> "+c.Name, r.reqOf[p.Name])
				r.edges[p.Name] = append(r.edges[p.Name], nc.Name)
				r.visit(nc)
				continue relations
			}
			rel := make([]string, len(alts))
			for i, a := range alts {
				rel[i] = a.String()
			}
			root, _, _ := strings.Cut(p.chain, " -> ")
			r.fail("%s: cannot install %s: %s %s %s, but %s", p.where, root, p.chain,
				depVerb(field.name), strings.Join(rel, " | "), strings.Join(why, "; "))
		}
	}
}

func depVerb(field string) string {
	if field == "Pre-Depends" {
		return "pre-depends on"
	}
	return "depends on"
}

// checkConflicts refuses a set where a chosen package Conflicts with or
// Breaks another chosen or installed one (apt would look for another
// solution; this resolver reports the clash instead).
func (r *resolver) checkConflicts() {
	for _, n := range slices.Sorted(maps.Keys(r.chosen)) {
		p := r.chosen[n]
		for _, field := range []struct{ name, value string }{{"Conflicts", p.Conflicts}, {"Breaks", p.Breaks}} {
			rels, err := parseRelations(field.value)
			if err != nil {
				r.fail("%s: %s: %v", p.Reason, field.name, err)
				continue
			}
			for _, alts := range rels {
				for _, a := range alts {
					if q, ok := r.chosen[a.name]; ok && q.Name != p.Name && versionSatisfies(q.ver, a.op, a.version) {
						r.fail("%s: %s %s %s, which is also chosen (%s)", p.Reason, p.String(), verb(field.name), a.name+" "+q.Version, q.Reason)
						continue
					}
					if _, ok := r.chosen[a.name]; !ok {
						if iv, ok := r.installedVersion(a.name); ok {
							v, err := version.Parse(iv)
							if err == nil && versionSatisfies(v, a.op, a.version) {
								r.fail("%s: %s %s %s %s, which the base has installed; use a base without it or a newer one", p.Reason, p.String(), verb(field.name), a.name, iv)
								continue
							}
						}
					}
					if a.op != "" {
						continue // a versioned conflict only hits real packages and versioned provides; keep it simple
					}
					for _, pv := range r.ix.provides[a.name] {
						q, ok := r.chosen[pv.pkg.Name]
						if ok && q.Name != p.Name && q.Version == pv.pkg.Version {
							r.fail("%s: %s %s %s, which %s provides (%s)", p.Reason, p.String(), verb(field.name), a.name, q.String(), q.Reason)
						}
					}
				}
			}
		}
	}
}

// installOrder sorts the chosen packages dependencies-first (cycles, which
// Debian has, are broken by name order), deterministically.
func (r *resolver) installOrder() []*Package {
	names := make([]string, 0, len(r.chosen))
	for n := range r.chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	state := map[string]int{}
	var out []*Package
	var walk func(n string)
	walk = func(n string) {
		if state[n] != 0 {
			return
		}
		state[n] = 1
		deps := append([]string(nil), r.edges[n]...)
		sort.Strings(deps)
		for _, d := range deps {
			if _, ok := r.chosen[d]; ok {
				walk(d)
			}
		}
		state[n] = 2
		out = append(out, r.chosen[n])
	}
	for _, n := range names {
		walk(n)
	}
	return out
}

// verb is how a relation field reads in a message.
func verb(field string) string {
	switch field {
	case "Conflicts":
		return "conflicts with"
	case "Breaks":
		return "breaks"
	}
	return strings.ToLower(field)
}
