package wheel

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Version is a PEP 440 version.
type Version struct {
	Epoch   int
	Release []int
	PreL    string // "a", "b", "rc" or "" when not a pre-release
	PreN    int
	Post    int // -1 when absent
	Dev     int // -1 when absent
	Local   []string
	raw     string
}

// versionRE is packaging's VERSION_PATTERN.
var versionRE = lazyregexp.New(`(?i)^\s*v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[-_\.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_\.]?(?P<pre_n>[0-9]+)?)?` +
	`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?` +
	`(?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?` +
	`\s*$`)

var localSepRE = lazyregexp.New(`[-_.]`)

// ParseVersion parses a PEP 440 version.
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("invalid version %q (not PEP 440)", s)
	}
	g := func(name string) string { return m[versionRE.SubexpIndex(name)] }
	atoi := func(s string) (int, error) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("invalid version %q: number too large", s)
		}
		return n, nil
	}
	v := Version{Post: -1, Dev: -1, raw: strings.TrimSpace(s)}
	var err error
	if v.Epoch, err = atoi(g("epoch")); err != nil {
		return Version{}, err
	}
	for _, p := range strings.Split(g("release"), ".") {
		n, err := atoi(p)
		if err != nil {
			return Version{}, err
		}
		v.Release = append(v.Release, n)
	}
	if l := strings.ToLower(g("pre_l")); l != "" {
		switch l {
		case "alpha":
			l = "a"
		case "beta":
			l = "b"
		case "c", "pre", "preview":
			l = "rc"
		}
		v.PreL = l
		if v.PreN, err = atoi(g("pre_n")); err != nil {
			return Version{}, err
		}
	}
	if g("post") != "" {
		n := g("post_n1")
		if n == "" {
			n = g("post_n2")
		}
		if v.Post, err = atoi(n); err != nil {
			return Version{}, err
		}
	}
	if g("dev") != "" {
		if v.Dev, err = atoi(g("dev_n")); err != nil {
			return Version{}, err
		}
	}
	if l := g("local"); l != "" {
		v.Local = localSepRE.Split(strings.ToLower(l), -1)
	}
	return v, nil
}

// String is the normalized form ("1.0rc1.post2.dev3+local").
func (v Version) String() string {
	if len(v.Local) > 0 {
		return v.Public() + "+" + strings.Join(v.Local, ".")
	}
	return v.Public()
}

// Public is the version without its local label.
func (v Version) Public() string {
	var b strings.Builder
	if v.Epoch != 0 {
		fmt.Fprintf(&b, "%d!", v.Epoch)
	}
	for i, r := range v.Release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(r))
	}
	if v.PreL != "" {
		fmt.Fprintf(&b, "%s%d", v.PreL, v.PreN)
	}
	if v.Post >= 0 {
		fmt.Fprintf(&b, ".post%d", v.Post)
	}
	if v.Dev >= 0 {
		fmt.Fprintf(&b, ".dev%d", v.Dev)
	}
	return b.String()
}

// IsPrerelease reports a pre-release or development release.
func (v Version) IsPrerelease() bool { return v.PreL != "" || v.Dev >= 0 }

// IsPostrelease reports a post-release.
func (v Version) IsPostrelease() bool { return v.Post >= 0 }

func (v Version) base() Version {
	return Version{Epoch: v.Epoch, Release: v.Release, Post: -1, Dev: -1}
}

func (v Version) withoutLocal() Version {
	v.Local = nil
	return v
}

// Compare orders versions as PEP 440 does: -1, 0 or 1.
func (v Version) Compare(o Version) int {
	if c := cmpInt(v.Epoch, o.Epoch); c != 0 {
		return c
	}
	n := max(len(v.Release), len(o.Release))
	for i := 0; i < n; i++ {
		if c := cmpInt(at(v.Release, i), at(o.Release, i)); c != 0 {
			return c
		}
	}
	if c := cmpInt(v.preRank(), o.preRank()); c != 0 {
		return c
	}
	if v.PreL != "" && o.PreL != "" {
		if c := cmpInt(v.PreN, o.PreN); c != 0 {
			return c
		}
	}
	if c := cmpInt(v.Post, o.Post); c != 0 { // -1 (absent) sorts first
		return c
	}
	if c := cmpInt(devKey(v.Dev), devKey(o.Dev)); c != 0 {
		return c
	}
	return cmpLocal(v.Local, o.Local)
}

// preRank: a dev release without pre or post sorts before any pre-release,
// then a < b < rc, then a final release.
func (v Version) preRank() int {
	switch {
	case v.PreL == "" && v.Post < 0 && v.Dev >= 0:
		return 0
	case v.PreL == "a":
		return 1
	case v.PreL == "b":
		return 2
	case v.PreL == "rc":
		return 3
	}
	return 4
}

func devKey(d int) int {
	if d < 0 {
		return int(^uint(0) >> 1)
	}
	return d
}

func cmpLocal(a, b []string) int {
	if a == nil && b == nil {
		return 0
	}
	if a == nil {
		return -1
	}
	if b == nil {
		return 1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		ai, aerr := strconv.Atoi(a[i])
		bi, berr := strconv.Atoi(b[i])
		switch {
		case aerr == nil && berr == nil:
			if c := cmpInt(ai, bi); c != 0 {
				return c
			}
		case aerr == nil: // numeric segments sort after alphanumeric ones
			return 1
		case berr == nil:
			return -1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return cmpInt(len(a), len(b))
}

func at(s []int, i int) int {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Specifier is one PEP 440 version clause ("~=1.4", "!=2.0.*").
type Specifier struct {
	Op       string
	Version  string // as written, without a trailing ".*"
	Wildcard bool
	v        Version
}

func (s Specifier) String() string {
	if s.Wildcard {
		return s.Op + s.Version + ".*"
	}
	return s.Op + s.Version
}

// Specifiers is a comma-separated set of clauses, all of which must hold.
type Specifiers []Specifier

func (ss Specifiers) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

var specRE = lazyregexp.New(`^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]*)\s*$`)

// ParseSpecifiers parses "~=1.4,!=1.5.*" (an empty string allows any version).
func ParseSpecifiers(s string) (Specifiers, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out Specifiers
	for _, part := range strings.Split(s, ",") {
		m := specRE.FindStringSubmatch(part)
		if m == nil || m[2] == "" {
			return nil, fmt.Errorf("invalid version specifier %q", strings.TrimSpace(part))
		}
		sp := Specifier{Op: m[1], Version: m[2]}
		if sp.Op == "===" {
			out = append(out, sp)
			continue
		}
		if strings.HasSuffix(sp.Version, ".*") {
			if sp.Op != "==" && sp.Op != "!=" {
				return nil, fmt.Errorf("invalid version specifier %q: \".*\" only goes with == and !=", strings.TrimSpace(part))
			}
			sp.Wildcard = true
			sp.Version = strings.TrimSuffix(sp.Version, ".*")
		}
		v, err := ParseVersion(sp.Version)
		if err != nil {
			return nil, fmt.Errorf("invalid version specifier %q: %w", strings.TrimSpace(part), err)
		}
		if len(v.Local) > 0 && sp.Op != "==" && sp.Op != "!=" {
			return nil, fmt.Errorf("invalid version specifier %q: a local version only goes with == and !=", strings.TrimSpace(part))
		}
		if sp.Op == "~=" && len(v.Release) < 2 {
			return nil, fmt.Errorf("invalid version specifier %q: ~= needs at least two release numbers", strings.TrimSpace(part))
		}
		sp.v = v
		out = append(out, sp)
	}
	return out, nil
}

// Contains reports whether v satisfies the clause (ignoring pre-release policy).
func (s Specifier) Contains(v Version) bool {
	switch s.Op {
	case "===":
		return strings.EqualFold(v.raw, s.Version) || strings.EqualFold(v.String(), s.Version)
	case "==":
		return s.equal(v)
	case "!=":
		return !s.equal(v)
	case "~=":
		prefix := Specifier{Op: "==", Wildcard: true, v: Version{Epoch: s.v.Epoch, Release: s.v.Release[:len(s.v.Release)-1], Post: -1, Dev: -1}}
		return v.withoutLocal().Compare(s.v) >= 0 && prefix.equal(v)
	case "<=":
		return v.withoutLocal().Compare(s.v) <= 0
	case ">=":
		return v.withoutLocal().Compare(s.v) >= 0
	case "<":
		if v.withoutLocal().Compare(s.v) >= 0 {
			return false
		}
		if !s.v.IsPrerelease() && v.IsPrerelease() && v.base().Compare(s.v.base()) == 0 {
			return false
		}
		return true
	case ">":
		if v.withoutLocal().Compare(s.v) <= 0 {
			return false
		}
		if !s.v.IsPostrelease() && v.IsPostrelease() && v.base().Compare(s.v.base()) == 0 {
			return false
		}
		if len(v.Local) > 0 && v.base().Compare(s.v.base()) == 0 {
			return false
		}
		return true
	}
	return false
}

func (s Specifier) equal(v Version) bool {
	if s.Wildcard {
		if v.Epoch != s.v.Epoch {
			return false
		}
		for i, r := range s.v.Release {
			if at(v.Release, i) != r {
				return false
			}
		}
		// A wildcard with a pre/post/dev suffix ("==1.0rc1.*") compares those too.
		if s.v.PreL != "" && (v.PreL != s.v.PreL || v.PreN != s.v.PreN) {
			return false
		}
		if s.v.Post >= 0 && v.Post != s.v.Post {
			return false
		}
		return true
	}
	if len(s.v.Local) == 0 {
		return v.withoutLocal().Compare(s.v) == 0
	}
	return v.Compare(s.v) == 0
}

// allowsPrereleases reports whether the set names a pre-release itself,
// which lets pre-releases match (packaging's Specifier.prereleases).
func (ss Specifiers) allowsPrereleases() bool {
	for _, s := range ss {
		switch s.Op {
		case "==", ">=", "<=", "~=", "===", ">", "<":
			if s.Op != "===" && s.v.IsPrerelease() {
				return true
			}
		}
	}
	return false
}

// Contains reports whether v satisfies every clause, with pre-releases
// allowed only when pre is true or a clause names a pre-release.
func (ss Specifiers) Contains(v Version, pre bool) bool {
	if v.IsPrerelease() && !pre && !ss.allowsPrereleases() {
		return false
	}
	for _, s := range ss {
		if !s.Contains(v) {
			return false
		}
	}
	return true
}

// Filter returns the versions in vs that satisfy the set, as packaging's
// SpecifierSet.filter does: pre-releases are kept only when allowed, or when
// no final release matches at all.
func (ss Specifiers) Filter(vs []Version, pre bool) []Version {
	var finals, pres []Version
	for _, v := range vs {
		if !ss.Contains(v, true) {
			continue
		}
		if v.IsPrerelease() && !pre && !ss.allowsPrereleases() {
			pres = append(pres, v)
			continue
		}
		finals = append(finals, v)
	}
	if len(finals) == 0 {
		return pres
	}
	return finals
}

// IsPinned reports whether the set pins one exact version (== without a wildcard, or ===).
func (ss Specifiers) IsPinned() bool {
	for _, s := range ss {
		if (s.Op == "==" && !s.Wildcard) || s.Op == "===" {
			return true
		}
	}
	return false
}
