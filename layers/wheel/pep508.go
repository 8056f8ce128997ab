package wheel

import (
	"fmt"
	"slices"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/internal/redact"
)

// Requirement is one PEP 508 requirement, with where it came from.
type Requirement struct {
	// Name as written; Key() is the normalized form used for matching.
	Name      string
	Extras    []string // normalized, sorted
	Specifier Specifiers
	// URL is a direct reference ("name @ https://…/x.whl" or a bare wheel URL or path).
	URL    string
	Marker *Marker
	// Hashes are the allowed "sha256:<hex>" digests (--hash options).
	Hashes []string
	// Source is "file:line" for requirements files, or who asked for it
	// ("pkg 1.0") for dependencies.
	Source string
}

// Key is the PEP 503 normalized name.
func (r Requirement) Key() string { return NormalizeName(r.Name) }

func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	if r.URL != "" {
		b.WriteString(" @ " + redact.Password(r.URL))
	} else {
		b.WriteString(r.Specifier.String())
	}
	if r.Marker != nil {
		b.WriteString("; " + r.Marker.String())
	}
	return b.String()
}

// NormalizeName is the PEP 503 normalized form of a project name: runs of
// "-", "_" and "." become one "-", letters lower case. Written out rather
// than as a regexp: a resolution normalizes thousands of names.
func NormalizeName(s string) string {
	if normalized(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteRune(r)
	}
	if sep {
		b.WriteByte('-')
	}
	return strings.ToLower(b.String())
}

// normalized reports whether s is already in normalized form (ASCII, no
// upper case, no "_" or ".", no "--").
func normalized(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || ('A' <= c && c <= 'Z') || c == '_' || c == '.' || (c == '-' && i > 0 && s[i-1] == '-') {
			return false
		}
	}
	return true
}

var nameRE = lazyregexp.New(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)

// ParseRequirement parses one PEP 508 requirement string.
func ParseRequirement(s string) (Requirement, error) {
	in := strings.TrimSpace(s)
	var r Requirement
	name := nameRE.FindString(in)
	if name == "" {
		return r, fmt.Errorf("invalid requirement %q: expected a project name", s)
	}
	r.Name = name
	rest := strings.TrimLeft(in[len(name):], " \t")
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("invalid requirement %q: unclosed \"[\" in extras", s)
		}
		for _, e := range strings.Split(rest[1:end], ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if nameRE.FindString(e) != e {
				return r, fmt.Errorf("invalid requirement %q: bad extra name %q", s, e)
			}
			r.Extras = append(r.Extras, NormalizeName(e))
		}
		slices.Sort(r.Extras)
		r.Extras = slices.Compact(r.Extras)
		rest = strings.TrimLeft(rest[end+1:], " \t")
	}
	var marker string
	hasMarker := false
	if strings.HasPrefix(rest, "@") {
		rest = strings.TrimLeft(rest[1:], " \t")
		url := rest
		if i := strings.IndexAny(rest, " \t"); i >= 0 {
			url = rest[:i]
			rest = strings.TrimLeft(rest[i:], " \t")
			if rest != "" && !strings.HasPrefix(rest, ";") {
				return r, fmt.Errorf("invalid requirement %q: unexpected %q after the URL", s, rest)
			}
			if rest != "" {
				marker, hasMarker = rest[1:], true
			}
		}
		if url == "" {
			return r, fmt.Errorf("invalid requirement %q: \"@\" without a URL", s)
		}
		r.URL = url
	} else {
		spec := rest
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			spec, marker, hasMarker = rest[:i], rest[i+1:], true
		}
		spec = strings.TrimSpace(spec)
		if strings.HasPrefix(spec, "(") {
			if !strings.HasSuffix(spec, ")") {
				return r, fmt.Errorf("invalid requirement %q: unclosed \"(\"", s)
			}
			spec = spec[1 : len(spec)-1]
		}
		ss, err := ParseSpecifiers(spec)
		if err != nil {
			return r, fmt.Errorf("invalid requirement %q: %w", s, err)
		}
		r.Specifier = ss
	}
	if hasMarker {
		if strings.TrimSpace(marker) == "" {
			return r, fmt.Errorf("invalid requirement %q: empty marker after \";\"", s)
		}
		m, err := ParseMarker(marker)
		if err != nil {
			return r, fmt.Errorf("invalid requirement %q: %w", s, err)
		}
		r.Marker = m
	}
	return r, nil
}

// Marker is a parsed PEP 508 environment marker.
type Marker struct {
	src  string
	expr markerExpr
}

func (m *Marker) String() string { return m.src }

// Evaluate evaluates the marker in env (see Target.MarkerEnv).
func (m *Marker) Evaluate(env map[string]string) (bool, error) {
	if m == nil {
		return true, nil
	}
	return m.expr.eval(env)
}

type markerExpr interface {
	eval(env map[string]string) (bool, error)
}

type boolExpr struct {
	and  bool
	l, r markerExpr
}

func (b boolExpr) eval(env map[string]string) (bool, error) {
	l, err := b.l.eval(env)
	if err != nil {
		return false, err
	}
	if b.and && !l {
		return false, nil
	}
	if !b.and && l {
		return true, nil
	}
	return b.r.eval(env)
}

type markerValue struct {
	isVar bool
	s     string
}

type cmpExpr struct {
	op   string
	l, r markerValue
}

var markerVars = map[string]string{
	"os_name": "os_name", "sys_platform": "sys_platform", "platform_machine": "platform_machine",
	"platform_python_implementation": "platform_python_implementation", "platform_release": "platform_release",
	"platform_system": "platform_system", "platform_version": "platform_version", "python_version": "python_version",
	"python_full_version": "python_full_version", "implementation_name": "implementation_name",
	"implementation_version": "implementation_version", "extra": "extra",
	// Legacy (PEP 345) spellings still accepted by packaging.
	"os.name": "os_name", "sys.platform": "sys_platform", "platform.version": "platform_version",
	"platform.machine": "platform_machine", "platform.python_implementation": "platform_python_implementation",
	"python_implementation": "platform_python_implementation",
}

func (c cmpExpr) eval(env map[string]string) (bool, error) {
	val := func(v markerValue) string {
		if v.isVar {
			return env[v.s]
		}
		return v.s
	}
	l, r := val(c.l), val(c.r)
	if (c.l.isVar && c.l.s == "extra") || (c.r.isVar && c.r.s == "extra") {
		l, r = NormalizeName(l), NormalizeName(r)
	}
	switch c.op {
	case "in":
		return strings.Contains(r, l), nil
	case "not in":
		return !strings.Contains(r, l), nil
	}
	if specs, err := ParseSpecifiers(c.op + r); err == nil {
		if v, err := ParseVersion(l); err == nil {
			return specs[0].Contains(v), nil
		}
	}
	switch c.op {
	case "==", "===":
		return l == r, nil
	case "!=":
		return l != r, nil
	case "<":
		return l < r, nil
	case "<=":
		return l <= r, nil
	case ">":
		return l > r, nil
	case ">=":
		return l >= r, nil
	}
	return false, fmt.Errorf("marker %q: cannot compare %q and %q with %s", c.String(), l, r, c.op)
}

func (c cmpExpr) String() string {
	q := func(v markerValue) string {
		if v.isVar {
			return v.s
		}
		return `"` + v.s + `"`
	}
	return q(c.l) + " " + c.op + " " + q(c.r)
}

// ParseMarker parses a PEP 508 marker expression.
func ParseMarker(s string) (*Marker, error) {
	toks, err := tokenizeMarker(s)
	if err != nil {
		return nil, err
	}
	p := &markerParser{toks: toks, src: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("marker %q: unexpected %q", strings.TrimSpace(s), p.toks[p.i].s)
	}
	return &Marker{src: strings.TrimSpace(s), expr: e}, nil
}

type markerTok struct {
	kind byte // 's' string, 'v' variable, 'o' operator, '(' ')' 'a' and 'r' or
	s    string
}

func tokenizeMarker(s string) ([]markerTok, error) {
	var toks []markerTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, markerTok{kind: c, s: string(c)})
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("marker %q: unterminated string", strings.TrimSpace(s))
			}
			toks = append(toks, markerTok{kind: 's', s: s[i+1 : i+1+end]})
			i += end + 2
		case strings.ContainsRune("<>=!~", rune(c)):
			j := i
			for j < len(s) && strings.ContainsRune("<>=!~", rune(s[j])) {
				j++
			}
			op := s[i:j]
			switch op {
			case "<", "<=", "==", "!=", ">=", ">", "~=", "===":
			default:
				return nil, fmt.Errorf("marker %q: unknown operator %q", strings.TrimSpace(s), op)
			}
			toks = append(toks, markerTok{kind: 'o', s: op})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '.') {
				j++
			}
			w := s[i:j]
			i = j
			switch w {
			case "and":
				toks = append(toks, markerTok{kind: 'a', s: w})
			case "or":
				toks = append(toks, markerTok{kind: 'r', s: w})
			case "in":
				toks = append(toks, markerTok{kind: 'o', s: "in"})
			case "not":
				rest := strings.TrimLeft(s[i:], " \t")
				if !strings.HasPrefix(rest, "in") || (len(rest) > 2 && isIdentByte(rest[2])) {
					return nil, fmt.Errorf("marker %q: \"not\" must be followed by \"in\"", strings.TrimSpace(s))
				}
				i = len(s) - len(rest) + 2
				toks = append(toks, markerTok{kind: 'o', s: "not in"})
			default:
				name, ok := markerVars[w]
				if !ok {
					return nil, fmt.Errorf("marker %q: unknown variable %q", strings.TrimSpace(s), w)
				}
				toks = append(toks, markerTok{kind: 'v', s: name})
			}
		default:
			return nil, fmt.Errorf("marker %q: unexpected character %q", strings.TrimSpace(s), c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

type markerParser struct {
	toks []markerTok
	i    int
	src  string
}

func (p *markerParser) peek() byte {
	if p.i < len(p.toks) {
		return p.toks[p.i].kind
	}
	return 0
}

func (p *markerParser) or() (markerExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == 'r' {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = boolExpr{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *markerParser) and() (markerExpr, error) {
	l, err := p.atom()
	if err != nil {
		return nil, err
	}
	for p.peek() == 'a' {
		p.i++
		r, err := p.atom()
		if err != nil {
			return nil, err
		}
		l = boolExpr{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *markerParser) atom() (markerExpr, error) {
	if p.peek() == '(' {
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("marker %q: missing \")\"", strings.TrimSpace(p.src))
		}
		p.i++
		return e, nil
	}
	l, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.peek() != 'o' {
		return nil, fmt.Errorf("marker %q: expected an operator after %q", strings.TrimSpace(p.src), l.s)
	}
	op := p.toks[p.i].s
	p.i++
	r, err := p.value()
	if err != nil {
		return nil, err
	}
	return cmpExpr{op: op, l: l, r: r}, nil
}

func (p *markerParser) value() (markerValue, error) {
	switch p.peek() {
	case 's':
		p.i++
		return markerValue{s: p.toks[p.i-1].s}, nil
	case 'v':
		p.i++
		return markerValue{isVar: true, s: p.toks[p.i-1].s}, nil
	}
	return markerValue{}, fmt.Errorf("marker %q: expected a variable or a quoted string", strings.TrimSpace(p.src))
}
