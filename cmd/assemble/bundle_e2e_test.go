package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers/bundle"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// The air gap: build testdata/debian (deb:bookworm bases, python3 and jq
// from the Debian archive) online, bundle its inputs, then build it again
// from the bundle alone, with an empty cache, in a network namespace with
// no interfaces: the same manifest digests. A bundle with one byte changed
// is refused, naming the entry and the URL it holds.
func TestBundleAirGap(t *testing.T) {
	hostIsAmd64(t)
	unshare := testtool.RequireTool(t, "unshare")
	online := filepath.Join(t.TempDir(), "online")
	mustAssemble(t, testtool.CacheDir(t), "build", "../../testdata/debian", "-o", "oci:"+online)
	want := readIndex(t, online)

	file := filepath.Join(t.TempDir(), "inputs.bundle")
	mustAssemble(t, testtool.CacheDir(t), "bundle", "../../testdata/debian", "-o", file)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	m := bundleManifest(t, file)
	// Inputs found by URL carry it; .deb files and indexes are found by
	// the hashes the signed InRelease lists.
	if !bundleNames(m, "/dists/bookworm/InRelease") {
		t.Errorf("the bundle holds no InRelease")
	}
	// A Packages index travels compressed only: offline it is
	// decompressed and checked against the signed InRelease again.
	var plain, xz int
	for _, head := range bundleBlobHeads(t, file) {
		switch {
		case bytes.HasPrefix(head, []byte("Package: ")):
			plain++
		case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
			xz++
		}
	}
	if plain != 0 || xz == 0 {
		t.Errorf("the bundle holds %d uncompressed and %d xz Packages indexes, want 0 and some", plain, xz)
	}

	offline := filepath.Join(t.TempDir(), "offline")
	start := time.Now()
	r := airGapped(t, unshare, t.TempDir(), "build", "../../testdata/debian", "--bundle", file, "--offline", "-o", "oci:"+offline)
	if r.err != nil {
		t.Fatalf("offline build from the bundle: %v\n%s", r.err, r.stderr)
	}
	t.Logf("bundle: %d bytes, %d inputs; offline build from it with an empty cache, no network: %s", fi.Size(), len(m.Layers), time.Since(start).Round(time.Millisecond))
	if got := readIndex(t, offline); !reflect.DeepEqual(got, want) {
		t.Errorf("offline build from the bundle gave %v, online %v", got, want)
	}

	// One byte changed inside the InRelease: refused, naming the entry.
	bad := filepath.Join(t.TempDir(), "bad.bundle")
	entry := flipInBundle(t, file, bad, "/dists/bookworm/InRelease")
	r = airGapped(t, unshare, t.TempDir(), "build", "../../testdata/debian", "--bundle", bad, "--offline", "-o", "oci:"+filepath.Join(t.TempDir(), "x"))
	if r.err == nil {
		t.Fatal("a bundle with a changed byte was accepted")
	}
	for _, w := range []string{bad, "entry " + entry, "/dists/bookworm/InRelease", "digest mismatch"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("error lacks %q:\n%s", w, r.stderr)
		}
	}
	t.Logf("refused: %s", strings.TrimSpace(r.stderr))
}

// airGapped runs the CLI in a new network namespace (no interfaces).
func airGapped(t *testing.T, unshare, cache string, args ...string) result {
	t.Helper()
	full := append([]string{"--net", bin, "--cache-dir", cache, "--progress", "plain"}, args...)
	cmd := exec.Command(unshare, full...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=", mainEnv+"=1")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return result{so.String(), se.String(), err}
}

type bundleDesc struct {
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
}

type bundleMan struct {
	ArtifactType string       `json:"artifactType"`
	Layers       []bundleDesc `json:"layers"`
}

// bundleManifest reads the bundle's artifact manifest (the tar's third entry).
func bundleManifest(t *testing.T, file string) bundleMan {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for i := 0; i < 3; i++ {
		if _, err := tr.Next(); err != nil {
			t.Fatal(err)
		}
	}
	var m bundleMan
	if err := json.NewDecoder(tr).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != bundle.ArtifactType {
		t.Fatalf("bundle manifest's artifactType %q", m.ArtifactType)
	}
	return m
}

// bundleBlobHeads returns the first bytes of every blob of the bundle.
func bundleBlobHeads(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "blobs/") {
			head := make([]byte, 16)
			n, _ := io.ReadFull(tr, head)
			out[h.Name] = head[:n]
		}
	}
}

func bundleNames(m bundleMan, part string) bool {
	for _, l := range m.Layers {
		if strings.Contains(l.Annotations[bundle.NamesAnnotation], part) {
			return true
		}
	}
	return false
}

// flipInBundle copies file to out with one byte of the first blob named
// *part* changed, and returns that blob's entry name.
func flipInBundle(t *testing.T, file, out, part string) string {
	t.Helper()
	var digest string
	for _, l := range bundleManifest(t, file).Layers {
		if strings.Contains(l.Annotations[bundle.NamesAnnotation], part) {
			digest = l.Digest
			break
		}
	}
	entry := "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	br := bytes.NewReader(b)
	tr := tar.NewReader(br)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("no entry %s in the bundle", entry)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == entry {
			// The reader stops at the header's end: the data starts here.
			b[int64(len(b))-int64(br.Len())+h.Size/2] ^= 0xff
			break
		}
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return entry
}

// A Dockerfile's ADD URL travels in the bundle: built from it offline, with
// an empty cache, no network and the server gone, the same image; without
// it, the offline build names the URL it lacks.
func TestBundleADDURL(t *testing.T) {
	unshare := testtool.RequireTool(t, "unshare")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "carried across the gap\n")
	}))
	repo := dockerfileRepo(t, map[string]string{
		"Dockerfile": "FROM scratch\nADD " + srv.URL + "/greeting.txt /greeting.txt\n",
	})
	cache := t.TempDir()
	online := filepath.Join(t.TempDir(), "online")
	mustAssemble(t, cache, "build", repo, "--platform", "linux/amd64", "-o", "oci:"+online)
	file := filepath.Join(t.TempDir(), "add.bundle")
	mustAssemble(t, cache, "bundle", repo, "--platform", "linux/amd64", "-o", file)
	srv.Close()
	if !bundleNames(bundleManifest(t, file), srv.URL+"/greeting.txt") {
		t.Errorf("the bundle does not name %s/greeting.txt", srv.URL)
	}

	offline := filepath.Join(t.TempDir(), "offline")
	r := airGapped(t, unshare, t.TempDir(), "build", repo, "--platform", "linux/amd64", "--bundle", file, "--offline", "-o", "oci:"+offline)
	if r.err != nil {
		t.Fatalf("offline build from the bundle: %v\n%s", r.err, r.stderr)
	}
	if got, want := readIndex(t, offline), readIndex(t, online); !reflect.DeepEqual(got, want) {
		t.Errorf("offline build from the bundle gave %v, online %v", got, want)
	}

	r = airGapped(t, unshare, t.TempDir(), "build", repo, "--platform", "linux/amd64", "--offline", "-o", "oci:"+filepath.Join(t.TempDir(), "x"))
	if r.err == nil || !strings.Contains(r.stderr, srv.URL+"/greeting.txt is not in the cache") {
		t.Errorf("offline without the bundle: %v\n%s", r.err, r.stderr)
	}
}

// Wheels from a Python index travel too: a deb:bookworm + python3 image
// with a requirement from a local simple index (then closed) builds from
// the bundle alone, with no network, to the same digest.
func TestBundleWheelIndex(t *testing.T) {
	hostIsAmd64(t)
	unshare := testtool.RequireTool(t, "unshare")
	wheels := t.TempDir()
	writeTestWheel(t, wheels, "assemblegreet", "1.0", map[string]string{
		"assemblegreet/__init__.py": "def greet():\n    return 'from the bundle'\n",
	})
	const whl = "assemblegreet-1.0-py3-none-any.whl"
	data, err := os.ReadFile(filepath.Join(wheels, whl))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	mux := http.NewServeMux()
	mux.HandleFunc("/simple/assemblegreet/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<html><body><a href="/files/%s#sha256=%x">%s</a></body></html>`, whl, sum, whl)
	})
	mux.HandleFunc("/files/"+whl, func(w http.ResponseWriter, _ *http.Request) { w.Write(data) })
	srv := httptest.NewServer(mux)
	repo := filepath.Join(t.TempDir(), "repo")
	testtool.CopyTree(t, "../../testdata/debian", repo)
	files := map[string]string{"requirements.txt": "assemblegreet==1.0\n", "assemble.toml": `[[image]]
name = "py"
base = "deb:bookworm"
[[image.layer]]
type = "deb"
packages = ["python3"]
[[image.layer]]
type = "python"
requirements = ["requirements.txt"]
`}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(repo, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	index := srv.URL + "/simple/"
	online := filepath.Join(t.TempDir(), "online")
	mustAssemble(t, testtool.CacheDir(t), "build", repo, "--index-url", index, "-o", "oci:"+online)
	file := filepath.Join(t.TempDir(), "py.bundle")
	mustAssemble(t, testtool.CacheDir(t), "bundle", repo, "--index-url", index, "-o", file)
	srv.Close()
	m := bundleManifest(t, file)
	if !bundleNames(m, index+"assemblegreet/") {
		t.Errorf("the bundle does not name the index page %sassemblegreet/", index)
	}
	found := false
	for _, l := range m.Layers {
		found = found || l.Digest == fmt.Sprintf("sha256:%x", sum)
	}
	if !found {
		t.Errorf("the bundle lacks the wheel (sha256:%x)", sum)
	}
	offline := filepath.Join(t.TempDir(), "offline")
	r := airGapped(t, unshare, t.TempDir(), "build", repo, "--index-url", index, "--bundle", file, "--offline", "-o", "oci:"+offline)
	if r.err != nil {
		t.Fatalf("offline build from the bundle: %v\n%s", r.err, r.stderr)
	}
	want := readIndex(t, online)
	if got := readIndex(t, offline); len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("offline build from the bundle gave %v, online %v", got, want)
	}
}

// A registry base travels in the bundle: a two-platform index pushed to a
// real docker-registry, built on with FROM, and a single image, built on
// with assemble.toml's base; each bundled, then built from the bundle with
// an empty cache and no network: the same manifest digests (so the same
// base name and digest annotations). The bundle records which digest the
// reference resolved to and holds the index or manifest as served, with
// the manifests, configs and layers of the platforms built.
func TestBundleRegistryBase(t *testing.T) {
	unshare := testtool.RequireTool(t, "unshare")
	reg := ocitest.StartRegistry(t)
	base := reg.Ref("ns/base:1")
	idx := ocitest.Index(t, 16, 2, 2048, ocitest.AMD64, ocitest.ARM64)
	ref, err := name.ParseReference(base, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggcr.WriteIndex(ref, idx); err != nil {
		t.Fatalf("pushing the base: %v", err)
	}
	repo := dockerfileRepo(t, map[string]string{
		"Dockerfile":   "FROM " + base + "\nCOPY greeting.txt /greeting.txt\n",
		"greeting.txt": "built on a registry base\n",
	})
	want := []string{ocitest.Digest(t, idx).String()}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, imageBlobs(t, img)...)
	}
	registryBaseRoundTrip(t, unshare, reg.Host, repo, base, ocitest.Digest(t, idx).String(), want, "--platform", "linux/amd64,linux/arm64")

	single := reg.Ref("ns/single:1")
	img := ocitest.Image(t, 17, 2, 2048, ocitest.AMD64)
	if ref, err = name.ParseReference(single, name.Insecure); err != nil {
		t.Fatal(err)
	}
	if err := ggcr.Write(ref, img); err != nil {
		t.Fatalf("pushing the base: %v", err)
	}
	repo = filepath.Join(t.TempDir(), "hello")
	testtool.CopyTree(t, "../../testdata/hello", repo)
	toml, err := os.ReadFile(filepath.Join(repo, "assemble.toml"))
	if err != nil {
		t.Fatal(err)
	}
	toml = bytes.Replace(toml, []byte(`base = "scratch"`), []byte(`base = "docker://`+single+`"`), 1)
	if err := os.WriteFile(filepath.Join(repo, "assemble.toml"), toml, 0o644); err != nil {
		t.Fatal(err)
	}
	registryBaseRoundTrip(t, unshare, reg.Host, repo, single, ocitest.Digest(t, img).String(), imageBlobs(t, img))
}

// imageBlobs lists an image's manifest, config and layer digests.
func imageBlobs(t *testing.T, img v1.Image) []string {
	t.Helper()
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{ocitest.Digest(t, img).String(), mf.Config.Digest.String()}
	for _, l := range mf.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// registryBaseRoundTrip builds repo (on the registry base ref, resolving to
// top) online, bundles it, checks the bundle holds blobs and names ref, and
// builds it from the bundle with no network: the same digests.
func registryBaseRoundTrip(t *testing.T, unshare, host, repo, ref, top string, blobs []string, extra ...string) {
	t.Helper()
	build := append([]string{"--insecure-registry", host, "build", repo}, extra...)
	online := filepath.Join(t.TempDir(), "online")
	mustAssemble(t, t.TempDir(), append(build, "-o", "oci:"+online)...)
	file := filepath.Join(t.TempDir(), "base.bundle")
	mustAssemble(t, t.TempDir(), append(append([]string{"--insecure-registry", host, "bundle", repo}, extra...), "-o", file)...)

	held := map[string]bool{}
	for _, l := range bundleManifest(t, file).Layers {
		held[l.Digest] = true
		if l.Digest == top && l.Annotations[bundle.NamesAnnotation] != "docker://"+ref {
			t.Errorf("the base's manifest is recorded under %q, want docker://%s", l.Annotations[bundle.NamesAnnotation], ref)
		}
	}
	for _, d := range blobs {
		if !held[d] {
			t.Errorf("the bundle lacks the base's blob %s", d)
		}
	}

	offline := filepath.Join(t.TempDir(), "offline")
	r := airGapped(t, unshare, t.TempDir(), append(build, "--bundle", file, "--offline", "-o", "oci:"+offline)...)
	if r.err != nil {
		t.Fatalf("offline build from the bundle: %v\n%s", r.err, r.stderr)
	}
	want := readIndex(t, online)
	if got := readIndex(t, offline); len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("offline build from the bundle gave %v, online %v", got, want)
	}
}

// Host directories a build reads packages from travel too: a wheelhouse
// (--find-links DIR --no-index) and a directory of .deb files
// (--debian-dir DIR). The bundle carries each directory's listing and the
// files the build used (not the others); the offline build, with an empty
// cache, no network and the directories gone, gives the same digests.
func TestBundleLocalDirectories(t *testing.T) {
	hostIsAmd64(t)
	unshare := testtool.RequireTool(t, "unshare")
	dpkgDeb := testtool.RequireTool(t, "dpkg-deb")
	root := t.TempDir()
	wheels, debs := filepath.Join(root, "wheels"), filepath.Join(root, "debs")
	writeTestWheel(t, wheels, "assemblegreet", "1.0", map[string]string{"assemblegreet/__init__.py": "X = 1\n"})
	writeTestWheel(t, wheels, "assembleunused", "1.0", map[string]string{"assembleunused/__init__.py": "X = 2\n"})
	writeTestDeb(t, dpkgDeb, debs, "asm-base", "Essential: yes\nPriority: required\n")
	writeTestDeb(t, dpkgDeb, debs, "asm-hello", "Depends: asm-base\n")
	writeTestDeb(t, dpkgDeb, debs, "asm-unused", "")
	used := map[string]string{}
	for _, f := range []string{"wheels/assemblegreet-1.0-py3-none-any.whl", "wheels/assembleunused-1.0-py3-none-any.whl",
		"debs/asm-hello_1.0_amd64.deb", "debs/asm-unused_1.0_amd64.deb"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		used[f] = fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	}

	// The wheelhouse, into deb:bookworm + python3 from the Debian archive.
	py := filepath.Join(root, "py")
	testtool.CopyTree(t, "../../testdata/debian", py)
	mustWrite(t, filepath.Join(py, "requirements.txt"), "assemblegreet==1.0\n")
	mustWrite(t, filepath.Join(py, "assemble.toml"), "[[image]]\nname = \"py\"\nbase = \"deb:bookworm\"\n"+
		"[[image.layer]]\ntype = \"deb\"\npackages = [\"python3\"]\n[[image.layer]]\ntype = \"python\"\nrequirements = [\"requirements.txt\"]\n")
	// The .deb directory, as the only Debian source.
	local := filepath.Join(root, "local")
	mustWrite(t, filepath.Join(local, "assemble.toml"), "[[image]]\nname = \"local\"\nbase = \"deb:bookworm\"\n"+
		"[[image.layer]]\ntype = \"deb\"\npackages = [\"asm-hello\"]\n")

	for _, c := range []struct {
		repo, dir string
		flags     []string
	}{
		{py, wheels, []string{"--find-links", wheels, "--no-index"}},
		{local, debs, []string{"--debian-dir", debs}},
	} {
		t.Run(filepath.Base(c.repo), func(t *testing.T) {
			online := filepath.Join(t.TempDir(), "online")
			mustAssemble(t, testtool.CacheDir(t), append([]string{"build", c.repo, "-o", "oci:" + online}, c.flags...)...)
			file := filepath.Join(t.TempDir(), "local.bundle")
			mustAssemble(t, testtool.CacheDir(t), append([]string{"bundle", c.repo, "-o", file}, c.flags...)...)
			m := bundleManifest(t, file)
			if !bundleNames(m, c.dir) {
				t.Errorf("the bundle does not name the directory %s", c.dir)
			}
			has := map[string]bool{}
			for _, l := range m.Layers {
				has[l.Digest] = true
			}
			for f, d := range used {
				if want := !strings.Contains(f, "unused"); strings.HasPrefix(f, filepath.Base(c.dir)+"/") && has[d] != want {
					t.Errorf("bundle holds %s: %v, want %v", f, has[d], want)
				}
			}
			away := c.dir + ".away"
			if err := os.Rename(c.dir, away); err != nil {
				t.Fatal(err)
			}
			defer os.Rename(away, c.dir)
			offline := filepath.Join(t.TempDir(), "offline")
			r := airGapped(t, unshare, t.TempDir(), append([]string{"build", c.repo, "--bundle", file, "--offline", "-o", "oci:" + offline}, c.flags...)...)
			if r.err != nil {
				t.Fatalf("offline build from the bundle, %s gone: %v\n%s", c.dir, r.err, r.stderr)
			}
			if got, want := readIndex(t, offline), readIndex(t, online); len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("offline build from the bundle gave %v, online %v", got, want)
			}
			if c.dir != debs {
				return // with no bundle, the Debian archive's absence is named first
			}
			// Without the bundle the directory's absence is named.
			r = airGapped(t, unshare, t.TempDir(), append([]string{"build", c.repo, "--offline", "-o", "oci:" + filepath.Join(t.TempDir(), "x")}, c.flags...)...)
			if r.err == nil || !strings.Contains(r.stderr, c.dir) {
				t.Errorf("offline, no bundle, %s gone: %v\n%s", c.dir, r.err, r.stderr)
			}
		})
	}
}

// writeTestDeb builds a .deb of one file with dpkg-deb, its control file
// given extra fields.
func writeTestDeb(t *testing.T, dpkgDeb, dir, name, fields string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	mustWrite(t, filepath.Join(src, "usr/share", name, "README"), "hello from "+name+"\n")
	mustWrite(t, filepath.Join(src, "DEBIAN/control"), "Package: "+name+"\nVersion: 1.0\nArchitecture: amd64\n"+
		"Maintainer: Test <test@example.org>\nDescription: test package\n"+fields)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Fixed times, owners and compression: the same bytes on every run.
	cmd := exec.Command(dpkgDeb, "--root-owner-group", "-Zgzip", "--build", src, filepath.Join(dir, name+"_1.0_amd64.deb"))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
}
