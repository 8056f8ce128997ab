package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

const (
	piecesTestdata = "../../testdata/pieces"
	piecesImage    = "ghcr.io/assemble-build/sample_domino_pieces"
	piecesSource   = "https://github.com/assemble-build/sample_domino_pieces"
)

// buildWheel zips a pure-Python package directory into a wheel in dir.
func buildWheel(t testing.TB, dir, src, dist, version, entryPoints string) {
	t.Helper()
	norm := strings.ReplaceAll(dist, "-", "_")
	info := norm + "-" + version + ".dist-info/"
	files := map[string][]byte{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files[info+"METADATA"] = []byte("Metadata-Version: 2.1\nName: " + dist + "\nVersion: " + version + "\n")
	files[info+"WHEEL"] = []byte("Wheel-Version: 1.0\nGenerator: assemble-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
	if entryPoints != "" {
		files[info+"entry_points.txt"] = []byte(entryPoints)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var record strings.Builder
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	record.WriteString(info + "RECORD,,\n")
	files[info+"RECORD"] = []byte(record.String())
	names = append(names, info+"RECORD")

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, norm+"-"+version+"-py3-none-any.whl"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// piecesWheelhouse holds the stand-in domino-py and the pieces' dependencies.
func piecesWheelhouse(t testing.TB) string {
	dir := t.TempDir()
	w := filepath.Join(piecesTestdata, "wheels")
	buildWheel(t, dir, filepath.Join(w, "domino_py"), "domino-py", "0.9.4", "[console_scripts]\ndomino = domino.cli:main\n")
	buildWheel(t, dir, filepath.Join(w, "reqdep"), "reqdep", "1.0.0", "")
	buildWheel(t, dir, filepath.Join(w, "dockerdep"), "dockerdep", "1.0.0", "")
	return dir
}

// piecesBase builds the stand-in for domino-base-piece with assemble itself
// (Debian python3 + python3-pydantic + the stand-in domino-py, WORKDIR
// /home) into an OCI layout, and returns the layout and the base reference.
func piecesBase(t testing.TB, cache, wheels string) (layout, ref string) {
	t.Helper()
	layout = filepath.Join(shortTempDir(t), "base")
	mustAssemble(t, cache, "build", filepath.Join(piecesTestdata, "base"), "--find-links", wheels, "--no-index", "-o", "oci:"+layout)
	return layout, "oci:" + layout + ":domino-base:latest"
}

// hostPydantic is Debian's /usr/bin/python3 with python3-pydantic, the
// same pydantic (v1) as the base's, for --metadata-python.
func hostPydantic(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	testtool.RequireRun(t, "python3-pydantic", py, "-c", "import pydantic")
	return py
}

// refFor finds the layout's reference that ends with ":<tag>".
func refFor(t testing.TB, layout, tag string) string {
	t.Helper()
	for ref := range readIndex(t, layout) {
		if strings.HasSuffix(ref, ":"+tag) {
			return ref
		}
	}
	t.Fatalf("%s has no image tagged %s: %v", layout, tag, readIndex(t, layout))
	return ""
}

// checkScript runs in a group's image: it imports each piece's class from
// /home/domino/pieces_repository/pieces as Domino does, runs it with the
// default input (which imports the piece's requirements), and reports the
// runtime layout.
const checkScript = `import importlib, importlib.util, json, os, shutil, sys
sys.path.insert(0, "/home/domino/pieces_repository/pieces")
out = {"cwd": os.getcwd(), "xcom": os.path.isdir("/airflow/xcom"), "domino": shutil.which("domino") is not None,
       "reqdep": importlib.util.find_spec("reqdep") is not None, "dockerdep": importlib.util.find_spec("dockerdep") is not None,
       "files": sorted(os.listdir("/home/domino/pieces_repository")),
       "compiled": open("/home/domino/pieces_repository/.domino/compiled_metadata.json").read()}
for name in sys.argv[1:]:
    cls = getattr(importlib.import_module(name + ".piece"), name)
    models = importlib.import_module(name + ".models")
    out[name] = cls().piece_function(models.InputModel()).dict()
print("RESULT " + json.dumps(out, sort_keys=True))
`

func runCheck(t *testing.T, layout, ref string, pieces ...string) map[string]any {
	t.Helper()
	out := podmanRun(t, "oci:"+layout+":"+ref, append([]string{"python3", "-c", checkScript}, pieces...)...)
	i := strings.LastIndex(out, "RESULT ")
	if i < 0 {
		t.Fatalf("%s printed no result:\n%s", ref, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out[i+len("RESULT "):]), &m); err != nil {
		t.Fatalf("%s: %v\n%s", ref, err, out)
	}
	return m
}

func readJSONFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The whole Domino CI job without a daemon: a base made by assemble, the
// schemas read by running python3 in each group's image, the .domino files
// written, one image per group (requirements, no dependency, Dockerfile with
// COPY and a translated pip install), each running its pieces under podman,
// PIECES_IMAGES_MAP and a reproducible release archive; then a push to a
// real registry that uploads the shared repository layer once.
func TestPiecesBuildRunAndPush(t *testing.T) {
	hostIsAmd64(t)
	b := &piecesBuild{hostPy: hostPydantic(t), cache: testtool.CacheDir(t), wheels: piecesWheelhouse(t)}
	b.baseLayout, b.base = piecesBase(t, b.cache, b.wheels)

	b.repo = filepath.Join(t.TempDir(), "repo")
	testtool.CopyTree(t, filepath.Join(piecesTestdata, "repo"), b.repo)
	layout := filepath.Join(shortTempDir(t), "pieces")
	imagesMap := filepath.Join(t.TempDir(), "pieces-images-map.json")
	archive := filepath.Join(t.TempDir(), "0.2.0.tar.gz")
	mustAssemble(t, b.cache, "build", b.repo, "--base", b.base, "--find-links", b.wheels, "--no-index",
		"--source-url", piecesSource, "--write-metadata", "--pieces-images-map", imagesMap, "--release-archive", archive,
		"-o", "oci:"+layout, "--json")

	expected := filepath.Join(piecesTestdata, "expected")
	b.checkDominoFiles(t, imagesMap, expected)
	checkGroupsRun(t, layout, expected)

	// The release archive: the repository with its .domino, reproducible.
	checkReleaseArchive(t, archive, readJSONFile(t, filepath.Join(expected, "compiled_metadata.json")))
	again := filepath.Join(t.TempDir(), "again.tar.gz")
	mustAssemble(t, b.cache, "build", b.repo, "--base", b.base, "--find-links", b.wheels, "--no-index", "--metadata-python", b.hostPy,
		"--source-url", piecesSource, "--release-archive", again, "-o", "oci:"+filepath.Join(t.TempDir(), "l2"))
	if !bytes.Equal(readJSONFile(t, archive), readJSONFile(t, again)) {
		t.Error("the release archive changed between two builds")
	}

	b.checkPushUploadsOnce(t)
	dm := readJSONFile(t, filepath.Join(b.repo, ".domino", "dependencies_map.json")) // from the first build (--write-metadata)
	if !bytes.Contains(dm, []byte(piecesImage+":0.2.0-group2")) {
		t.Errorf("dependencies_map.json in the repository was rewritten by a build without --write-metadata:\n%s", dm)
	}
}

// piecesBuild is what the pieces end-to-end test builds with.
type piecesBuild struct {
	hostPy, cache, wheels string
	baseLayout, base      string
	repo                  string
}

// checkDominoFiles compares the .domino files, schemas read by pydantic
// inside the images, with the expected files (read by the host's pydantic
// of the same version).
func (b *piecesBuild) checkDominoFiles(t *testing.T, imagesMap, expected string) {
	t.Helper()
	for _, f := range []string{"compiled_metadata.json", "dependencies_map.json"} {
		got := readJSONFile(t, filepath.Join(b.repo, ".domino", f))
		if want := readJSONFile(t, filepath.Join(expected, f)); !bytes.Equal(got, want) {
			t.Errorf(".domino/%s differs from %s", f, filepath.Join(expected, f))
		}
	}
	if got, want := readJSONFile(t, imagesMap), readJSONFile(t, filepath.Join(expected, "pieces_images_map.json")); !bytes.Equal(bytes.TrimSpace(got), want) {
		t.Errorf("--pieces-images-map wrote %s, want %s", got, want)
	}
}

// checkGroupsRun runs each group's image: it runs its pieces.
func checkGroupsRun(t *testing.T, layout, expected string) {
	t.Helper()
	g0 := runCheck(t, layout, refFor(t, layout, "0.2.0-group0"), "AddPiece", "GreetPiece")
	g1 := runCheck(t, layout, refFor(t, layout, "0.2.0-group1"), "EchoPiece", "LogPiece")
	g2 := runCheck(t, layout, refFor(t, layout, "0.2.0-group2"), "ToolPiece")
	for name, m := range map[string]map[string]any{"group0": g0, "group1": g1, "group2": g2} {
		if m["cwd"] != "/home" || m["xcom"] != true || m["domino"] != true {
			t.Errorf("%s: runtime layout %v", name, m)
		}
		if files := fmt.Sprint(m["files"]); files != "[.domino config.toml dependencies pieces]" {
			t.Errorf("%s: /home/domino/pieces_repository holds %s", name, files)
		}
		// Every image holds this build's metadata (the Dockerfile group's
		// COPY .domino included).
		if m["compiled"] != string(readJSONFile(t, filepath.Join(expected, "compiled_metadata.json"))) {
			t.Errorf("%s: the image's compiled_metadata.json is not this build's", name)
		}
	}
	if fmt.Sprint(g0["AddPiece"]) != "map[result:1.5]" || fmt.Sprint(g0["GreetPiece"]) != "map[message:hello world]" || g0["reqdep"] != true {
		t.Errorf("group0: %v", g0)
	}
	if fmt.Sprint(g1["EchoPiece"]) != "map[text:hello]" || fmt.Sprint(g1["LogPiece"]) != "map[logged:true]" || g1["reqdep"] != false || g1["dockerdep"] != false {
		t.Errorf("group1 (no dependency) has dependencies or failed: %v", g1)
	}
	if fmt.Sprint(g2["ToolPiece"]) != "map[answer:dockerdep says 42]" || g2["dockerdep"] != true {
		t.Errorf("group2: %v", g2)
	}
}

// checkPushUploadsOnce pushes to a real registry under --registry: every
// blob is uploaded once, and the repository and metadata layers, shared by
// the three images, are among them. The images' blobs and manifests are
// counted, so the push leaves out their SBOMs (--sbom=false): those are
// pushed and checked in sbom_e2e_test.go.
func (b *piecesBuild) checkPushUploadsOnce(t *testing.T) {
	t.Helper()
	reg := ocitest.StartRegistry(t)
	pushed := filepath.Join(t.TempDir(), "pushed")
	mustAssemble(t, b.cache, "--insecure-registry", reg.Host, "build", b.repo, "--base", b.base, "--find-links", b.wheels, "--no-index",
		"--metadata-python", b.hostPy, "--registry", reg.Host+"/assemble-build", "--version-tag", "development",
		"--push", "-o", "oci:"+pushed, "--sbom=false")
	blobs := map[string][]string{}
	var shared []string
	count := map[string]int{}
	for _, tag := range []string{"development-group0", "development-group1", "development-group2"} {
		ref := refFor(t, pushed, tag)
		layers, config := manifestBlobs(t, pushed, readIndex(t, pushed)[ref])
		blobs[tag] = append(layers, config)
		for _, l := range layers {
			count[l]++
		}
	}
	for d, n := range count {
		if n == 3 {
			shared = append(shared, d)
		}
	}
	baseLayers, _ := manifestBlobs(t, b.baseLayout, readIndex(t, b.baseLayout)["domino-base:latest"])
	if len(shared) < len(baseLayers)+2 {
		t.Errorf("the images share %d layers, want the %d base layers plus the repository and .domino layers", len(shared), len(baseLayers))
	}
	uploads := map[string]int{}
	for _, q := range reg.Requests() {
		if q.Kind == ocitest.UploadPut {
			uploads[q.Digest]++
		}
	}
	distinct := map[string]bool{}
	for _, bs := range blobs {
		for _, d := range bs {
			distinct[d] = true
		}
	}
	for d, n := range uploads {
		if n != 1 {
			t.Errorf("blob %s uploaded %d times", d, n)
		}
	}
	for _, d := range shared {
		if uploads[d] != 1 {
			t.Errorf("shared layer %s uploaded %d times, want once", d, uploads[d])
		}
	}
	if len(uploads) != len(distinct) {
		t.Errorf("%d blobs uploaded, the three images have %d distinct blobs", len(uploads), len(distinct))
	}
	if n := reg.Count(ocitest.ManifestPut); n != 3 {
		t.Errorf("%d manifests pushed, want 3", n)
	}
}

// manifestBlobs returns the layer digests and the config digest of a
// single-platform image in a layout.
func manifestBlobs(t testing.TB, layout, digest string) ([]string, string) {
	t.Helper()
	if digest == "" {
		t.Fatalf("no manifest digest in %s", layout)
	}
	b := readJSONFile(t, filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Config.Digest == "" {
		t.Fatalf("manifest %s: %v\n%s", digest, err, b)
	}
	var layers []string
	for _, l := range m.Layers {
		layers = append(layers, l.Digest)
	}
	return layers, m.Config.Digest
}

func checkReleaseArchive(t *testing.T, file string, compiled []byte) {
	t.Helper()
	zr := testtool.GzipFile(t, file)
	if zr.Header.Name != "" || zr.Header.ModTime.Unix() > 0 {
		t.Errorf("gzip header: %+v", zr.Header)
	}
	seen := map[string]bool{}
	var prev string
	testtool.EachTarEntry(t, zr, func(h *tar.Header, body io.Reader) {
		if h.Name < prev {
			t.Errorf("%s after %s: not sorted", h.Name, prev)
		}
		prev = h.Name
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d %q, time %v", h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		rel := strings.TrimPrefix(h.Name, "sample_domino_pieces-0.2.0/")
		seen[rel] = true
		if rel == ".domino/compiled_metadata.json" {
			b, _ := io.ReadAll(body)
			if !bytes.Equal(b, compiled) {
				t.Error("the archive's compiled_metadata.json is not this build's")
			}
		}
	})
	for _, want := range []string{"config.toml", ".domino/dependencies_map.json", "pieces/ToolPiece/piece.py", "dependencies/Dockerfile_tools"} {
		if !seen[want] {
			t.Errorf("the release archive lacks %s", want)
		}
	}
}
