package pieces

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/pyjson"
	"github.com/assemble-build/assemble/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite testdata/pieces/expected")

const (
	sampleRepo   = "../../testdata/pieces/repo"
	expectedDir  = "../../testdata/pieces/expected"
	sampleSource = "https://github.com/assemble-build/sample_domino_pieces"
	imagePrefix  = "ghcr.io/assemble-build/sample_domino_pieces"
)

// hostPython is Debian's /usr/bin/python3 with python3-pydantic (v1).
func hostPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	testtool.RequireRun(t, "python3-pydantic", py, "-c", "import pydantic")
	return py
}

// copyRepo copies a testdata repository so a test may change it.
func copyRepo(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func compareExpected(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join(expectedDir, name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, p, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			return "line " + itoa(i+1) + ":\n got  " + g + "\n want " + w
		}
	}
	return "(same lines, different bytes)"
}

// The sample repository compiles to the expected .domino files byte for
// byte, with schemas read by the host's pydantic; the plan has one image per
// group, named as Domino names them, with the layers in order.
func TestLoadSample(t *testing.T) {
	py := hostPython(t)
	p, res, err := Load(context.Background(), sampleRepo, Input{Request: plan.Request{SourceURL: sampleSource}, Settings: Settings{MetadataPython: py}})
	if err != nil {
		t.Fatal(err)
	}
	compareExpected(t, "compiled_metadata.json", res.CompiledMetadata)
	compareExpected(t, "dependencies_map.json", res.DependenciesMap)
	compareExpected(t, "pieces_images_map.json", res.PiecesImagesMap())
	if !strings.Contains(res.Schemas, "pydantic 1.") {
		t.Errorf("schemas: %q", res.Schemas)
	}

	if p.Convention != Name || len(p.Images) != 3 {
		t.Fatalf("plan: %+v", p)
	}
	wantGroups := []struct {
		kind   string
		pieces string
		secret string
	}{
		{"requirements", "AddPiece,GreetPiece", "GREETING_TOKEN"},
		{"none", "EchoPiece,LogPiece", "ECHO_ACCOUNT,ECHO_API_KEY"},
		{"dockerfile", "ToolPiece", "TOOL_LICENSE"},
	}
	for i, w := range wantGroups {
		g := res.Groups[i]
		if g.Kind() != w.kind || strings.Join(g.Pieces, ",") != w.pieces || strings.Join(g.Secrets, ",") != w.secret {
			t.Errorf("group %d: %+v, want %+v", i, g, w)
		}
		im := p.Images[i]
		if im.Name != imagePrefix || im.Group != g.Name || len(im.Tags) != 1 || im.Tags[0] != "0.2.0-group"+itoa(i) || g.Image != imagePrefix+":0.2.0-group"+itoa(i) {
			t.Errorf("image %d: %s %v (%s)", i, im.Name, im.Tags, g.Image)
		}
	}
	// requirements: python layer under the repository layer, then the metadata.
	req := p.Images[0]
	if req.Base != DefaultBase || req.Config.WorkingDir != "/home" || len(req.Layers) != 3 ||
		req.Layers[0].Kind != plan.KindPython || req.Layers[0].Python.Requirements[0] != "dependencies/requirements_0.txt" ||
		req.Layers[1].Kind != plan.KindFiles || req.Layers[2].Kind != plan.KindGenerated {
		t.Errorf("requirements image: %+v", req)
	}
	none := p.Images[1]
	if none.Base != DefaultBase || len(none.Layers) != 2 || none.Layers[0].Kind != plan.KindFiles {
		t.Errorf("no-dependency image: %+v", none)
	}
	df := p.Images[2]
	if df.Dockerfile == nil || df.Dockerfile.Path != "dependencies/Dockerfile_tools" || df.Dockerfile.Context != "." || len(df.Layers) != 2 {
		t.Errorf("dockerfile image: %+v", df)
	}
	// The repository and metadata layers are the same spec in every image.
	repoLayer := req.Layers[1]
	if f := repoLayer.Files; f.Dest != RepositoryDir || f.Dir != "." || strings.Join(f.Include, ",") != "config.toml,pieces,dependencies" {
		t.Errorf("repository layer: %+v", f)
	}
	for _, im := range p.Images[1:] {
		l := im.Layers[len(im.Layers)-2]
		if l.Files == nil || strings.Join(l.Files.Include, ",") != strings.Join(repoLayer.Files.Include, ",") || l.Files.Dest != repoLayer.Files.Dest {
			t.Errorf("%s: repository layer differs: %+v", im.Tags[0], l)
		}
		g := im.Layers[len(im.Layers)-1].Generated
		if g == nil || len(g.Files) != 2 || !bytes.Equal(g.Files[0].Content, res.CompiledMetadata) || g.Files[1].Path != RepositoryDir+"/.domino/dependencies_map.json" {
			t.Errorf("%s: metadata layer: %+v", im.Tags[0], g)
		}
	}
	if len(p.Files) != 2 || p.Files[0].Path != CompiledMetadataFile || !bytes.Equal(p.Files[1].Content, res.DependenciesMap) {
		t.Errorf("plan files: %+v", p.Files)
	}
	if len(res.BuildContexts) != 0 {
		t.Errorf("build contexts without a base override: %v", res.BuildContexts)
	}
	// Nothing was written into the repository, not even bytecode.
	for _, p := range []string{".domino", "pieces/AddPiece/__pycache__"} {
		if _, err := os.Stat(filepath.Join(sampleRepo, p)); err == nil {
			t.Errorf("%s was written into the repository", p)
		}
	}
}

// The bytes are what Python's json.dumps(..., indent=4) writes: loading
// and dumping them again with Python changes nothing (escapes, floats,
// empty containers, indentation).
func TestExpectedFilesRoundTripThroughPython(t *testing.T) {
	py := hostPython(t)
	for _, f := range []string{"compiled_metadata.json", "dependencies_map.json"} {
		p := filepath.Join(expectedDir, f)
		out, err := exec.Command(py, "-c", "import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), indent=4))", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(p)
		if !bytes.Equal(out, want) {
			t.Errorf("%s is not Python's json.dumps output:\n%s", f, firstDiff(want, out))
		}
	}
	out, err := exec.Command(py, "-c", "import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1]))))", filepath.Join(expectedDir, "pieces_images_map.json")).Output()
	want, _ := os.ReadFile(filepath.Join(expectedDir, "pieces_images_map.json"))
	if err != nil || !bytes.Equal(out, want) {
		t.Errorf("pieces_images_map.json is not json.dumps output: %v\n%s\n%s", err, out, want)
	}
}

// Overrides: registry, version, base (the XCom file joins the metadata
// layer, and the Dockerfile's FROM maps to the base); writing the metadata
// into the repository after planning; source_url from the git remote.
func TestLoadOverrides(t *testing.T) {
	py := hostPython(t)
	testtool.RequireTool(t, "git") // source_url comes from the git remote
	repo := copyRepo(t, sampleRepo)
	for _, args := range [][]string{{"init", "-q"}, {"remote", "add", "origin", "https://user:secret@github.com/assemble-build/sample_domino_pieces.git"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	p, res, err := Load(context.Background(), repo, Input{Request: plan.Request{Registry: "registry.example:5000/team/", Version: "development", Base: "oci:/layouts/base:domino-base:latest", WriteMetadata: true}, Settings: Settings{MetadataPython: py}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Images[0].Name != "registry.example:5000/team/sample_domino_pieces" || p.Images[2].Tags[0] != "development-group2" || p.Images[1].Base != "oci:/layouts/base:domino-base:latest" {
		t.Errorf("names: %+v", p.Images)
	}
	if !bytes.Contains(res.DependenciesMap, []byte(`"source_image": "registry.example:5000/team/sample_domino_pieces:development-group1"`)) {
		t.Errorf("dependencies map:\n%s", res.DependenciesMap)
	}
	if want := map[string]string{DominoBaseImage + ":latest": "oci:/layouts/base:domino-base:latest"}; len(res.BuildContexts) != 1 || res.BuildContexts[DominoBaseImage+":latest"] != want[DominoBaseImage+":latest"] {
		t.Errorf("build contexts: %v", res.BuildContexts)
	}
	gen := p.Images[0].Layers[2].Generated
	if len(gen.Files) != 3 || gen.Files[2].Path != XComFile || string(gen.Files[2].Content) != "{}\n" {
		t.Errorf("metadata layer over a foreign base: %+v", gen.Files)
	}
	// Load plans the files and writes nothing; plan.WriteFiles, which the
	// pipeline calls after planning for --write-metadata, writes them.
	if _, err := os.Stat(filepath.Join(repo, ".domino")); err == nil {
		t.Error("Load wrote .domino into the repository")
	}
	written, err := plan.WriteFiles(p.Root, p.Files)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		want []byte
	}{{CompiledMetadataFile, res.CompiledMetadata}, {DependenciesMapFile, res.DependenciesMap}} {
		got, err := os.ReadFile(filepath.Join(repo, f.path))
		if err != nil || !bytes.Equal(got, f.want) {
			t.Errorf("%s not written: %v", f.path, err)
		}
	}
	if strings.Join(written, ",") != CompiledMetadataFile+","+DependenciesMapFile {
		t.Errorf("written: %v", written)
	}
	if res.SourceURL != sampleSource || !bytes.Contains(res.CompiledMetadata, []byte(sampleSource+"/tree/main/pieces/ToolPiece")) || bytes.Contains(res.CompiledMetadata, []byte("user:secret")) {
		t.Errorf("source URL from the git remote: %q", res.SourceURL)
	}
	// An invalid version tag is refused.
	if _, _, err := Load(context.Background(), repo, Input{Request: plan.Request{Version: "no/slash"}, Settings: Settings{NoSchemas: true}}); err == nil || !strings.Contains(err.Error(), "--version-tag") {
		t.Errorf("bad version: %v", err)
	}
}

// --no-schemas: the three schemas are null (keys kept, Domino's order) and
// the groups' secrets are empty; planning without a builder or interpreter
// does the same and says so.
func TestNoSchemasAndPlanning(t *testing.T) {
	for _, in := range []Input{{Settings: Settings{NoSchemas: true}}, {}} {
		_, res, err := Load(context.Background(), sampleRepo, in)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pyjson.Parse(res.CompiledMetadata)
		if err != nil {
			t.Fatal(err)
		}
		m := c.Get("GreetPiece")
		if strings.Join(m.Keys(), ",") != "name,dependency,tags,style,description,input_schema,output_schema,secrets_schema,source_url" {
			t.Errorf("keys: %v", m.Keys())
		}
		for _, k := range []string{"input_schema", "output_schema", "secrets_schema", "source_url"} {
			if m.Get(k).Kind() != pyjson.KindNull {
				t.Errorf("%s is not null", k)
			}
		}
		for _, g := range res.Groups {
			if len(g.Secrets) != 0 {
				t.Errorf("%s secrets %v", g.Name, g.Secrets)
			}
		}
		if len(res.Groups) != 3 || res.Schemas == "" {
			t.Errorf("groups %d, schemas %q", len(res.Groups), res.Schemas)
		}
	}
	// Planning never writes null schemas into the repository.
	repo := copyRepo(t, sampleRepo)
	if _, _, err := Load(context.Background(), repo, Input{Request: plan.Request{WriteMetadata: true}}); err == nil || !strings.Contains(err.Error(), "--metadata-python") {
		t.Errorf("--write-metadata while planning: %v", err)
	}
	if _, err := os.Stat(filepath.Join(repo, ".domino")); err == nil {
		t.Error(".domino written while planning")
	}
}

// Schema extraction prefers pydantic v2's model_json_schema() to v1's
// schema(), and reports every piece whose models cannot be read, with the
// file and line, in one error.
func TestSchemaExtraction(t *testing.T) {
	py := hostPython(t)
	repo := copyRepo(t, sampleRepo)
	// A v2-style model: only model_json_schema exists.
	writeFile(t, filepath.Join(repo, "pieces/EchoPiece/models.py"), `
class _V2:
    @classmethod
    def model_json_schema(cls):
        return {"title": cls.__name__, "x-pydantic": 2, "type": "object", "properties": {"TOKEN": {"type": "string"}}}

class InputModel(_V2): pass
class OutputModel(_V2): pass
class SecretsModel(_V2): pass
`)
	_, res, err := Load(context.Background(), repo, Input{Settings: Settings{MetadataPython: py}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(res.CompiledMetadata, []byte(`"x-pydantic": 2`)) || strings.Join(res.Groups[1].Secrets, ",") != "TOKEN" {
		t.Errorf("v2 schema not used:\n%s", res.CompiledMetadata)
	}

	writeFile(t, filepath.Join(repo, "pieces/AddPiece/models.py"), "from pydantic import BaseModel\nimport not_installed_module\n")
	writeFile(t, filepath.Join(repo, "pieces/LogPiece/models.py"), "from pydantic import BaseModel\nclass InputModel(BaseModel):\n    x: int = 1\n")
	writeFile(t, filepath.Join(repo, "pieces/ToolPiece/models.py"), "def broken(:\n")
	_, _, err = Load(context.Background(), repo, Input{Settings: Settings{MetadataPython: py}})
	if err == nil {
		t.Fatal("broken models loaded")
	}
	for _, want := range []string{
		"pieces/AddPiece/models.py:2: importing AddPiece.models", "No module named 'not_installed_module'",
		"pieces/LogPiece/models.py: importing LogPiece.models", "OutputModel",
		"pieces/ToolPiece/models.py:1:", "SyntaxError",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "pieces/LogPiece/__pycache__")); err == nil {
		t.Error("bytecode was written into the repository")
	}

	// A missing interpreter says what to do.
	_, _, err = Load(context.Background(), repo, Input{Settings: Settings{MetadataPython: "/no/such/python3"}})
	if err == nil || !strings.Contains(err.Error(), "--no-schemas") {
		t.Errorf("missing interpreter: %v", err)
	}
}
