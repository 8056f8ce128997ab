package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/spdx/tools-golang/spdx"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers/conda/condatest"
)

// condaMeta is a conda-meta/*.json record as the image holds it.
type condaMeta struct {
	Name, Version, Build, Subdir, Channel, URL, SHA256 string
	Fn                                                 string `json:"fn"`
}

// The SBOM of an image built from environment.yml lists exactly the
// conda packages whose conda-meta records the image holds (read from the
// layout), with the purls, sha256 and licenses of the channels' repodata
// (an SPDX license as it is, another NOASSERTION), DEPENDS_ON from their
// depends, and the pip: section's distribution; it is valid SPDX and the
// same bytes twice; CycloneDX has as many conda components; the
// provenance names each repodata.json read by its sha256. An explicit
// lock installed as it is is a material, and no repodata is.
func TestBinderCondaSBOM(t *testing.T) {
	hostIsAmd64(t)
	alias := t.TempDir()
	condaChannel(t, alias)
	extras := condatest.NewChannel(t, filepath.Join(alias, "extras"))
	extras.AddAll(t,
		condatest.Package{Name: "licensed", Version: "1.0", Build: "0", Noarch: "generic", License: "mit", Depends: []string{"oddlicense >=0.1"},
			Files: map[string]condatest.File{"share/licensed.txt": {Data: "x\n"}}},
		condatest.Package{Name: "oddlicense", Version: "0.2", Build: "0", License: "BSD 3-Clause", TarBz2: true,
			Files: map[string]condatest.File{"share/odd.txt": {Data: "y\n"}}})
	extras.Write(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(alias)))
	defer srv.Close()
	repo := t.TempDir()
	writeRepo(t, repo, map[string]string{
		"environment.yml": "channels:\n  - conda-forge\n  - extras\ndependencies:\n  - python=3.11\n  - hello\n  - licensed\n  - pip:\n    - binderdemo\n",
		"apt.txt":         "python3.11-minimal\n",
	})
	flags := []string{"--conda-channel-alias", srv.URL, "--conda-base-env="}
	out, again := t.TempDir(), t.TempDir()
	img, _ := buildBinder(t, repo, append(flags, "--sbom-out", out)...)
	buildBinder(t, repo, append(flags, "--sbom-out", again)...)
	sbom := readOne(t, out, "*.sbom.spdx.json")
	if !bytes.Equal(sbom, readOne(t, again, "*.sbom.spdx.json")) || !bytes.Equal(readOne(t, out, "*.provenance.intoto.json"), readOne(t, again, "*.provenance.intoto.json")) {
		t.Error("two builds wrote different SBOM or provenance bytes")
	}
	doc := readSPDX(t, sbom)
	metas := imageCondaMeta(t, img, doc)
	repodata := channelRepodata(t, alias)
	got := map[string]*spdx.Package{}
	for _, p := range doc.Packages {
		if strings.HasPrefix(purlOf(p), "pkg:conda/") {
			got[p.PackageName] = p
		}
	}
	if len(got) != len(metas) || len(metas) != 5 {
		t.Errorf("SBOM lists %d conda packages, the image's conda-meta %d (want 5)", len(got), len(metas))
	}
	for name, m := range metas {
		p := got[name]
		if p == nil {
			t.Errorf("%s-%s-%s is in the image, not in the SBOM", name, m.Version, m.Build)
			continue
		}
		rd := repodata[m.Subdir+"/"+m.Fn]
		ext := ".conda"
		if strings.HasSuffix(m.Fn, ".tar.bz2") {
			ext = ".tar.bz2"
		}
		ch := strings.TrimPrefix(m.Channel, srv.URL+"/")
		purl := "pkg:conda/" + name + "@" + rd.Version + "?build=" + rd.Build + "&channel=" + ch + "&subdir=" + m.Subdir + "&type=" + ext[1:]
		if p.PackageVersion != m.Version || !strings.Contains(p.PackageComment, "build "+m.Build+",") || purlOf(p) != purl ||
			len(p.PackageChecksums) != 1 || p.PackageChecksums[0].Value != rd.SHA256 || rd.SHA256 != m.SHA256 ||
			p.PackageDownloadLocation != m.URL || p.PackageFileName != m.Fn {
			t.Errorf("%s in the SBOM: %s %s %s %v %s\nimage: %+v\nrepodata: %+v", name, p.PackageVersion, p.PackageComment, purlOf(p), p.PackageChecksums, p.PackageDownloadLocation, m, rd)
		}
	}
	if l := got["licensed"]; l == nil || l.PackageLicenseDeclared != "MIT" {
		t.Error("licensed's repodata license mit is not MIT in the SBOM")
	}
	if l := got["oddlicense"]; l == nil || l.PackageLicenseDeclared != "NOASSERTION" {
		t.Error("oddlicense's license BSD 3-Clause is not NOASSERTION in the SBOM")
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID)] = true
	}
	for _, want := range []string{"Image CONTAINS Conda-python", "Image CONTAINS Conda-hello", "Conda-hello DEPENDS_ON Conda-python",
		"Conda-hello DEPENDS_ON Conda-libgreet", "Conda-licensed DEPENDS_ON Conda-oddlicense", "Image CONTAINS Python-binderdemo"} {
		if !rels[want] {
			t.Errorf("no relationship %q", want)
		}
	}

	// CycloneDX: as many conda components.
	cout := t.TempDir()
	buildBinder(t, repo, append(flags, "--sbom-format", "cyclonedx", "--sbom-out", cout)...)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(readOne(t, cout, "*.sbom.cdx.json")), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range *bom.Components {
		if strings.HasPrefix(c.PackageURL, "pkg:conda/") {
			n++
		}
	}
	if n != len(metas) {
		t.Errorf("CycloneDX has %d conda components, want %d", n, len(metas))
	}

	// The provenance: each channel's repodata.json by its sha256.
	deps := provenanceDeps(t, readOne(t, out, "*.provenance.intoto.json"))
	for _, f := range []string{"conda-forge/linux-64", "conda-forge/noarch", "extras/linux-64", "extras/noarch"} {
		u := srv.URL + "/" + f + "/repodata.json"
		if deps[u] != fileSHA256(t, filepath.Join(alias, f, "repodata.json")) {
			t.Errorf("provenance: %s is %q: %v", u, deps[u], deps)
		}
	}

	// An explicit lock (plan --resolve's) installed as it is.
	lock := "# platform: linux-64\n@EXPLICIT\n"
	for _, n := range []string{"python", "libgreet", "hello", "oddlicense", "licensed"} {
		lock += metas[n].URL + "#" + metas[n].SHA256 + "\n"
	}
	writeRepo(t, repo, map[string]string{"conda-linux-64.lock": lock})
	lout := t.TempDir()
	buildBinder(t, repo, append(flags, "--sbom-out", lout)...)
	deps = provenanceDeps(t, readOne(t, lout, "*.provenance.intoto.json"))
	if deps["conda-linux-64.lock"] != fileSHA256(t, filepath.Join(repo, "conda-linux-64.lock")) || deps[srv.URL+"/conda-forge/noarch/repodata.json"] != "" {
		t.Errorf("provenance of a lock install: %v", deps)
	}
}

func writeRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	testtool.WriteFiles(t, dir, files, func(string) bool { return false })
}

// purlOf is an SPDX package's first purl.
func purlOf(p *spdx.Package) string {
	for _, r := range p.PackageExternalReferences {
		if r.RefType == "purl" {
			return r.Locator
		}
	}
	return ""
}

// imageCondaMeta reads the conda-meta records of the notebook environment
// from the files of the image the SBOM describes (in the layout of ref,
// "oci:DIR:NAME:TAG"), by package name.
func imageCondaMeta(t *testing.T, ref string, doc *spdx.Document) map[string]condaMeta {
	t.Helper()
	dir, _, _ := strings.Cut(strings.TrimPrefix(ref, "oci:"), ":")
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(spdxPackage(doc, "Image").PackageVersion)
	if err != nil {
		t.Fatal(err)
	}
	img, err := lp.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]condaMeta{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if path.Dir(name) != "srv/conda/envs/notebook/conda-meta" || path.Ext(name) != ".json" {
			continue
		}
		var m condaMeta
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[m.Name] = m
	}
	return out
}

// repodataEntry is what the test checks of a channel's record.
type repodataEntry struct{ Version, Build, SHA256 string }

// channelRepodata reads the test channels' repodata.json, by "SUBDIR/FILE".
func channelRepodata(t *testing.T, alias string) map[string]repodataEntry {
	t.Helper()
	out := map[string]repodataEntry{}
	files, _ := filepath.Glob(filepath.Join(alias, "*", "*", "repodata.json"))
	for _, f := range files {
		var rd struct {
			Packages      map[string]repodataEntry `json:"packages"`
			PackagesConda map[string]repodataEntry `json:"packages.conda"`
		}
		if err := json.Unmarshal(mustRead(t, f), &rd); err != nil {
			t.Fatal(err)
		}
		sd := filepath.Base(filepath.Dir(f))
		for _, m := range []map[string]repodataEntry{rd.Packages, rd.PackagesConda} {
			for fn, e := range m {
				out[sd+"/"+fn] = e
			}
		}
	}
	return out
}

// provenanceDeps are a provenance's resolved dependencies, URI → sha256.
func provenanceDeps(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				ResolvedDependencies []struct {
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		out[d.URI] = d.Digest["sha256"]
	}
	return out
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	sum := sha256.Sum256(mustRead(t, p))
	return hex.EncodeToString(sum[:])
}
