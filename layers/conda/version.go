package conda

import (
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Version is a conda version in conda's VersionOrder: an epoch ("1!"), the
// version proper and an optional local part ("+cuda"), each a list of
// components split at '.' (and '_' or '-'), each component a run of
// numerals and letters. Within a component a string sorts below a number,
// except "post", which sorts above everything; "dev" sorts below every
// other string and "_" (openssl's "1.0.1_") between "dev" and letters. A
// component that starts with a letter gets a 0 put before it, so 1.1.a1 ==
// 1.1.0a1; missing components count as 0, so 1.1 == 1.1.0.
type Version struct {
	raw     string
	version [][]part // epoch first
	local   [][]part
}

// part is one run of a component: a number or a string; post is +inf.
type part struct {
	num  *big.Int // nil for a string
	str  string
	post bool
}

var (
	versionCheckRE = lazyregexp.New(`^[*.+!_0-9a-z]+$`)
	versionSplitRE = lazyregexp.New(`[0-9]+|\*+|[^0-9*]+`)
)

// ParseVersion parses s as conda's VersionOrder does.
func ParseVersion(s string) (Version, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "" {
		return Version{}, fmt.Errorf("empty version")
	}
	if !versionCheckRE.MatchString(v) && strings.Contains(v, "-") && !strings.Contains(v, "_") {
		v = strings.ReplaceAll(v, "-", "_") // dashes allowed when there is no underscore
	}
	if !versionCheckRE.MatchString(v) {
		return Version{}, fmt.Errorf("version %q: invalid character(s)", s)
	}
	out := Version{raw: strings.TrimSpace(s)}
	epoch := "0"
	if e, rest, ok := strings.Cut(v, "!"); ok {
		if strings.Contains(rest, "!") {
			return Version{}, fmt.Errorf("version %q: more than one '!'", s)
		}
		if !isDigits(e) {
			return Version{}, fmt.Errorf("version %q: epoch %q must be an integer", s, e)
		}
		epoch, v = e, rest
	}
	main, local, hasLocal := strings.Cut(v, "+")
	if strings.Contains(local, "+") {
		return Version{}, fmt.Errorf("version %q: more than one '+'", s)
	}
	if main == "" {
		return Version{}, fmt.Errorf("version %q: empty version part", s)
	}
	mainComps := splitComponents(main)
	comps, err := parseComponents(s, append([]string{epoch}, mainComps...))
	if err != nil {
		return Version{}, err
	}
	out.version = comps
	if hasLocal {
		if local == "" {
			return Version{}, fmt.Errorf("version %q: empty local version after '+'", s)
		}
		if out.local, err = parseComponents(s, strings.Split(strings.ReplaceAll(local, "_", "."), ".")); err != nil {
			return Version{}, err
		}
	}
	return out, nil
}

// parsedVersions keeps parsed repodata versions: the solver matches the
// same few thousand version strings against specs again and again.
var parsedVersions sync.Map // string -> versionResult

type versionResult struct {
	v   Version
	err error
}

func parseVersionCached(s string) (Version, error) {
	if r, ok := parsedVersions.Load(s); ok {
		vr := r.(versionResult)
		return vr.v, vr.err
	}
	v, err := ParseVersion(s)
	parsedVersions.Store(s, versionResult{v, err})
	return v, err
}

// MustParseVersion is ParseVersion for versions known to be good (tests, tables).
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// splitComponents splits at '.' and '_'; a trailing '_' stays on the last
// component (openssl-like "1.0.1_").
func splitComponents(v string) []string {
	if strings.HasSuffix(v, "_") {
		c := strings.Split(strings.ReplaceAll(v[:len(v)-1], "_", "."), ".")
		c[len(c)-1] += "_"
		return c
	}
	return strings.Split(strings.ReplaceAll(v, "_", "."), ".")
}

func parseComponents(orig string, comps []string) ([][]part, error) {
	out := make([][]part, 0, len(comps))
	for _, c := range comps {
		runs := versionSplitRE.FindAllString(c, -1)
		if len(runs) == 0 {
			return nil, fmt.Errorf("version %q: empty version component", orig)
		}
		var ps []part
		if !isDigit(c[0]) {
			ps = append(ps, part{num: big.NewInt(0)})
		}
		for _, r := range runs {
			switch {
			case isDigit(r[0]):
				n, _ := new(big.Int).SetString(r, 10)
				ps = append(ps, part{num: n})
			case r == "post":
				ps = append(ps, part{post: true})
			case r == "dev":
				ps = append(ps, part{str: "DEV"})
			default:
				ps = append(ps, part{str: r})
			}
		}
		out = append(out, ps)
	}
	return out, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// String is the version as written.
func (v Version) String() string { return v.raw }

// IsZero reports an unset Version.
func (v Version) IsZero() bool { return v.version == nil }

var zeroPart = part{num: big.NewInt(0)}

// comparePart orders two runs: strings < numbers < post.
func comparePart(a, b part) int {
	switch {
	case a.post || b.post:
		return boolCmp(a.post, b.post)
	case a.num != nil && b.num != nil:
		return a.num.Cmp(b.num)
	case a.num == nil && b.num == nil:
		return strings.Compare(a.str, b.str)
	case a.num == nil:
		return -1
	default:
		return 1
	}
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

func compareComponent(a, b []part) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		x, y := zeroPart, zeroPart
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func compareComponents(a, b [][]part) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y []part
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := compareComponent(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// Compare orders v and w: -1, 0 or 1.
func (v Version) Compare(w Version) int {
	if c := compareComponents(v.version, w.version); c != 0 {
		return c
	}
	return compareComponents(v.local, w.local)
}

// StartsWith reports whether v matches prefix as conda's "1.2.*" does: the
// components of prefix but its last are equal, and the last is a prefix of
// v's component there (numbers equal, a string a string prefix).
func (v Version) StartsWith(prefix Version) bool {
	t1, t2 := v.version, prefix.version
	if prefix.local != nil {
		if compareComponents(v.version, prefix.version) != 0 {
			return false
		}
		t1, t2 = v.local, prefix.local
	}
	nt := len(t2) - 1
	if compareComponents(head(t1, nt), t2[:nt]) != 0 {
		return false
	}
	c1 := []part{zeroPart}
	if len(t1) > nt {
		c1 = t1[nt]
	}
	c2 := t2[nt]
	nc := len(c2) - 1
	if compareComponent(headParts(c1, nc), c2[:nc]) != 0 {
		return false
	}
	d1 := zeroPart
	if len(c1) > nc {
		d1 = c1[nc]
	}
	d2 := c2[nc]
	if d2.num == nil && !d2.post {
		return d1.num == nil && !d1.post && strings.HasPrefix(d1.str, d2.str)
	}
	return comparePart(d1, d2) == 0
}

func head(c [][]part, n int) [][]part {
	if len(c) < n {
		return c
	}
	return c[:n]
}

func headParts(c []part, n int) []part {
	if len(c) < n {
		return c
	}
	return c[:n]
}

// withoutLast is v with its last component dropped ("1.2.3" -> "1.2"), for
// the compatible-release operator.
func (v Version) withoutLast() Version {
	w := v
	w.local = nil
	if len(v.version) > 2 {
		w.version = v.version[:len(v.version)-1]
	}
	return w
}
