package assembler

import (
	"slices"
	"testing"

	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/oci/attest"
)

// A conda record becomes an SBOM package: the channel by name under the
// alias (a mirror's or conda's default), else by URL without credentials;
// depends by package name, each once; the license only when it is SPDX.
func TestCondaPackage(t *testing.T) {
	for _, tc := range []struct{ url, alias, want string }{
		{"https://conda.anaconda.org/conda-forge", "", "conda-forge"},
		{"https://conda.anaconda.org/conda-forge", "https://mirror.example/conda/", "conda-forge"},
		{"https://mirror.example/conda/bioconda", "https://mirror.example/conda", "bioconda"},
		{"https://user:secret@private.example/chan", "", "https://private.example/chan"},
		{"file:///srv/channel", "", "file:///srv/channel"},
	} {
		if got := condaChannelName(tc.url, tc.alias); got != tc.want {
			t.Errorf("condaChannelName(%q, %q) = %q, want %q", tc.url, tc.alias, got, tc.want)
		}
	}
	r := conda.Record{Name: "hello", Version: "1.0", Build: "pyh_0", Subdir: "noarch", Channel: "https://conda.anaconda.org/conda-forge",
		Filename: "hello-1.0-pyh_0.conda", URL: "https://conda.anaconda.org/conda-forge/noarch/hello-1.0-pyh_0.conda", SHA256: "ab", License: "BSD 3-Clause",
		Depends: []string{"python >=3.8", "libgreet 1.*", "conda-forge::zlib", "python_abi 3.11.* *_cp311", "libgreet >=1.0", "__glibc >=2.17"}}
	p := condaPackage(r, "/srv/conda/envs/notebook", "")
	if want := []string{"python", "libgreet", "zlib", "python_abi", "__glibc"}; !slices.Equal(p.Depends, want) {
		t.Errorf("depends %v, want %v", p.Depends, want)
	}
	if p.Channel != "conda-forge" || p.License != "" || p.Prefix != "/srv/conda/envs/notebook" || p.URL != r.URL || p.Filename != r.Filename {
		t.Errorf("package %+v", p)
	}
	r.License = "MIT"
	if p := condaPackage(r, "/p", ""); p.License != "MIT" {
		t.Errorf("license %q, want MIT", p.License)
	}
}

// A conda package recorded again in the same environment replaces the one
// recorded before; the same name in another environment is another package;
// inputs are recorded once.
func TestInstalledConda(t *testing.T) {
	rec := &installed{}
	m := attest.Material{URI: "https://c.example/conda-forge/noarch/repodata.json", SHA256: "01"}
	rec.addConda([]attest.Conda{{Name: "python", Version: "3.11", Prefix: "/a"}, {Name: "zlib", Prefix: "/a"}}, []attest.Material{m})
	rec.addConda([]attest.Conda{{Name: "python", Version: "3.12", Prefix: "/a"}, {Name: "python", Prefix: "/b"}}, []attest.Material{m})
	if len(rec.conda) != 3 || len(rec.condaInputs) != 1 {
		t.Errorf("recorded %+v, inputs %v", rec.conda, rec.condaInputs)
	}
	for _, c := range rec.conda {
		if c.Prefix == "/a" && c.Name == "python" && c.Version != "3.12" {
			t.Errorf("python in /a is %s, want the later 3.12", c.Version)
		}
	}
	var none *installed
	none.addConda([]attest.Conda{{Name: "x"}}, nil) // SBOMs off: records nothing
}
