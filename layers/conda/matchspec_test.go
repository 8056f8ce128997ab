package conda

import (
	"testing"
)

// MatchSpecs as conda writes them (conda's test_match_spec.py, rattler's
// match_spec tests), each matched against records.
func TestParseMatchSpec(t *testing.T) {
	rec := func(name, version, build string, bn int) *Record {
		return &Record{Name: name, Version: version, Build: build, BuildNumber: bn, Subdir: "linux-64"}
	}
	for _, c := range []struct {
		spec           string
		name, ch, sub  string
		match, nomatch []*Record
	}{
		{spec: "numpy", name: "numpy", match: []*Record{rec("numpy", "1.0", "x", 0)}, nomatch: []*Record{rec("scipy", "1.0", "x", 0)}},
		{spec: "NumPy >=1.8,<2", name: "numpy", match: []*Record{rec("numpy", "1.9", "x", 0)}, nomatch: []*Record{rec("numpy", "2.0", "x", 0)}},
		{spec: "python=3.11", name: "python", match: []*Record{rec("python", "3.11.4", "h_0", 0)}, nomatch: []*Record{rec("python", "3.1", "h", 0), rec("python", "3.12.0", "h", 0)}},
		{spec: "python==3.11", name: "python", match: []*Record{rec("python", "3.11.0", "h", 0)}, nomatch: []*Record{rec("python", "3.11.4", "h", 0)}},
		{spec: "numpy=1.8=py27_0", name: "numpy", match: []*Record{rec("numpy", "1.8", "py27_0", 0)}, nomatch: []*Record{rec("numpy", "1.8.1", "py27_0", 0), rec("numpy", "1.8", "py27_1", 0)}},
		{spec: "numpy 1.8.* py3*", name: "numpy", match: []*Record{rec("numpy", "1.8.2", "py39h_0", 0)}, nomatch: []*Record{rec("numpy", "1.8.2", "np_0", 0)}},
		{spec: "numpy ==1.8 py27_0", name: "numpy", match: []*Record{rec("numpy", "1.8", "py27_0", 0)}},
		{spec: "conda-forge::numpy>=1", name: "numpy", ch: "conda-forge", match: []*Record{rec("numpy", "1.1", "x", 0)}},
		{spec: "conda-forge/linux-64::numpy", name: "numpy", ch: "conda-forge", sub: "linux-64"},
		{spec: "https://conda.anaconda.org/conda-forge::zlib", name: "zlib", ch: "https://conda.anaconda.org/conda-forge"},
		{spec: "numpy[version='>=1.8,<2', build=py*, build_number='>=3']", name: "numpy", match: []*Record{rec("numpy", "1.9", "py_3", 3)}, nomatch: []*Record{rec("numpy", "1.9", "py_2", 2), rec("numpy", "2.1", "py_3", 3)}},
		{spec: `numpy[build_number=2]`, name: "numpy", match: []*Record{rec("numpy", "1", "x", 2)}, nomatch: []*Record{rec("numpy", "1", "x", 3)}},
		{spec: "numpy 1.8.1  # comment", name: "numpy", match: []*Record{rec("numpy", "1.8.1", "x", 0)}},
		{spec: "openssl >=1.1.1a,<1.1.2a", name: "openssl", match: []*Record{rec("openssl", "1.1.1w", "x", 0)}, nomatch: []*Record{rec("openssl", "3.0.0", "x", 0)}},
		{spec: "__glibc >=2.17", name: "__glibc", match: []*Record{rec("__glibc", "2.36", "0", 0)}, nomatch: []*Record{rec("__glibc", "2.12", "0", 0)}},
		{spec: "libblas * *mkl", name: "libblas", match: []*Record{rec("libblas", "3.9.0", "20_linux64_mkl", 20)}, nomatch: []*Record{rec("libblas", "3.9.0", "20_linux64_openblas", 20)}},
		// conda-forge's own depends lines.
		{spec: "python_abi 3.11.* *_cp311", name: "python_abi", match: []*Record{rec("python_abi", "3.11", "4_cp311", 4)}, nomatch: []*Record{rec("python_abi", "3.11", "4_pypy39_pp73", 4)}},
		{spec: "openssl >=3.2.1,<4.0a0", name: "openssl", match: []*Record{rec("openssl", "3.3.2", "hb9d3cd8_0", 0)}, nomatch: []*Record{rec("openssl", "4.0.0", "h", 0), rec("openssl", "4.0a1", "h", 0)}},
		{spec: "python >=3.9,<3.10.0a0", name: "python", match: []*Record{rec("python", "3.9.19", "h", 0)}, nomatch: []*Record{rec("python", "3.10.0rc1", "h", 0)}},
		{spec: "_openmp_mutex >=4.5", name: "_openmp_mutex", match: []*Record{rec("_openmp_mutex", "4.5", "2_gnu", 2)}},
		{spec: "nodejs >=18,<19.0a0|>=20", name: "nodejs", match: []*Record{rec("nodejs", "22.1", "h", 0)}, nomatch: []*Record{rec("nodejs", "19.1", "h", 0)}},
		{spec: "pkg[subdir=noarch]", name: "pkg", sub: "noarch", nomatch: []*Record{rec("pkg", "1", "x", 0)}},
	} {
		ms, err := ParseMatchSpec(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if ms.Name != c.name || ms.Channel != c.ch || ms.Subdir != c.sub {
			t.Errorf("%s: name %q channel %q subdir %q", c.spec, ms.Name, ms.Channel, ms.Subdir)
		}
		for _, r := range c.match {
			if !ms.Match(r) {
				t.Errorf("%s does not match %s %s %s", c.spec, r.Name, r.Version, r.Build)
			}
		}
		for _, r := range c.nomatch {
			if ms.Match(r) {
				t.Errorf("%s matches %s %s %s", c.spec, r.Name, r.Version, r.Build)
			}
		}
	}
	for _, bad := range []string{"", "  # only a comment", ">=1.0", "numpy==", "numpy=", "numpy >=", "::numpy", "numpy[version=1", "numpy[bogus=1]", "numpy[build_number=x]", "numpy 1.0 py_0 extra", "numpy<<1"} {
		if _, err := ParseMatchSpec(bad); err == nil {
			t.Errorf("ParseMatchSpec(%q) accepted", bad)
		}
	}
}

// The parsers never panic, and a spec they accept re-parses from its text.
func FuzzParseMatchSpec(f *testing.F) {
	for _, s := range []string{"numpy >=1.8,<2|1.7", "conda-forge::python=3.11", "a[version='1.*',build_number='>2']", "x 1.0 py_0", "openssl 1.1.1_", "1!2.0+local", "p ~=1.4.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchSpec(s)
		if err != nil {
			return
		}
		if _, err := ParseMatchSpec(ms.String()); err != nil {
			t.Errorf("%q parsed, its text %q does not: %v", s, ms.String(), err)
		}
		ms.Match(&Record{Name: ms.Name, Version: "1.0", Build: "py_0"})
		if ms.Version != nil {
			ms.Version.Match(s)
		}
	})
}
