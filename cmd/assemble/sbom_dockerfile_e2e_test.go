package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/assemble-build/assemble/internal/testtool"
)

// sbomDockerfile installs in a build stage (make: not in the image, since
// only a file is copied from it) and in the final stage (jq, with python3
// already in the layout base; pip, setuptools and wheel from the command
// line's wheelhouse).
const sbomDockerfile = `ARG BASE
FROM ${BASE} AS build
RUN apt-get install -y --no-install-recommends make

FROM ${BASE}
COPY --from=build /usr/bin/make /usr/local/bin/make
RUN apt-get update \
 && apt-get install -y --no-install-recommends jq python3 \
 && rm -rf /var/lib/apt/lists/*
RUN pip install pip setuptools wheel
`

// The SBOM of a Dockerfile image lists what its final stage's chain put in
// it: the base by digest (in the provenance's materials too), the Debian
// packages and wheels translated RUN lines installed, not the build
// stage's. Over a layout base built by assemble, the base's own SBOM and
// the image's together are dpkg-query -W of the image; its Python
// packages are pip list; two builds give the same bytes. FROM deb:bookworm
// lists the root's packages as well: the SBOM is dpkg-query -W.
func TestSBOMOfDockerfileImage(t *testing.T) {
	hostIsAmd64(t)
	wheels := debianWheels(t)
	cache := testtool.CacheDir(t)
	baseRepo := dockerfileRepo(t, map[string]string{"assemble.toml": `[[image]]
name = "pybase"
base = "deb:bookworm"
[[image.layer]]
type = "deb"
packages = ["python3"]
`})
	baseLayout, baseOut := filepath.Join(shortTempDir(t), "base"), t.TempDir()
	mustAssemble(t, cache, "build", baseRepo, "-o", "oci:"+baseLayout, "--sbom-out", baseOut)
	baseRef := "oci:" + baseLayout + ":pybase:latest"
	baseDigest := readIndex(t, baseLayout)["pybase:latest"]

	repo := dockerfileRepo(t, map[string]string{"Dockerfile": sbomDockerfile})
	build := func(base string) (layout string, sbom, prov []byte) {
		layout, out := filepath.Join(shortTempDir(t), "layout"), t.TempDir()
		mustAssemble(t, cache, "build", repo, "--build-arg", "BASE="+base, "--find-links", wheels, "--no-index", "-o", "oci:"+layout, "--sbom-out", out)
		return layout, readOne(t, out, "*.sbom.spdx.json"), readOne(t, out, "*.provenance.intoto.json")
	}
	layout, sbom, prov := build(baseRef)
	if _, again, provAgain := build(baseRef); !bytes.Equal(sbom, again) || !bytes.Equal(prov, provAgain) {
		t.Error("two builds wrote different SBOM or provenance bytes")
	}
	doc := readSPDX(t, sbom)
	img := "oci:" + layout + ":" + onlyRef(t, layout)

	// The base, by the digest of the layout's image, in the SBOM and the provenance.
	if p := spdxPackage(doc, "Base"); p == nil || p.PackageName != baseRef || p.PackageVersion != baseDigest {
		t.Errorf("SBOM base %+v, want %s at %s", p, baseRef, baseDigest)
	}
	if !strings.Contains(string(prov), `"uri": "`+baseRef+`",`) || !strings.Contains(string(prov), `"sha256": "`+strings.TrimPrefix(baseDigest, "sha256:")+`"`) {
		t.Errorf("the provenance's materials do not name the base %s by digest:\n%s", baseDigest, prov)
	}

	// Debian packages: the base's SBOM and this one, apart, are the image's dpkg database.
	debs, pys := sbomPackages(doc)
	baseDebs, _ := sbomPackages(readSPDX(t, readOne(t, baseOut, "*.sbom.spdx.json")))
	dpkg := dpkgQuery(t, img)
	all := map[string]string{}
	for n, v := range baseDebs {
		all[n] = v
	}
	for n, v := range debs {
		if _, dup := baseDebs[n]; dup {
			t.Errorf("the SBOM lists %s, which the base had", n)
		}
		all[n] = v
	}
	if got, want := pairs(all), pairs(dpkg); got != want {
		t.Errorf("base SBOM + image SBOM differ from dpkg-query -W:\nSBOMs: %s\ndpkg:  %s", got, want)
	}
	if debs["jq"] == "" || debs["libjq1"] == "" || debs["make"] != "" || debs["python3"] != "" {
		t.Errorf("Debian packages of the image's SBOM: %s", pairs(debs))
	}
	checkDebFields(t, doc)

	// Python: pip list, with their wheels, hashes and licenses.
	var pip []struct{ Name, Version string }
	if err := json.Unmarshal([]byte(podmanRun(t, img, "python3", "-m", "pip", "list", "--format", "json")), &pip); err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, p := range pip {
		listed[strings.ToLower(p.Name)] = p.Version
	}
	if got, want := pairs(pys), pairs(listed); got != want || len(pys) != 3 {
		t.Errorf("SBOM Python packages differ from pip list:\nSBOM: %s\npip:  %s", got, want)
	}
	p := spdxPackage(doc, "Python-pip")
	sum := sha256.Sum256(mustRead(t, filepath.Join(wheels, "pip-23.0.1-py3-none-any.whl")))
	if p == nil || p.PackageFileName != "pip-23.0.1-py3-none-any.whl" || len(p.PackageChecksums) != 1 || p.PackageChecksums[0].Value != hex.EncodeToString(sum[:]) ||
		p.PackageExternalReferences[0].Locator != "pkg:pypi/pip@23.0.1" {
		t.Errorf("pip in the SBOM: %+v", p)
	}
	for _, id := range []string{"Python-pip", "Python-setuptools", "Python-wheel"} {
		if p := spdxPackage(doc, id); p == nil || p.PackageLicenseDeclared != "MIT" {
			t.Errorf("%s: declared license %q, want MIT (METADATA's License field or classifier)", id, p.PackageLicenseDeclared)
		}
	}

	// FROM deb:bookworm: the root's packages are listed too.
	layout, sbom, _ = build("deb:bookworm")
	doc = readSPDX(t, sbom)
	debs, _ = sbomPackages(doc)
	if got, want := pairs(debs), pairs(dpkgQuery(t, "oci:"+layout+":"+onlyRef(t, layout))); got != want || debs["make"] != "" {
		t.Errorf("FROM deb:bookworm: SBOM Debian packages differ from dpkg-query -W:\nSBOM: %s\ndpkg: %s", got, want)
	}
	if p := spdxPackage(doc, "Base"); p == nil || p.PackageName != "deb:bookworm" || !strings.HasPrefix(p.PackageVersion, "sha256:") {
		t.Errorf("FROM deb:bookworm: SBOM base %+v", p)
	}
}

// checkDebFields checks that jq's packages have what a deb: image's have:
// version, arch and distro in the purl, the .deb and its SHA256, the
// source package and DEPENDS_ON between them.
func checkDebFields(t *testing.T, doc *spdx.Document) {
	t.Helper()
	p := spdxPackage(doc, "Deb-libjq1")
	if p == nil {
		t.Fatal("the SBOM does not list libjq1")
	}
	purl := "pkg:deb/debian/libjq1@" + strings.ReplaceAll(p.PackageVersion, "+", "%2B") + "?arch=amd64&distro=debian-12"
	if p.PackageExternalReferences[0].Locator != purl || p.PackageLicenseDeclared == "NOASSERTION" ||
		!strings.HasSuffix(p.PackageFileName, "_amd64.deb") || len(p.PackageChecksums) != 1 || len(p.PackageChecksums[0].Value) != 64 ||
		p.PackageSourceInfo != "built from source package jq" {
		t.Errorf("libjq1 in the SBOM: %+v", p)
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID)] = true
	}
	for _, want := range []string{"Image CONTAINS Base", "Image CONTAINS Deb-jq", "Deb-jq DEPENDS_ON Deb-libjq1", "Deb-libjq1 DEPENDS_ON Deb-libonig5", "Image CONTAINS Python-pip"} {
		if !rels[want] {
			t.Errorf("no relationship %q", want)
		}
	}
}

// readOne reads the one file in dir that pattern matches.
func readOne(t *testing.T, dir, pattern string) []byte {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) != 1 {
		t.Fatalf("%s in %s: %v, want one file", pattern, dir, m)
	}
	return mustRead(t, m[0])
}

// readSPDX parses and validates an SPDX document with spdx/tools-golang.
func readSPDX(t *testing.T, b []byte) *spdx.Document {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func spdxPackage(doc *spdx.Document, id string) *spdx.Package {
	for _, p := range doc.Packages {
		if string(p.PackageSPDXIdentifier) == id {
			return p
		}
	}
	return nil
}

// sbomPackages are an SBOM's Debian and Python packages, name → version.
func sbomPackages(doc *spdx.Document) (debs, pys map[string]string) {
	debs, pys = map[string]string{}, map[string]string{}
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			switch {
			case strings.HasPrefix(r.Locator, "pkg:deb/debian/"):
				debs[p.PackageName] = p.PackageVersion
			case strings.HasPrefix(r.Locator, "pkg:pypi/"):
				pys[strings.ToLower(p.PackageName)] = p.PackageVersion
			}
		}
	}
	return debs, pys
}

// dpkgQuery is the installed packages of an image, as dpkg-query -W lists them under podman.
func dpkgQuery(t *testing.T, img string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(podmanRun(t, img, "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n")), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "ii" {
			out[f[1]] = f[2]
		}
	}
	return out
}
