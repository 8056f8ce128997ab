package attest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// condaInput is testInput with an environment: python, a library whose
// license is no SPDX expression, and a noarch package depending on both
// and on a virtual package; and the same python in a second environment.
func condaInput(t *testing.T) Input {
	in := testInput(t)
	const env = "/srv/conda/envs/notebook"
	in.Conda = []Conda{
		{Name: "hello", Version: "1.0", Build: "pyh_0", Subdir: "noarch", Channel: "conda-forge", Filename: "hello-1.0-pyh_0.conda",
			URL: "https://conda.anaconda.org/conda-forge/noarch/hello-1.0-pyh_0.conda", SHA256: strings.Repeat("7", 64), Prefix: env,
			Depends: []string{"python", "libgreet", "__glibc"}, License: "MIT"},
		{Name: "libgreet", Version: "1.0", Build: "h0_0", Subdir: "linux-64", Channel: "conda-forge", Filename: "libgreet-1.0-h0_0.tar.bz2",
			URL: "https://conda.anaconda.org/conda-forge/linux-64/libgreet-1.0-h0_0.tar.bz2", SHA256: strings.Repeat("8", 64), Prefix: env},
		{Name: "python", Version: "3.11.2", Build: "debian_0", Subdir: "linux-64", Channel: "conda-forge", Filename: "python-3.11.2-debian_0.conda",
			SHA256: strings.Repeat("9", 64), Prefix: env, License: "Python-2.0"},
		{Name: "python", Version: "3.11.2", Build: "debian_0", Subdir: "linux-64", Channel: "conda-forge", Filename: "python-3.11.2-debian_0.conda",
			SHA256: strings.Repeat("9", 64), Prefix: "/srv/conda"},
	}
	return in
}

func TestCondaPURL(t *testing.T) {
	for _, tc := range []struct {
		c    Conda
		want string
	}{
		{Conda{Name: "absl-py", Version: "0.4.1", Build: "py36h06a4308_0", Channel: "main", Subdir: "linux-64", Filename: "absl-py-0.4.1-py36h06a4308_0.tar.bz2"},
			"pkg:conda/absl-py@0.4.1?build=py36h06a4308_0&channel=main&subdir=linux-64&type=tar.bz2"}, // the purl spec's example
		{Conda{Name: "zlib", Version: "1.3.1", Build: "h4ab18f5_1", Channel: "conda-forge", Subdir: "linux-64", Filename: "zlib-1.3.1-h4ab18f5_1.conda"},
			"pkg:conda/zlib@1.3.1?build=h4ab18f5_1&channel=conda-forge&subdir=linux-64&type=conda"},
		// a channel by URL keeps ":" and "/"; "+" of a local version is escaped
		{Conda{Name: "pkg", Version: "1.0+local", Build: "0", Channel: "file:///srv/chan", Subdir: "noarch", Filename: "pkg-1.0+local-0.conda"},
			"pkg:conda/pkg@1.0%2Blocal?build=0&channel=file:///srv/chan&subdir=noarch&type=conda"},
		{Conda{Name: "odd", Version: "1", Build: "a&b=c", Filename: "x.whl"}, "pkg:conda/odd@1?build=a%26b%3Dc"},
	} {
		if got := condaPURL(tc.c); got != tc.want {
			t.Errorf("condaPURL(%s) = %s, want %s", tc.c.Name, got, tc.want)
		}
	}
}

func TestCondaLicense(t *testing.T) {
	for field, want := range map[string]string{
		"BSD-3-Clause": "BSD-3-Clause", "mit": "MIT", "Apache-2.0 OR MIT": "Apache-2.0 OR MIT",
		"GPL-2.0-or-later AND LGPL-2.1-only": "GPL-2.0-or-later AND LGPL-2.1-only",
		"BSD 3-Clause":                       "", "GPL": "", "": "", "LicenseRef-Proprietary": "", "PSF": "", "Apache 2.0\nMIT": "",
	} {
		if got := CondaLicense(field); got != want {
			t.Errorf("CondaLicense(%q) = %q, want %q", field, got, want)
		}
	}
}

// Conda packages are in the SPDX document with purl, checksum, download
// location and license (NOASSERTION when repodata's is not SPDX), the
// image CONTAINS each, DEPENDS_ON follows depends within an environment,
// and the same package in two environments is listed twice.
func TestSPDXConda(t *testing.T) {
	b, err := SPDX(condaInput(t))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("invalid: %v", err)
	}
	got := map[string]string{}
	for _, p := range doc.Packages {
		if strings.HasPrefix(string(p.PackageSPDXIdentifier), "Conda-") {
			got[string(p.PackageSPDXIdentifier)] = p.PackageExternalReferences[0].Locator + " " + p.PackageChecksums[0].Value[:1] + " " + p.PackageLicenseDeclared + " " + p.PackageDownloadLocation
		}
	}
	want := map[string]string{
		"Conda-python":   "pkg:conda/python@3.11.2?build=debian_0&channel=conda-forge&subdir=linux-64&type=conda 9 NOASSERTION NOASSERTION",
		"Conda-hello":    "pkg:conda/hello@1.0?build=pyh_0&channel=conda-forge&subdir=noarch&type=conda 7 MIT https://conda.anaconda.org/conda-forge/noarch/hello-1.0-pyh_0.conda",
		"Conda-libgreet": "pkg:conda/libgreet@1.0?build=h0_0&channel=conda-forge&subdir=linux-64&type=tar.bz2 8 NOASSERTION https://conda.anaconda.org/conda-forge/linux-64/libgreet-1.0-h0_0.tar.bz2",
		"Conda-python-2": "pkg:conda/python@3.11.2?build=debian_0&channel=conda-forge&subdir=linux-64&type=conda 9 Python-2.0 NOASSERTION",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("conda packages %v", got)
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID)] = true
	}
	for _, want := range []string{"Image CONTAINS Conda-hello", "Image CONTAINS Conda-python", "Image CONTAINS Conda-python-2",
		"Conda-hello DEPENDS_ON Conda-libgreet", "Conda-hello DEPENDS_ON Conda-python-2"} {
		if !rels[want] {
			t.Errorf("no relationship %q", want)
		}
	}
	if rels["Conda-hello DEPENDS_ON Conda-python"] {
		t.Error("hello depends on the python of another environment")
	}
}

// CycloneDX lists the same conda packages, with unique references.
func TestCycloneDXConda(t *testing.T) {
	b, err := CycloneDX(condaInput(t))
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	refs, n := map[string]bool{}, 0
	for _, c := range *bom.Components {
		if strings.HasPrefix(c.PackageURL, "pkg:conda/") {
			n++
			if refs[c.BOMRef] {
				t.Errorf("reference %s twice", c.BOMRef)
			}
			refs[c.BOMRef] = true
		}
	}
	if n != 4 {
		t.Errorf("%d conda components, want 4", n)
	}
	hello := "pkg:conda/hello@1.0?build=pyh_0&channel=conda-forge&subdir=noarch&type=conda"
	for _, d := range *bom.Dependencies {
		if d.Ref == hello && len(*d.Dependencies) != 2 {
			t.Errorf("hello depends on %v", *d.Dependencies)
		}
	}
}

// A material's name is carried into the provenance.
func TestProvenanceNamesLock(t *testing.T) {
	in := condaInput(t)
	in.Indexes = append(in.Indexes, Material{Name: "conda lock", URI: "conda-linux-64.lock", SHA256: strings.Repeat("a", 64)})
	b, err := Provenance(in)
	if err != nil {
		t.Fatal(err)
	}
	var st statement
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	deps := st.Predicate.BuildDefinition.ResolvedDependencies
	if last := deps[len(deps)-1]; last.Name != "conda lock" || last.URI != "conda-linux-64.lock" || last.Digest["sha256"] != strings.Repeat("a", 64) {
		t.Errorf("lock material %+v", last)
	}
}
