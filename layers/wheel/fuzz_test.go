package wheel

import (
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// Fuzz targets for the parsers of user input: requirements files, PEP 440
// versions and specifiers, PEP 508 requirements and markers. Seeds come
// from the repository's requirements files and the unit tests' cases;
// hack/test.sh runs each target briefly.

var versionSeeds = []string{
	"1.0", "v1.0", "1.0-1", "1.0.alpha1", "1.0c1", "1.0-DEV", "1.0+Ubuntu-1", "0!1.0", "2!1.0.0.rev3",
	"1.0.dev456", "1.0a12.dev456", "1.0b2.post345.dev456", "1.0rc1", "1.0+abc.5", "1.0.post456.dev34",
	"1!0.1", "", "1.0-foo", "1..0", "1.0+", "99999999999999999999", " 1.0 ",
}

var specifierSeeds = []string{
	"==1.0", "==1.*", "!=1.0.*", "~=2.2", "~=1.4.5", ">=1.0", ">1.0", "<2,>=1", "===foo", "<=1.0+local",
	"~=1", ">=1.*", "==", "", " >= 1.0 , != 1.5 ",
}

var requirementSeeds = []string{
	"requests", "requests[security,socks]>=2.8.1,==2.8.*; python_version < '2.7'", "name @ https://x/y.whl",
	"pip @ file:///wheels/pip-23.0-py3-none-any.whl ; sys_platform == 'linux'", "Flask>=3 ; extra == 'async'",
	"a (>=1.0)", "a[", "a @", "-e .", "a;", "a; os_name == 'posix' and (python_version >= '3.8' or extra == \"x\")",
}

var markerSeeds = []string{
	`python_version < "3.8"`, `os_name == 'posix' and platform_machine != "aarch64"`,
	`(python_version >= "3" or implementation_name == "pypy") and sys_platform == "linux"`,
	`"linux" in sys_platform`, `extra == "test"`, `python_full_version ~= "3.11.0"`, `a ==`, `(`, `python_version not in "2.7 3.4"`,
}

func FuzzParseRequirements(f *testing.F) {
	for _, b := range testtool.ReadFiles(f, "../../testdata/*/requirements*.txt", "../../testdata/*/*/requirements*.txt",
		"../../testdata/*/*/*/requirements*.txt") {
		f.Add(string(b))
	}
	f.Add("--index-url https://pypi.org/simple\n--extra-index-url ${INDEX}\nnumpy==1.26.4 \\\n  --hash=sha256:" + strings.Repeat("a", 64) + "\n")
	f.Add("-r other.txt\n-c constraints.txt\n--find-links ./wheels\n--no-index\n./local.whl\n# comment\n")
	dir := f.TempDir()
	env := func(k string) (string, bool) { return "value-of-" + k, k != "UNSET" }
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := ParseRequirementsReader("requirements.txt", strings.NewReader(text), WithEnv(env), WithBaseDir(dir))
		if err != nil {
			return
		}
		for _, r := range rs.Requirements {
			if r.Name == "" && r.URL == "" {
				t.Errorf("requirement with neither name nor URL: %+v", r)
			}
			_ = r.String()
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range versionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.Compare(v) != 0 {
			t.Errorf("%q does not equal itself", s)
		}
		// The normalized form parses back to an equal version.
		w, err := ParseVersion(v.String())
		if err != nil {
			t.Fatalf("%q normalizes to %q, which does not parse: %v", s, v.String(), err)
		}
		if v.Compare(w) != 0 || w.String() != v.String() {
			t.Errorf("%q normalizes to %q, which parses as %q", s, v.String(), w.String())
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	for i := range versionSeeds {
		f.Add(versionSeeds[i], versionSeeds[(i+1)%len(versionSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, erra := ParseVersion(a)
		vb, errb := ParseVersion(b)
		if erra != nil || errb != nil {
			return
		}
		if ab, ba := va.Compare(vb), vb.Compare(va); ab != -ba {
			t.Errorf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
	})
}

func FuzzParseSpecifiers(f *testing.F) {
	for i, s := range specifierSeeds {
		f.Add(s, versionSeeds[i%len(versionSeeds)])
	}
	f.Fuzz(func(t *testing.T, spec, version string) {
		ss, err := ParseSpecifiers(spec)
		if err != nil {
			return
		}
		again, err := ParseSpecifiers(ss.String())
		if err != nil || again.String() != ss.String() {
			t.Errorf("%q prints as %q, which parses as %q (%v)", spec, ss.String(), again.String(), err)
		}
		if v, err := ParseVersion(version); err == nil {
			in := ss.Contains(v, true)
			if again.Contains(v, true) != in {
				t.Errorf("%q and its printed form disagree on %q", spec, version)
			}
			_ = ss.Filter([]Version{v}, false)
		}
		_ = ss.IsPinned()
	})
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range requirementSeeds {
		f.Add(s)
	}
	env := debianTarget().MarkerEnv()
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		if r.Key() != NormalizeName(r.Key()) {
			t.Errorf("%q: key %q is not normalized", s, r.Key())
		}
		if r.Marker != nil {
			_, _ = r.Marker.Evaluate(env)
		}
		// Without a URL (which String redacts), the printed form parses
		// back to the same requirement.
		if r.URL == "" {
			again, err := ParseRequirement(r.String())
			if err != nil || again.String() != r.String() {
				t.Errorf("%q prints as %q, which parses as %q (%v)", s, r.String(), again.String(), err)
			}
		}
	})
}

func FuzzParseMarker(f *testing.F) {
	for _, s := range markerSeeds {
		f.Add(s)
	}
	env := debianTarget().MarkerEnv()
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarker(s)
		if err != nil {
			return
		}
		r1, err1 := m.Evaluate(env)
		r2, err2 := m.Evaluate(env)
		if r1 != r2 || (err1 == nil) != (err2 == nil) {
			t.Errorf("%q evaluates differently twice", s)
		}
	})
}
