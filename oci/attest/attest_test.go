package attest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

func testInput(t *testing.T) Input {
	t.Helper()
	d, err := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	bd, _ := v1.NewHash("sha256:" + strings.Repeat("cd", 32))
	return Input{
		Name: "registry.example/ns/app", Platform: "linux/amd64", Distro: DistroOf("bookworm"),
		Subject: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: 629},
		Created: time.Unix(1700000000, 0),
		Base:    Base{Ref: "deb:bookworm", Digest: bd},
		Debs: []Deb{
			{Name: "python3", Version: "3.11.2-1+b1", Arch: "amd64", Source: "python3-defaults", SHA256: strings.Repeat("1", 64), Depends: "python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)"},
			{Name: "python3.11", Version: "3.11.2-6", Arch: "amd64", SHA256: strings.Repeat("2", 64), PreDepends: "libc6 (>= 2.36)", License: "PSF-2.0"},
			{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", SHA256: strings.Repeat("3", 64), License: "LGPL-2.1-or-later AND LicenseRef-public-domain"},
		},
		Wheels: []Wheel{{Name: "Typing_Extensions", Version: "4.9.0", Filename: "typing_extensions-4.9.0-py3-none-any.whl", SHA256: strings.Repeat("4", 64), RequestedBy: []string{"pydantic[email] 2.5.0"}, License: "PSF-2.0"},
			{Name: "pydantic", Version: "2.5.0", RequestedBy: []string{"requirements.txt:1"}}},
		Repo:       Repo{Revision: strings.Repeat("5", 40), Source: "https://git.example/app.git"},
		Invocation: Invocation{Convention: "assemble.toml", Parameters: map[string]string{"compression": "gzip"}},
		Indexes:    []Material{{URI: "http://deb.debian.org/debian/dists/bookworm/Release", SHA256: strings.Repeat("6", 64)}},
	}
}

// The SPDX document parses and validates with spdx/tools-golang, lists
// every package with its purl, and relates them.
func TestSPDXValidates(t *testing.T) {
	b, err := SPDX(testInput(t))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("reading: %v\n%s", err, b)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("invalid: %v", err)
	}
	purls := map[string]bool{}
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			purls[r.Locator] = true
		}
	}
	for _, want := range []string{"pkg:deb/debian/python3@3.11.2-1%2Bb1?arch=amd64&distro=debian-12", "pkg:pypi/typing-extensions@4.9.0"} {
		if !purls[want] {
			t.Errorf("no package with purl %s: %v", want, purls)
		}
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID)] = true
	}
	for _, want := range []string{"DOCUMENT DESCRIBES Image", "Image CONTAINS Deb-libc6", "Image CONTAINS Base", "Deb-python3 DEPENDS_ON Deb-python3.11",
		"Deb-python3.11 DEPENDS_ON Deb-libc6", "Image CONTAINS Python-typing-extensions", "Python-pydantic DEPENDS_ON Python-typing-extensions", "Image GENERATED_FROM Repository"} {
		if !rels[want] {
			t.Errorf("no relationship %q", want)
		}
	}
	if !strings.Contains(doc.DocumentNamespace, "sha256:"+strings.Repeat("ab", 32)) || doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("namespace %s, created %s: want them from the digest and the build time", doc.DocumentNamespace, doc.CreationInfo.Created)
	}
	if len(doc.OtherLicenses) != 1 || doc.OtherLicenses[0].LicenseIdentifier != "LicenseRef-public-domain" {
		t.Errorf("extracted licenses: %+v", doc.OtherLicenses)
	}
	declared := map[string]string{}
	for _, p := range doc.Packages {
		declared[p.PackageName] = p.PackageLicenseDeclared
	}
	if declared["Typing_Extensions"] != "PSF-2.0" || declared["pydantic"] != "NOASSERTION" {
		t.Errorf("declared licenses of the wheels: %v", declared)
	}
}

// The same input gives the same bytes, in every format, whatever order
// the packages came in.
func TestDocumentsAreDeterministic(t *testing.T) {
	for _, f := range []string{FormatSPDX, FormatCycloneDX} {
		in := testInput(t)
		a, err := Documents(in, f)
		if err != nil {
			t.Fatal(err)
		}
		in.Debs[0], in.Debs[2] = in.Debs[2], in.Debs[0]
		b, err := Documents(in, f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !bytes.Equal(a[i].Content, b[i].Content) {
				t.Errorf("%s %s differs between two runs", f, a[i].Filename)
			}
		}
	}
}

// The CycloneDX BOM decodes with cyclonedx-go as a 1.5 document with
// every component and the dependency graph.
func TestCycloneDX(t *testing.T) {
	b, err := CycloneDX(testInput(t))
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_5 || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || bom.Metadata.Component.Type != cdx.ComponentTypeContainer {
		t.Errorf("spec %v serial %s metadata %+v", bom.SpecVersion, bom.SerialNumber, bom.Metadata.Component)
	}
	if n := len(*bom.Components); n != 7 { // base, repository, 3 debs, 2 wheels
		t.Errorf("%d components, want 7", n)
	}
	found := false
	for _, d := range *bom.Dependencies {
		if d.Ref == "pkg:deb/debian/python3@3.11.2-1%2Bb1?arch=amd64&distro=debian-12" && d.Dependencies != nil && (*d.Dependencies)[0] == "pkg:deb/debian/python3.11@3.11.2-6?arch=amd64&distro=debian-12" {
			found = true
		}
	}
	if !found {
		t.Errorf("python3 does not depend on python3.11: %+v", *bom.Dependencies)
	}
	for _, c := range *bom.Components {
		if c.Name == "Typing_Extensions" && (c.Licenses == nil || (*c.Licenses)[0].Expression != "PSF-2.0") {
			t.Errorf("typing-extensions' licenses: %+v", c.Licenses)
		}
	}
}

// The provenance is an in-toto v1 statement about the image with a SLSA
// provenance v1 predicate naming assemble, the convention and the materials.
func TestProvenance(t *testing.T) {
	b, err := Provenance(testInput(t))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			BuildDefinition struct {
				ExternalParameters struct {
					Convention string `json:"convention"`
				} `json:"externalParameters"`
				ResolvedDependencies []struct {
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Builder struct {
					ID string `json:"id"`
				} `json:"builder"`
			} `json:"runDetails"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	deps := st.Predicate.BuildDefinition.ResolvedDependencies
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != ProvenanceType || st.Subject[0].Digest["sha256"] != strings.Repeat("ab", 32) ||
		st.Predicate.BuildDefinition.ExternalParameters.Convention != "assemble.toml" || st.Predicate.RunDetails.Builder.ID != BuilderID || len(deps) != 3 ||
		deps[0].Digest["gitCommit"] != strings.Repeat("5", 40) || deps[1].Digest["sha256"] != strings.Repeat("cd", 32) || deps[2].Digest["sha256"] != strings.Repeat("6", 64) {
		t.Errorf("provenance:\n%s", b)
	}
}

// Machine-readable copyright files give SPDX expressions; free-form ones give none.
func TestLicense(t *testing.T) {
	dep5 := `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: x

Files: *
Copyright: 2000 Someone
License: GPL-2+

Files: lib/*
Copyright: 2001 Other
License: LGPL-2.1 or Artistic
 Some text.

License: GPL-2+
 The text.
`
	if got, want := License([]byte(dep5)), "GPL-2.0-or-later AND (LGPL-2.1-only OR Artistic-1.0-Perl)"; got != want {
		t.Errorf("License = %q, want %q", got, want)
	}
	if got := License([]byte("This package was debianized by someone.\nIt is GPL.\n")); got != "" {
		t.Errorf("free-form file gave %q", got)
	}
	if got := License([]byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: public-domain\n")); got != "LicenseRef-public-domain" {
		t.Errorf("unknown name gave %q", got)
	}
}

// A referrer names the image as its subject, with the document as its one
// titled layer and its media type as artifactType.
func TestReferrer(t *testing.T) {
	in := testInput(t)
	docs, err := Documents(in, FormatSPDX)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Referrer(in.Subject, docs[0], in.Created)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject == nil || m.Subject.Digest != in.Subject.Digest || m.Subject.Size != 629 || m.ArtifactType != SPDXMediaType ||
		len(m.Layers) != 1 || m.Layers[0].Annotations["org.opencontainers.image.title"] != "sbom.spdx.json" || m.Config.MediaType != "application/vnd.oci.empty.v1+json" {
		t.Errorf("referrer manifest: %+v", m)
	}
}

// A Python distribution's license: License-Expression, else a License
// field that is an SPDX expression, else classifiers that name one license
// (a family's only with a License field that says which); else none.
func TestPythonLicense(t *testing.T) {
	osi := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, "License :: OSI Approved :: "+n)
		}
		return out
	}
	for _, c := range []struct {
		expr, license string
		classifiers   []string
		want          string
	}{
		{"MIT OR Apache-2.0", "MIT", osi("BSD License"), "MIT OR Apache-2.0"},
		{"mit", "", nil, "MIT"},                                  // normalised
		{"MIT or nonsense", "BSD-3-Clause", nil, "BSD-3-Clause"}, // an invalid expression is passed over
		{"", "Apache-2.0", osi("Apache Software License"), "Apache-2.0"},
		{"", "GPL-2.0-or-later WITH Classpath-exception-2.0", nil, "GPL-2.0-or-later WITH Classpath-exception-2.0"},
		{"LicenseRef-Proprietary", "", nil, ""},        // a reference the document would have to define
		{"", "MIT License", osi("MIT License"), "MIT"}, // pip's and wheel's style: "License: MIT"
		{"", "", osi("MIT License"), "MIT"},            // setuptools 66: the classifier alone
		{"", "", append(osi("MIT License"), "License :: OSI Approved"), "MIT"},
		{"", "", osi("Python Software Foundation License"), "PSF-2.0"},
		{"", "", osi("GNU General Public License v3 or later (GPLv3+)"), "GPL-3.0-or-later"},
		{"", "", []string{"License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication"}, "CC0-1.0"},
		{"", "Apache 2.0", osi("Apache Software License"), "Apache-2.0"},
		{"", "Apache License, Version 2.0", osi("Apache Software License"), "Apache-2.0"},
		{"", "", osi("Apache Software License"), ""}, // 1.0, 1.1 or 2.0
		{"", "BSD", osi("BSD License"), ""},          // 2, 3 or 4 clauses
		{"", "BSD 3-Clause", osi("BSD License"), "BSD-3-Clause"},
		{"", "New BSD License", osi("BSD License"), "BSD-3-Clause"},
		{"", "Simplified BSD", osi("BSD License"), "BSD-2-Clause"},
		{"", "Copyright (c) 2005, NumPy Developers.\nAll rights reserved.", osi("BSD License"), ""},
		{"", "", osi("GNU Lesser General Public License v2 (LGPLv2)"), ""}, // 2.0 or 2.1
		{"", "", osi("MIT License", "Apache Software License"), ""},        // both? either?
		{"", "", []string{"License :: Other/Proprietary License"}, ""},
		{"", "UNKNOWN", nil, ""},
		{"", "", nil, ""},
	} {
		if got := PythonLicense(c.expr, c.license, c.classifiers); got != c.want {
			t.Errorf("PythonLicense(%q, %q, %q) = %q, want %q", c.expr, c.license, c.classifiers, got, c.want)
		}
	}
}
