package wheel

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestVersionOrdering(t *testing.T) {
	// Ascending, from PEP 440's examples and packaging's test suite.
	order := []string{
		"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345",
		"1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34",
		"1.0.post456", "1.0.15", "1.1.dev1", "1!0.1",
	}
	for i := 0; i+1 < len(order); i++ {
		a, err := ParseVersion(order[i])
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseVersion(order[i+1])
		if err != nil {
			t.Fatal(err)
		}
		if a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("want %s < %s", order[i], order[i+1])
		}
	}
	for in, want := range map[string]string{
		"1.0": "1.0", "v1.0": "1.0", "1.0-1": "1.0.post1", "1.0.alpha1": "1.0a1", "1.0c1": "1.0rc1",
		"1.0-DEV": "1.0.dev0", "1.0+Ubuntu-1": "1.0+ubuntu.1", "0!1.0": "1.0", "2!1.0.0.rev3": "2!1.0.0.post3",
	} {
		v, err := ParseVersion(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if v.String() != want {
			t.Errorf("ParseVersion(%q) = %s, want %s", in, v, want)
		}
	}
	if a, b := mustParse("1.0"), mustParse("1.0.0"); a.Compare(b) != 0 {
		t.Error("1.0 != 1.0.0")
	}
	for _, bad := range []string{"", "1.0-foo", "french toast", "1..0", "1.0+"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestSpecifiers(t *testing.T) {
	cases := []struct {
		spec, version string
		want          bool
	}{
		{"==1.0", "1.0.0", true}, {"==1.0", "1.0+local", true}, {"==1.0+local", "1.0", false},
		{"==1.*", "1.9", true}, {"==1.*", "2.0", false}, {"==1.0.*", "1.0", true}, {"!=1.0.*", "1.0.1", false},
		{"~=2.2", "2.3", true}, {"~=2.2", "3.0", false}, {"~=1.4.5", "1.4.9", true}, {"~=1.4.5", "1.5.0", false},
		{">=1.0", "1.0", true}, {">1.0", "1.0.post1", false}, {">1.0", "1.1", true}, {">1.0", "1.0+loc", false},
		{"<2.0", "2.0.dev1", false}, {"<2.0", "1.9", true}, {"<2.0rc1", "2.0b1", true},
		{"<=1.0", "1.0+loc", true}, {"===foobar", "FooBar", false}, {">=1.0,<2.0,!=1.5", "1.5", false},
		{">=1.0,<2.0,!=1.5", "1.6", true}, {"", "1.0", true},
	}
	for _, c := range cases {
		ss, err := ParseSpecifiers(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if got := ss.Contains(mustParse(c.version), true); got != c.want {
			t.Errorf("%q contains %s = %v, want %v", c.spec, c.version, got, c.want)
		}
	}
	for _, bad := range []string{">=1.0.*", "~=1", "=>1.0", "==", ">=1.0+local", "1.0"} {
		if _, err := ParseSpecifiers(bad); err == nil {
			t.Errorf("ParseSpecifiers(%q) accepted", bad)
		}
	}
}

func TestSpecifierPrereleases(t *testing.T) {
	vs := []Version{mustParse("1.0"), mustParse("2.0b1"), mustParse("1.5")}
	str := func(vs []Version) string {
		var s []string
		for _, v := range vs {
			s = append(s, v.String())
		}
		return strings.Join(s, " ")
	}
	ss, _ := ParseSpecifiers(">=1.0")
	if got := str(ss.Filter(vs, false)); got != "1.0 1.5" {
		t.Errorf("final releases only: got %q", got)
	}
	if got := str(ss.Filter(vs, true)); got != "1.0 2.0b1 1.5" {
		t.Errorf("--pre: got %q", got)
	}
	ss, _ = ParseSpecifiers(">=2.0b1")
	if got := str(ss.Filter(vs, false)); got != "2.0b1" {
		t.Errorf("explicit pre-release specifier: got %q", got)
	}
	ss, _ = ParseSpecifiers(">1.5")
	if got := str(ss.Filter(vs, false)); got != "2.0b1" {
		t.Errorf("only a pre-release matches: got %q", got)
	}
}

func TestParseRequirement(t *testing.T) {
	cases := []struct {
		in, name, extras, spec, url, marker string
	}{
		{"requests", "requests", "", "", "", ""},
		{"Requests[Security, socks] >= 2.8.1, == 2.8.*", "Requests", "security,socks", ">=2.8.1,==2.8.*", "", ""},
		{`name>=3 ; python_version < "2.7"`, "name", "", ">=3", "", `python_version < "2.7"`},
		{"pytest (>=3.0.0) ; extra == 'test'", "pytest", "", ">=3.0.0", "", "extra == 'test'"},
		{"pip @ https://example.com/pip-23.0-py3-none-any.whl ; os_name == 'posix'", "pip", "", "", "https://example.com/pip-23.0-py3-none-any.whl", "os_name == 'posix'"},
		{"zope.interface", "zope.interface", "", "", "", ""},
	}
	for _, c := range cases {
		r, err := ParseRequirement(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		m := ""
		if r.Marker != nil {
			m = r.Marker.String()
		}
		if r.Name != c.name || strings.Join(r.Extras, ",") != c.extras || r.Specifier.String() != c.spec || r.URL != c.url || m != c.marker {
			t.Errorf("%s: got name=%q extras=%v spec=%q url=%q marker=%q", c.in, r.Name, r.Extras, r.Specifier, r.URL, m)
		}
	}
	for _, bad := range []string{"", ">=1.0", "foo[bar", "foo >= 1.0 ;", "foo; python_version <", "foo; bogus == '1'", "foo (>=1.0"} {
		if _, err := ParseRequirement(bad); err == nil {
			t.Errorf("ParseRequirement(%q) accepted", bad)
		}
	}
}

func TestMarkers(t *testing.T) {
	env := debianTarget().MarkerEnv()
	cases := map[string]bool{
		`sys_platform == "win32"`:                                      false,
		`sys_platform == "linux" and platform_machine == "x86_64"`:     true,
		`python_version >= "3.8"`:                                      true,
		`python_version < "3.10"`:                                      false,
		`python_version > "3.9" and (os_name == "nt" or extra == "x")`: false,
		`python_full_version >= "3.11.1"`:                              true,
		`"linux" in sys_platform`:                                      true,
		`platform_python_implementation != "PyPy"`:                     true,
		`implementation_name == "cpython"`:                             true,
		`'x86' not in platform_machine`:                                false,
		`python_implementation == "CPython"`:                           true,
		`os.name == "posix"`:                                           true,
	}
	for src, want := range cases {
		m, err := ParseMarker(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := m.Evaluate(env)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got != want {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
	m, _ := ParseMarker(`extra == "Fancy_Stuff"`)
	if ok, _ := m.Evaluate(maps(env, "extra", "fancy-stuff")); !ok {
		t.Error("extra names must compare normalized")
	}
}

func TestWheelFilename(t *testing.T) {
	w, err := ParseWheelFilename("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "numpy" || w.Version != "1.26.4" || !slices.Equal(w.Platform, []string{"manylinux_2_17_x86_64", "manylinux2014_x86_64"}) {
		t.Errorf("got %+v", w)
	}
	w, err = ParseWheelFilename("foo_bar-1.0-1local-py2.py3-none-any.whl")
	if err != nil || w.Build != "1local" || len(w.Tags()) != 2 {
		t.Errorf("got %+v, %v", w, err)
	}
	for _, bad := range []string{"foo-1.0.tar.gz", "foo-1.0-py3-any.whl", "foo-bad!ver-py3-none-any.whl", "foo-1.0-x-py3-none-any.whl"} {
		if _, err := ParseWheelFilename(bad); err == nil {
			t.Errorf("ParseWheelFilename(%q) accepted", bad)
		}
	}
}

func TestTargetTags(t *testing.T) {
	tg := debianTarget()
	tags, err := tg.Tags()
	if err != nil {
		t.Fatal(err)
	}
	idx := func(tag string) int {
		i := slices.Index(tags, tag)
		if i < 0 {
			t.Fatalf("tag %s missing", tag)
		}
		return i
	}
	// packaging.tags order for CPython 3.11 on glibc 2.36 x86_64.
	if tags[0] != "cp311-cp311-manylinux_2_36_x86_64" {
		t.Errorf("first tag %s", tags[0])
	}
	ordered := []string{
		"cp311-cp311-manylinux_2_36_x86_64", "cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64",
		"cp311-cp311-manylinux2010_x86_64", "cp311-cp311-manylinux1_x86_64", "cp311-cp311-linux_x86_64",
		"cp311-abi3-manylinux_2_36_x86_64", "cp311-none-manylinux_2_17_x86_64", "cp310-abi3-manylinux_2_17_x86_64",
		"cp32-abi3-linux_x86_64", "py311-none-manylinux_2_17_x86_64", "py3-none-manylinux1_x86_64",
		"py30-none-linux_x86_64", "cp311-none-any", "py311-none-any", "py3-none-any", "py30-none-any",
	}
	for i := 0; i+1 < len(ordered); i++ {
		if idx(ordered[i]) >= idx(ordered[i+1]) {
			t.Errorf("%s should rank before %s", ordered[i], ordered[i+1])
		}
	}
	for _, absent := range []string{"cp311-cp311-manylinux_2_37_x86_64", "cp312-cp312-manylinux_2_17_x86_64", "cp311-cp311-musllinux_1_1_x86_64", "cp311-cp311-manylinux_2_4_x86_64"} {
		if slices.Contains(tags, absent) {
			t.Errorf("tag %s must not be accepted", absent)
		}
	}
	arm := debianTarget()
	arm.Arch = "aarch64"
	tags, _ = arm.Tags()
	if !slices.Contains(tags, "cp311-cp311-manylinux2014_aarch64") || slices.Contains(tags, "cp311-cp311-manylinux_2_16_aarch64") || slices.Contains(tags, "cp311-cp311-manylinux1_aarch64") {
		t.Error("aarch64 manylinux tags stop at 2_17")
	}
	musl := &Target{Python: "3.12", Implementation: "cp", Musl: "1.2", Arch: "x86_64"}
	tags, _ = musl.Tags()
	if tags[0] != "cp312-cp312-musllinux_1_2_x86_64" || slices.ContainsFunc(tags, func(s string) bool { return strings.Contains(s, "manylinux") }) {
		t.Errorf("musl tags: %v", tags[:3])
	}
}

// The tag ranks kept for a run are those of Tags for the target at hand:
// two targets that differ in anything Tags reads never share them.
func TestTagRanksFollowTheTarget(t *testing.T) {
	base := debianTarget()
	variants := []func(*Target){
		func(*Target) {},
		func(t *Target) { t.Python = "3.12" },
		func(t *Target) { t.Arch = "aarch64" },
		func(t *Target) { t.Glibc = "2.17" },
		func(t *Target) { t.Glibc, t.Musl = "", "1.2" },
		func(t *Target) { t.Implementation = "pp" },
	}
	for i, change := range variants {
		for range 2 { // the second time from the memo
			tg := *base
			change(&tg)
			rank, err := tg.tagRanks()
			if err != nil {
				t.Fatal(err)
			}
			tags, err := tg.Tags()
			if err != nil {
				t.Fatal(err)
			}
			if len(rank) != len(tags) || rank[tags[0]] != 0 || rank[tags[len(tags)-1]] != len(tags)-1 {
				t.Errorf("variant %d: %d ranks for %d tags (first %s: %d)", i, len(rank), len(tags), tags[0], rank[tags[0]])
			}
		}
	}
}

// NormalizeName is PEP 503's re.sub(r"[-_.]+", "-", name).lower(), written
// out: it agrees with that regexp on names of every shape.
func TestNormalizeNameMatchesPEP503(t *testing.T) {
	re := regexp.MustCompile(`[-_.]+`)
	want := func(s string) string { return strings.ToLower(re.ReplaceAllString(s, "-")) }
	names := []string{"", "a", "Foo", "foo-bar", "Foo.Bar_baz", "a--b", "a-_.-b", "-a-", "_a_", "..", "zope.interface", "Django", "ÄBC_déf", "a\u212ab", "x--", "--x", "ruamel.yaml.clib"}
	alphabet := []rune("aZ-_.9Ä")
	for i := 0; i < 2000; i++ {
		var b []rune
		for n := i; n > 0; n /= len(alphabet) {
			b = append(b, alphabet[n%len(alphabet)])
		}
		names = append(names, string(b))
	}
	for _, n := range names {
		if got := NormalizeName(n); got != want(n) {
			t.Errorf("NormalizeName(%q) = %q, want %q", n, got, want(n))
		}
	}
}
