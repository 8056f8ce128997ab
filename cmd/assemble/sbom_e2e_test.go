package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// The SBOM of a deb:bookworm + python3 + wheels image (testdata/python,
// whose wheels include pip): valid SPDX 2.3 as spdx/tools-golang reads it;
// its Debian packages are what dpkg-query -W says the image holds, its
// Python packages what pip list says; a second build gives the same bytes;
// inspect --sbom prints it from the layout.
func TestSBOMOfDebianPythonImage(t *testing.T) {
	hostIsAmd64(t)
	wheels := debianWheels(t)
	cache := testtool.CacheDir(t)
	build := func(extra ...string) (layout, out string) {
		layout, out = filepath.Join(shortTempDir(t), "layout"), t.TempDir()
		args := append([]string{"build", "../../testdata/python", "--find-links", wheels, "--no-index", "-o", "oci:" + layout, "--sbom-out", out}, extra...)
		mustAssemble(t, cache, args...)
		return layout, out
	}
	layout, out := build()
	_, again := build()
	const file = "python-tools_linux-amd64.sbom.spdx.json"
	sbom, prov := mustRead(t, filepath.Join(out, file)), mustRead(t, filepath.Join(out, "python-tools_linux-amd64.provenance.intoto.json"))
	if !bytes.Equal(sbom, mustRead(t, filepath.Join(again, file))) || !bytes.Equal(prov, mustRead(t, filepath.Join(again, "python-tools_linux-amd64.provenance.intoto.json"))) {
		t.Error("two builds wrote different SBOM or provenance bytes")
	}
	doc, err := spdxjson.Read(bytes.NewReader(sbom))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	debs, pys := map[string]string{}, map[string]string{}
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
	img := "oci:" + layout + ":python-tools:latest"
	dpkg := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(podmanRun(t, img, "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n")), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "ii" {
			dpkg[f[1]] = f[2]
		}
	}
	if got, want := pairs(debs), pairs(dpkg); got != want || len(dpkg) < 50 {
		t.Errorf("SBOM Debian packages differ from dpkg-query -W:\nSBOM: %s\ndpkg: %s", got, want)
	}
	var pip []struct{ Name, Version string }
	if err := json.Unmarshal([]byte(podmanRun(t, img, "python3", "-m", "pip", "list", "--format", "json")), &pip); err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, p := range pip {
		listed[strings.ToLower(p.Name)] = p.Version
	}
	if got, want := pairs(pys), pairs(listed); got != want {
		t.Errorf("SBOM Python packages differ from pip list:\nSBOM: %s\npip:  %s", got, want)
	}
	if r := mustAssemble(t, cache, "inspect", "--sbom", img); r.stdout != string(sbom) {
		t.Errorf("inspect --sbom printed another document:\n%.400s", r.stdout)
	}

	// CycloneDX: the same packages.
	_, cout := build("--sbom-format", "cyclonedx")
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(mustRead(t, filepath.Join(cout, "python-tools_linux-amd64.sbom.cdx.json"))), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range *bom.Components {
		if c.PackageURL != "" {
			n++
		}
	}
	if bom.SpecVersion != cdx.SpecVersion1_5 || n != len(debs)+len(pys) {
		t.Errorf("CycloneDX %v has %d packages, want %d", bom.SpecVersion, n, len(debs)+len(pys))
	}
}

// pairs writes a name → version map as sorted "name=version" words.
func pairs(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// Pushed to docker-registry, which has no referrers API: oras discover
// finds the SBOM and the provenance through the sha256-HEX fallback tag,
// oras pull returns them; a re-push writes nothing; copy carries them and
// --no-referrers leaves them; --sbom=false attaches none.
func TestSBOMReferrersInRegistry(t *testing.T) {
	oras := testtool.RequireTool(t, "oras")
	git := testtool.RequireTool(t, "git")
	repo := filepath.Join(t.TempDir(), "hello")
	testtool.CopyTree(t, "../../testdata/hello", repo)
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "hello"},
		{"remote", "add", "origin", "https://git.example/hello.git"}} {
		if out, err := exec.Command(git, append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	rev, _ := exec.Command(git, "-C", repo, "rev-parse", "HEAD").Output()
	reg := ocitest.StartRegistry(t)
	cache, out := t.TempDir(), t.TempDir()
	ref := reg.Ref("demo/hello:1.0")
	digest := jsonDigest(t, mustAssemble(t, cache, "--insecure-registry", reg.Host, "build", repo, "-t", ref, "--push", "--sbom-out", out, "--json").stdout)
	sbom := mustRead(t, filepath.Join(out, strings.NewReplacer(":", "-", "/", "-").Replace(reg.Host+"/demo/hello")+"_linux-"+hostArch()+".sbom.spdx.json"))
	if !strings.Contains(string(sbom), strings.TrimSpace(string(rev))) || !strings.Contains(string(sbom), "git+https://git.example/hello.git@") {
		t.Errorf("the SBOM does not name the repository's revision and remote:\n%s", sbom)
	}

	discover := func(ref string) map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, m := range ocitest.Discover(t, oras, ref) {
			got[m.ArtifactType] = m.Digest
		}
		return got
	}
	found := discover(reg.Ref("demo/hello@" + digest))
	if len(found) != 2 || found["application/spdx+json"] == "" || found["application/vnd.in-toto+json"] == "" {
		t.Fatalf("oras discover: %v", found)
	}
	pulled := t.TempDir()
	if b, err := exec.Command(oras, "pull", "--plain-http", "-o", pulled, reg.Ref("demo/hello@"+found["application/spdx+json"])).CombinedOutput(); err != nil {
		t.Fatalf("oras pull: %v\n%s", err, b)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(pulled, "sbom.spdx.json")), sbom) {
		t.Error("oras pull returned another SBOM than --sbom-out wrote")
	}
	if r := mustAssemble(t, cache, "--insecure-registry", reg.Host, "inspect", "--sbom", "docker://"+ref); r.stdout != string(sbom) {
		t.Errorf("inspect --sbom docker://: %.300s", r.stdout)
	}

	reg.Reset()
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "build", repo, "-t", ref, "--push")
	if n := reg.BlobUploads() + reg.Count(ocitest.ManifestPut); n != 0 {
		t.Errorf("re-push wrote %d times:\n%v", n, reg.Requests())
	}

	mustAssemble(t, cache, "--insecure-registry", reg.Host, "copy", "docker://"+ref, "docker://"+reg.Ref("copy/hello:1.0"))
	if got := discover(reg.Ref("copy/hello@" + digest)); len(got) != 2 || got["application/spdx+json"] != found["application/spdx+json"] {
		t.Errorf("copy carried %v, want %v", got, found)
	}
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "copy", "--no-referrers", "docker://"+ref, "docker://"+reg.Ref("bare/hello:1.0"))
	if got := discover(reg.Ref("bare/hello@" + digest)); len(got) != 0 {
		t.Errorf("copy --no-referrers carried %v", got)
	}
	mustAssemble(t, cache, "--insecure-registry", reg.Host, "build", repo, "-t", reg.Ref("off/hello:1.0"), "--push", "--sbom=false")
	if got := discover(reg.Ref("off/hello@" + digest)); len(got) != 0 {
		t.Errorf("--sbom=false attached %v", got)
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bad SBOM flags are refused before anything is built, naming the flag.
func TestSBOMFlagErrors(t *testing.T) {
	out := "oci:" + filepath.Join(t.TempDir(), "l")
	r := assemble(t, t.TempDir(), "build", "../../testdata/hello", "-o", out, "--sbom-format", "xml")
	if r.err == nil || !strings.Contains(r.stderr, `--sbom-format: unknown SBOM format "xml": use spdx or cyclonedx`) {
		t.Errorf("--sbom-format xml: %v\n%s", r.err, r.stderr)
	}
	r = assemble(t, t.TempDir(), "build", "../../testdata/hello", "-o", out, "--sbom=false", "--sbom-out", t.TempDir())
	if r.err == nil || !strings.Contains(r.stderr, "--sbom-out writes the SBOMs that --sbom=false turns off") {
		t.Errorf("--sbom=false --sbom-out: %v\n%s", r.err, r.stderr)
	}
	// An image built without SBOMs has none to print.
	mustAssemble(t, t.TempDir(), "build", "../../testdata/hello", "-o", out, "--sbom=false")
	r = assemble(t, t.TempDir(), "inspect", "--sbom", out+":hello:latest")
	if r.err == nil || !strings.Contains(r.stderr, "has no SBOM attached") {
		t.Errorf("inspect --sbom of an image without one: %v\n%s", r.err, r.stderr)
	}
}
