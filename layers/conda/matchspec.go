package conda

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// VersionSpec is a parsed version constraint: "1.2.*", ">=1.8,<2|1.7.1",
// "!=1.3", "~=1.4.2", a glob "1.*.3" or "*". ',' binds tighter than '|';
// parentheses group.
type VersionSpec struct {
	raw  string
	tree vnode
}

type vnode interface {
	match(v Version, raw string) bool
}

type vand []vnode
type vor []vnode

func (a vand) match(v Version, raw string) bool {
	for _, n := range a {
		if !n.match(v, raw) {
			return false
		}
	}
	return true
}

func (o vor) match(v Version, raw string) bool {
	for _, n := range o {
		if n.match(v, raw) {
			return true
		}
	}
	return false
}

// vrel is one operator and version.
type vrel struct {
	op string // "==", "!=", "<", "<=", ">", ">=", "~=", "=*" (starts with), "!=*"
	v  Version
}

func (r vrel) match(v Version, _ string) bool {
	c := v.Compare(r.v)
	switch r.op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "~=":
		return c >= 0 && v.StartsWith(r.v.withoutLast())
	case "=*":
		return v.StartsWith(r.v)
	case "!=*":
		return !v.StartsWith(r.v)
	}
	return false
}

// vglob matches the version string against a pattern with '*' inside.
type vglob struct{ re *regexp.Regexp }

func (g vglob) match(_ Version, raw string) bool { return g.re.MatchString(raw) }

type vany struct{}

func (vany) match(Version, string) bool { return true }

// vexact is "@" versions (matched as strings, as conda does).
type vexact string

func (e vexact) match(_ Version, raw string) bool { return string(e) == raw }

var versionRelRE = lazyregexp.New(`^(=|==|!=|<=|>=|<|>|~=)([^=<>!~].*)$`)

// ParseVersionSpec parses a version constraint.
func ParseVersionSpec(s string) (*VersionSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty version spec")
	}
	p := &vparser{s: s}
	tree, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("version spec %q: %w", s, err)
	}
	if p.i < len(p.s) {
		return nil, fmt.Errorf("version spec %q: unexpected %q", s, p.s[p.i:])
	}
	return &VersionSpec{raw: s, tree: tree}, nil
}

// String is the spec as written.
func (s *VersionSpec) String() string { return s.raw }

// Match reports whether version (as a repodata record writes it) satisfies s.
func (s *VersionSpec) Match(version string) bool {
	v, err := parseVersionCached(version)
	if err != nil {
		return false
	}
	return s.tree.match(v, version)
}

// MatchVersion is Match for a parsed version.
func (s *VersionSpec) MatchVersion(v Version) bool { return s.tree.match(v, v.raw) }

type vparser struct {
	s string
	i int
}

func (p *vparser) or() (vnode, error) {
	var alts vor
	for {
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
		if p.i < len(p.s) && p.s[p.i] == '|' {
			p.i++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alts, nil
}

func (p *vparser) and() (vnode, error) {
	var all vand
	for {
		n, err := p.atom()
		if err != nil {
			return nil, err
		}
		all = append(all, n)
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		break
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

func (p *vparser) atom() (vnode, error) {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing ')'")
		}
		p.i++
		p.skipSpace()
		return n, nil
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",|()", rune(p.s[p.i])) {
		p.i++
	}
	tok := strings.TrimSpace(p.s[start:p.i])
	if tok == "" {
		return nil, fmt.Errorf("empty constraint at offset %d", start)
	}
	return parseConstraint(tok)
}

func (p *vparser) skipSpace() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// parseConstraint parses one operator-and-version, as conda's VersionSpec
// matcher does.
func parseConstraint(tok string) (vnode, error) {
	if tok == "*" || tok == "*.*" {
		return vany{}, nil
	}
	if strings.ContainsAny(tok[:1], "=<>!~") {
		m := versionRelRE.FindStringSubmatch(tok)
		if m == nil {
			return nil, fmt.Errorf("%q: invalid operator", tok)
		}
		op, vs := m[1], strings.TrimSpace(m[2])
		if star := strings.HasSuffix(vs, "*"); star {
			vs = strings.TrimSuffix(strings.TrimSuffix(vs, "*"), ".")
			switch op {
			case "=", "==":
				op = "=*"
			case "!=":
				op = "!=*"
			case "~=":
				return nil, fmt.Errorf("%q: ~= cannot take a '*'", tok)
			}
		}
		if op == "=" {
			op = "=*"
		}
		v, err := ParseVersion(vs)
		if err != nil {
			return nil, err
		}
		if op == "~=" && len(v.version) < 3 {
			return nil, fmt.Errorf("%q: ~= needs at least two version components", tok)
		}
		return vrel{op: op, v: v}, nil
	}
	if strings.Contains(strings.TrimRight(tok, "*"), "*") {
		q := regexp.QuoteMeta(tok)
		re, err := regexp.Compile("^(?:" + strings.ReplaceAll(q, `\*`, ".*") + ")$")
		if err != nil {
			return nil, err
		}
		return vglob{re}, nil
	}
	if strings.HasSuffix(tok, "*") {
		v, err := ParseVersion(strings.TrimSuffix(strings.TrimSuffix(tok, "*"), "."))
		if err != nil {
			return nil, err
		}
		return vrel{op: "=*", v: v}, nil
	}
	if strings.Contains(tok, "@") {
		return vexact(tok), nil
	}
	v, err := ParseVersion(tok)
	if err != nil {
		return nil, err
	}
	return vrel{op: "==", v: v}, nil
}

// MatchSpec is a parsed conda MatchSpec: "numpy >=1.8,<2 py3*",
// "conda-forge::python=3.11", "pkgs/main/linux-64::zlib", "numpy[version='>=1.8',
// build_number='>2']".
type MatchSpec struct {
	Name        string
	Version     *VersionSpec // nil: any
	Build       string       // glob; "": any
	BuildNumber *numSpec
	// Channel is the channel name or URL the package must come from.
	Channel string
	Subdir  string
	SHA256  string
	MD5     string
	raw     string
}

// numSpec is a build_number constraint: an operator and an integer.
type numSpec struct {
	op string
	n  int
}

func (n *numSpec) match(x int) bool {
	switch n.op {
	case "==", "=", "":
		return x == n.n
	case "!=":
		return x != n.n
	case "<":
		return x < n.n
	case "<=":
		return x <= n.n
	case ">":
		return x > n.n
	case ">=":
		return x >= n.n
	}
	return false
}

var (
	nameSplitRE    = lazyregexp.New(`^([^ =<>!~]+)?([><!=~ ].*)?$`)
	bracketRE      = lazyregexp.New(`^(.*)\[([^\[\]]*)\]\s*$`)
	bracketKVRE    = lazyregexp.New(`^\s*([a-z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^,'"]*?))\s*(?:,|$)`)
	buildNumRE     = lazyregexp.New(`^(==|!=|<=|>=|<|>|=)?\s*(\d+)$`)
	versionBuildRE = lazyregexp.New(`^(.*?[^=<>!~ ,|])(?:\s*[ =]\s*([^=<>!~ ,|]+))?$`)
	knownSubdirs   = map[string]bool{"noarch": true, "linux-64": true, "linux-aarch64": true, "linux-ppc64le": true, "linux-s390x": true, "linux-32": true, "linux-armv7l": true, "osx-64": true, "osx-arm64": true, "win-64": true, "win-32": true, "win-arm64": true}
)

// ParseMatchSpec parses one MatchSpec as conda writes them.
func ParseMatchSpec(s string) (*MatchSpec, error) {
	m, err := parseMatchSpec(s)
	if err != nil {
		return nil, fmt.Errorf("match spec %q: %w", strings.TrimSpace(s), err)
	}
	return m, nil
}

func parseMatchSpec(s string) (*MatchSpec, error) {
	if i := strings.Index(s, "#"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty")
	}
	ms := &MatchSpec{raw: s}
	brackets := map[string]string{}
	if b := bracketRE.FindStringSubmatch(s); b != nil {
		kv, err := parseBrackets(b[2])
		if err != nil {
			return nil, err
		}
		brackets, s = kv, strings.TrimSpace(b[1])
	}
	if ch, rest, ok := strings.Cut(s, "::"); ok {
		ms.Channel, s = ch, rest
		if i := strings.LastIndex(ch, "/"); i >= 0 && knownSubdirs[ch[i+1:]] {
			ms.Channel, ms.Subdir = ch[:i], ch[i+1:]
		}
		if ms.Channel == "" {
			return nil, fmt.Errorf("empty channel before '::'")
		}
	}
	parts := nameSplitRE.FindStringSubmatch(s)
	if parts == nil || parts[1] == "" {
		return nil, fmt.Errorf("no package name")
	}
	ms.Name = strings.ToLower(parts[1])
	if !validName(ms.Name) {
		return nil, fmt.Errorf("invalid package name %q", parts[1])
	}
	if rest := strings.TrimSpace(parts[2]); rest != "" {
		if err := ms.versionAndBuild(rest); err != nil {
			return nil, err
		}
	}
	return ms, ms.applyBrackets(brackets)
}

func validName(n string) bool {
	if n == "*" {
		return true
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+", r)) {
			return false
		}
	}
	return true
}

// versionAndBuild parses what follows the name: "=1.8", "==1.8", "1.8 py_0",
// "=1.8=py_0", ">=1.8,<2", "1.8.*".
func (ms *MatchSpec) versionAndBuild(rest string) error {
	version, build := rest, ""
	if strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==") {
		// name=version[=build]
		if v, b, ok := strings.Cut(rest[1:], "="); ok && !strings.ContainsAny(b, "=<>!") {
			version, build = "="+v, b
		}
	} else if m := versionBuildRE.FindStringSubmatch(rest); m != nil && m[2] != "" && !strings.ContainsAny(m[2], "<>!") {
		version, build = m[1], m[2]
	}
	version = strings.TrimSpace(version)
	switch {
	case version == "=" || version == "==" || version == "":
		return fmt.Errorf("missing version after %q", version)
	case strings.HasPrefix(version, "==") && build == "" && !strings.ContainsAny(version[2:], ",|"):
		version = version[2:]
	case strings.HasPrefix(version, "=") && !strings.HasPrefix(version, "=="):
		t := version[1:]
		if !strings.ContainsAny(t, "=,|") {
			if build == "" && !strings.HasSuffix(t, "*") {
				version = t + "*"
			} else {
				version = t
			}
		}
	}
	vs, err := ParseVersionSpec(version)
	if err != nil {
		return err
	}
	ms.Version = vs
	ms.Build = build
	return nil
}

func parseBrackets(s string) (map[string]string, error) {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		m := bracketRE2(s)
		if m == nil {
			return nil, fmt.Errorf("bad bracket syntax at %q (want key=value, ...)", s)
		}
		out[m[1]] = m[2] + m[3] + m[4]
		s = s[len(m[0]):]
	}
	return out, nil
}

func bracketRE2(s string) []string { return bracketKVRE.FindStringSubmatch(s) }

func (ms *MatchSpec) applyBrackets(kv map[string]string) error {
	for k, v := range kv {
		v = strings.TrimSpace(v)
		switch k {
		case "version":
			vs, err := ParseVersionSpec(v)
			if err != nil {
				return err
			}
			ms.Version = vs
		case "build":
			ms.Build = v
		case "build_number":
			m := buildNumRE.FindStringSubmatch(v)
			if m == nil {
				return fmt.Errorf("build_number %q: want an integer with an optional operator", v)
			}
			n, _ := strconv.Atoi(m[2])
			ms.BuildNumber = &numSpec{op: m[1], n: n}
		case "channel":
			ms.Channel = v
		case "subdir":
			ms.Subdir = v
		case "sha256":
			ms.SHA256 = strings.ToLower(v)
		case "md5":
			ms.MD5 = strings.ToLower(v)
		case "fn", "url", "license", "track_features", "features", "license_family", "name":
			// Accepted and not used for matching here.
		default:
			return fmt.Errorf("unknown bracket key %q", k)
		}
	}
	return nil
}

// String is the spec as written.
func (ms *MatchSpec) String() string { return ms.raw }

// Match reports whether r satisfies ms (its channel is checked by the
// caller, which knows the channels' canonical names).
func (ms *MatchSpec) Match(r *Record) bool {
	if ms.Name != "*" && ms.Name != r.Name {
		return false
	}
	return ms.matchRest(r)
}

func (ms *MatchSpec) matchRest(r *Record) bool {
	if ms.Version != nil && !ms.Version.Match(r.Version) {
		return false
	}
	if ms.Build != "" && !globMatch(ms.Build, r.Build) {
		return false
	}
	if ms.BuildNumber != nil && !ms.BuildNumber.match(r.BuildNumber) {
		return false
	}
	if ms.Subdir != "" && r.Subdir != "" && ms.Subdir != r.Subdir {
		return false
	}
	if ms.SHA256 != "" && ms.SHA256 != r.SHA256 || ms.MD5 != "" && ms.MD5 != r.MD5 {
		return false
	}
	return true
}

// globMatch matches conda's build-string globs ('*' any run); a pattern
// that path.Match cannot read is compared as a string.
func globMatch(pat, s string) bool {
	if ok, err := path.Match(pat, s); err == nil {
		return ok
	}
	return pat == s
}
