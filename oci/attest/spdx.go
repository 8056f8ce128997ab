package attest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
)

// spdxNamespaceBase prefixes every document namespace: a URI the project
// owns, followed by the image's name and manifest digest, so two builds of
// the same image share a namespace and two images never do.
const spdxNamespaceBase = "https://github.com/assemble-build/assemble/spdx/"

// SPDX writes in as an SPDX 2.3 JSON document: the image package, which
// DESCRIBES; the base, the repository, every Debian package, Python
// distribution and conda package, which the image CONTAINS; and DEPENDS_ON
// between packages of a kind where both ends were installed.
func SPDX(in Input) ([]byte, error) {
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      in.docName(),
		DocumentNamespace: spdxNamespaceBase + in.docName(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "assemble-" + builderVersion()}},
			Created:  in.created(),
		},
	}
	img := &spdx.Package{
		PackageName: in.Name, PackageSPDXIdentifier: "Image", PackageVersion: in.Subject.Digest.String(),
		PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "CONTAINER",
		PackageChecksums: []common.Checksum{{Algorithm: common.SHA256, Value: in.Subject.Digest.Hex}},
		PackageComment:   "platform " + in.Platform,
	}
	doc.Packages = append(doc.Packages, img)
	rel := func(a common.ElementID, typ string, b common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: typ})
	}
	rel("DOCUMENT", common.TypeRelationshipDescribe, "Image")
	if p := spdxBase(in.Base); p != nil {
		doc.Packages = append(doc.Packages, p)
		rel("Image", common.TypeRelationshipContains, p.PackageSPDXIdentifier)
	}
	if p := spdxRepo(in.Repo); p != nil {
		doc.Packages = append(doc.Packages, p)
		rel("Image", common.TypeRelationshipGeneratedFrom, p.PackageSPDXIdentifier)
	}
	licenses := map[string]bool{}
	debs := sortedDebs(in.Debs)
	for _, d := range debs {
		p := spdxDeb(d, in.Distro, licenses)
		doc.Packages = append(doc.Packages, p)
		rel("Image", common.TypeRelationshipContains, p.PackageSPDXIdentifier)
	}
	deps := depends(debs)
	for _, d := range debs {
		for _, n := range deps[d.Name] {
			rel(debID(d.Name), common.TypeRelationshipDependsOn, debID(n))
		}
	}
	wheels := sortedWheels(in.Wheels)
	for _, w := range wheels {
		p := spdxWheel(w)
		doc.Packages = append(doc.Packages, p)
		rel("Image", common.TypeRelationshipContains, p.PackageSPDXIdentifier)
	}
	wdeps := wheelDepends(wheels)
	for _, w := range wheels {
		for _, n := range wdeps[normalizePyName(w.Name)] {
			rel(pyID(w.Name), common.TypeRelationshipDependsOn, pyID(n))
		}
	}
	condas := sortedConda(in.Conda)
	cids := condaIDs(condas)
	for i, c := range condas {
		doc.Packages = append(doc.Packages, spdxConda(c, cids[i]))
		rel("Image", common.TypeRelationshipContains, cids[i])
	}
	cdeps := condaDepends(condas)
	for i := range condas {
		for _, j := range cdeps[i] {
			rel(cids[i], common.TypeRelationshipDependsOn, cids[j])
		}
	}
	for _, ref := range sortedKeys(licenses) {
		doc.OtherLicenses = append(doc.OtherLicenses, &spdx.OtherLicense{
			LicenseIdentifier: ref, ExtractedText: "Debian copyright file license " + strings.TrimPrefix(ref, "LicenseRef-"),
			LicenseName: strings.TrimPrefix(ref, "LicenseRef-")})
	}
	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf, spdxjson.Indent("  ")); err != nil {
		return nil, fmt.Errorf("writing the SPDX document: %w", err)
	}
	return buf.Bytes(), nil
}

func spdxBase(b Base) *spdx.Package {
	if b.Ref == "" {
		return nil
	}
	p := &spdx.Package{PackageName: b.Ref, PackageSPDXIdentifier: "Base", PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "CONTAINER"}
	if b.Digest.Hex != "" {
		p.PackageVersion = b.Digest.String()
		p.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: b.Digest.Hex}}
	}
	return p
}

func spdxRepo(r Repo) *spdx.Package {
	if r.Revision == "" {
		return nil
	}
	loc := "NOASSERTION"
	if r.Source != "" {
		loc = "git+" + strings.TrimPrefix(r.Source, "git+") + "@" + r.Revision
	}
	return &spdx.Package{PackageName: "repository", PackageSPDXIdentifier: "Repository", PackageVersion: r.Revision,
		PackageDownloadLocation: loc, PrimaryPackagePurpose: "SOURCE",
		PackageChecksums: []common.Checksum{{Algorithm: common.SHA1, Value: r.Revision}}}
}

// spdxDeb is one Debian package; LicenseRefs it uses are added to refs.
func spdxDeb(d Deb, distro string, refs map[string]bool) *spdx.Package {
	p := &spdx.Package{
		PackageName: d.Name, PackageSPDXIdentifier: debID(d.Name), PackageVersion: d.Version,
		PackageFileName: d.Filename, PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "OPERATING-SYSTEM",
		PackageSupplier:         &common.Supplier{Supplier: "NOASSERTION"},
		PackageChecksums:        []common.Checksum{{Algorithm: common.SHA256, Value: d.SHA256}},
		PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
		PackageExternalReferences: []*spdx.PackageExternalReference{{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: debPURL(d, distro)}},
	}
	if d.Source != "" && d.Source != d.Name {
		p.PackageSourceInfo = "built from source package " + d.Source
	}
	if d.License != "" {
		p.PackageLicenseDeclared = d.License
		for _, m := range licenseRefRE.FindAllString(d.License, -1) {
			refs[m] = true
		}
	}
	return p
}

var licenseRefRE = lazyregexp.New(`LicenseRef-[A-Za-z0-9.-]+`)

func spdxWheel(w Wheel) *spdx.Package {
	p := &spdx.Package{
		PackageName: w.Name, PackageSPDXIdentifier: pyID(w.Name),
		PackageVersion: w.Version, PackageFileName: w.Filename, PackageDownloadLocation: "NOASSERTION",
		PrimaryPackagePurpose: "LIBRARY", PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION",
		PackageCopyrightText:      "NOASSERTION",
		PackageExternalReferences: []*spdx.PackageExternalReference{{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: pypiPURL(w)}},
	}
	if w.URL != "" {
		p.PackageDownloadLocation = w.URL
	}
	if w.SHA256 != "" {
		p.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: w.SHA256}}
	}
	if w.License != "" {
		p.PackageLicenseDeclared = w.License
	}
	return p
}

// spdxConda is one conda package: downloaded from its URL, with the
// repodata's sha256 and, when it is an SPDX expression, its license.
func spdxConda(c Conda, id common.ElementID) *spdx.Package {
	p := &spdx.Package{
		PackageName: c.Name, PackageSPDXIdentifier: id, PackageVersion: c.Version, PackageFileName: c.Filename,
		PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "LIBRARY",
		PackageSupplier:         &common.Supplier{Supplier: "NOASSERTION"},
		PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
		PackageComment:            "conda build " + c.Build + ", subdir " + c.Subdir + ", in environment " + c.Prefix,
		PackageExternalReferences: []*spdx.PackageExternalReference{{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: condaPURL(c)}},
	}
	if c.URL != "" {
		p.PackageDownloadLocation = c.URL
	}
	if c.SHA256 != "" {
		p.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: c.SHA256}}
	}
	if c.License != "" {
		p.PackageLicenseDeclared = c.License
	}
	return p
}

// condaIDs are the SPDX identifiers of sorted conda packages: "Conda-NAME",
// numbered from the second environment that holds a package of that name.
func condaIDs(cs []Conda) []common.ElementID {
	out := make([]common.ElementID, len(cs))
	seen := map[string]int{}
	for i, c := range cs {
		id := "Conda-" + spdxIDPart(c.Name)
		if seen[id]++; seen[id] > 1 {
			id = fmt.Sprintf("%s-%d", id, seen[id])
		}
		out[i] = common.ElementID(id)
	}
	return out
}

func debID(name string) common.ElementID { return common.ElementID("Deb-" + spdxIDPart(name)) }

func pyID(name string) common.ElementID {
	return common.ElementID("Python-" + spdxIDPart(normalizePyName(name)))
}

// spdxIDPart keeps what an SPDX identifier may hold (letters, digits, "." and "-").
func spdxIDPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
