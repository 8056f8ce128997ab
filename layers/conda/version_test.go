package conda

import (
	"testing"
)

// conda's documented VersionOrder (conda/models/version.py), each entry
// below the next; "=" marks one equal to the entry before it.
var orderedVersions = []string{
	"0.4", "=0.4.0", "0.4.1.rc", "=0.4.1.RC", "0.4.1", "0.5a1", "0.5b3", "0.5C1", "0.5", "0.9.6", "0.960923",
	"1.0", "1.1dev1", "1.1_", "1.1a1", "1.1.0dev1", "=1.1.dev1", "1.1.a1", "1.1.0rc1", "1.1.0", "=1.1",
	"1.1.0post1", "=1.1.post1", "1.1post1", "1996.07.12", "1!0.4.1", "1!3.1.1.6", "2!0.4.1",
}

func TestVersionOrder(t *testing.T) {
	var prev Version
	for i, s := range orderedVersions {
		eq := s[0] == '='
		if eq {
			s = s[1:]
		}
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if i > 0 {
			want := -1
			if eq {
				want = 0
			}
			if got := prev.Compare(v); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", prev, v, got, want)
			}
			if got := v.Compare(prev); got != -want {
				t.Errorf("compare(%s, %s) = %d, want %d", v, prev, got, -want)
			}
		}
		prev = v
	}
}

// More from conda's and rattler's tests: local versions, dashes, openssl
// letters, big numbers, and what is refused.
func TestVersionCompareMore(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0+abc", "1.0", -1}, // as conda: "abc" is below the padded 0
		{"1.0+abc.2", "1.0+abc.1", 1},
		{"1.0-1", "1.0_1", 0},
		{"1.0.1a", "1.0.1", -1}, // a string below a number (a padded 0)
		{"1.0.1g", "1.0.1f", 1},
		{"1.0.1_", "1.0.1a", -1},
		{"2.0", "10.0", -1},
		{"20240101000000000000", "20240101000000000001", -1},
		{"1.2.3", "1.2.3.0.0", 0},
		{"1.0dev", "1.0a", -1},
		{"1.0post", "1.0.1", 1}, // "post" above everything, as 1.1post1 > 1.1.0post1
		{"1.0.post", "1.0", 1},
	} {
		got := MustParseVersion(c.a).Compare(MustParseVersion(c.b))
		if got != c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, bad := range []string{"", "1.0!", "a!1", "1!2!3", "1.0+", "1.0+a+b", "1..0", "1.0 2", "1.0#", "+1", "1.0-1_2"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

// Version specs, from conda's test_version.py (test_match) and rattler's
// version_spec tests.
func TestVersionSpec(t *testing.T) {
	for _, c := range []struct {
		spec, version string
		want          bool
	}{
		{"1.7.1", "1.7.1", true},
		{"1.7.1", "1.7.1.0", true},
		{"1.7*", "1.7.1", true},
		{"1.7*", "1.70", false},
		{"1.7.1*", "1.7.1", true},
		{"1.7*", "1.8", false},
		{"1.7.*", "1.7.1", true},
		{"1.7*|1.8*", "1.8.1", true},
		{"1.7*|1.8*", "1.9", false},
		{">=1.7.1", "1.7.1", true},
		{">1.7.1", "1.7.1", false},
		{"<1.8", "1.8rc1", true},
		{"<=1.8", "1.8.0", true},
		{">=1.8,<2", "1.9.4", true},
		{">=1.8,<2", "2.0", false},
		{">=1.8,<2|1.7.1", "1.7.1", true},
		{"(>=1.8,<2)|1.7.1", "1.7.2", false},
		{"!=1.6.1", "1.6.1", false},
		{"!=1.6.*", "1.6.1", false},
		{"!=1.6.*", "1.7", true},
		{"==1.6.*", "1.6.3", true},
		{"=1.6", "1.6.3", true},
		{"~=1.4.2", "1.4.3", true},
		{"~=1.4.2", "1.4.1", false},
		{"~=1.4.2", "1.5", false},
		{"~=1.4", "1.9", true},
		{"~=1.4", "2.0", false},
		{"*", "0.0.1", true},
		{"1.*.3", "1.2.3", true},
		{"1.*.3", "1.2.4", false},
		{"1.2a*", "1.2alpha", true},
		{"1.2.3+local*", "1.2.3+local.1", true},
		{">= 3.8, < 3.12", "3.11.9", true},
		{"3.11.*,!=3.11.2", "3.11.2", false},
		{"1!1.0", "1!1.0", true},
		{">1!0", "99", false},
	} {
		vs, err := ParseVersionSpec(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if got := vs.Match(c.version); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.spec, c.version, got, c.want)
		}
	}
	for _, bad := range []string{"", ">", "=>1", "~=1", "~=1.2.*", "(1.2", "1.2)", ",", "1.2,", ">=a!b", "<<1"} {
		if _, err := ParseVersionSpec(bad); err == nil {
			t.Errorf("ParseVersionSpec(%q) accepted", bad)
		}
	}
}
