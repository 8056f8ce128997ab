package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

const piecesRepo = "../../testdata/pieces/repo"

// `assemble plan` on a Domino pieces repository: the convention, one image
// per dependency group named as Domino names them, the Dockerfile group,
// and the --registry / --version-tag overrides.
func TestPiecesPlan(t *testing.T) {
	cache := t.TempDir()
	r := mustAssemble(t, cache, "plan", piecesRepo)
	for _, want := range []string{
		"domino-pieces",
		"ghcr.io/assemble-build/sample_domino_pieces:0.2.0-group0",
		"ghcr.io/assemble-build/sample_domino_pieces:0.2.0-group1",
		"ghcr.io/assemble-build/sample_domino_pieces:0.2.0-group2",
		"python dependencies/requirements_0.txt",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}

	r = mustAssemble(t, cache, "plan", piecesRepo, "--json", "--registry", "registry.example:5000/team", "--version-tag", "development")
	var p struct {
		Convention string `json:"convention"`
		Images     []struct {
			Name       string   `json:"name"`
			Tags       []string `json:"tags"`
			Dockerfile *struct {
				Path    string `json:"path"`
				Context string `json:"context"`
			} `json:"dockerfile"`
			Layers []struct {
				Kind string `json:"kind"`
			} `json:"layers"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.stdout)
	}
	if p.Convention != "domino-pieces" || len(p.Images) != 3 {
		t.Fatalf("plan: %+v", p)
	}
	for i, im := range p.Images {
		if im.Name != "registry.example:5000/team/sample_domino_pieces" || len(im.Tags) != 1 || im.Tags[0] != "development-group"+string(rune('0'+i)) {
			t.Errorf("image %d: %s %v", i, im.Name, im.Tags)
		}
		if last := im.Layers[len(im.Layers)-1]; last.Kind != "generated" {
			t.Errorf("image %d: last layer %s, want the generated .domino layer", i, last.Kind)
		}
	}
	if d := p.Images[2].Dockerfile; d == nil || d.Path != "dependencies/Dockerfile_tools" || d.Context != "." {
		t.Errorf("group2 is not the Dockerfile group: %+v", p.Images[2])
	}
	if p.Images[0].Layers[0].Kind != "python" || p.Images[0].Layers[1].Kind != "files" {
		t.Errorf("group0 layers: %+v", p.Images[0].Layers)
	}
}

// A broken repository: every problem in one error naming its file, and
// nothing written.
func TestPiecesValidationErrorsCLI(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	testtool.CopyTree(t, piecesRepo, repo)
	os.Remove(filepath.Join(repo, "pieces/LogPiece/piece.py"))
	os.WriteFile(filepath.Join(repo, "pieces/EchoPiece/metadata.json"), []byte(`{"name": "EchoPiece", "description": "d", "dependency": {"dockerfile": null}}`), 0o644)
	os.WriteFile(filepath.Join(repo, "pieces/ToolPiece/metadata.json"), []byte(`{"name": "ToolPiece", "description": "d", "dependency": {"dockerfile": "Dockerfile_gone"}}`), 0o644)
	out := filepath.Join(t.TempDir(), "layout")
	r := assemble(t, t.TempDir(), "build", repo, "--no-schemas", "--base", "scratch", "-o", "oci:"+out)
	if r.err == nil {
		t.Fatal("a broken repository built")
	}
	for _, want := range []string{
		"3 problems",
		"pieces/EchoPiece/metadata.json: dependency.dockerfile is null",
		"pieces/LogPiece: missing 'piece.py' for LogPiece",
		"pieces/ToolPiece/metadata.json: missing dependency file Dockerfile_gone defined for ToolPiece",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed build wrote its output")
	}
	if _, err := os.Stat(filepath.Join(repo, ".domino")); !os.IsNotExist(err) {
		t.Error("a failed build wrote .domino")
	}

	// A missing interpreter says what to do.
	r = assemble(t, t.TempDir(), "plan", piecesRepo, "--metadata-python", "/no/such/python3")
	if r.err == nil || !strings.Contains(r.stderr, "--no-schemas") {
		t.Errorf("missing --metadata-python interpreter: %v\n%s", r.err, r.stderr)
	}
}

// --no-run refuses the in-image schema extraction in one line that names the
// group and what to do, without quoting the script.
func TestPiecesNoRunCLI(t *testing.T) {
	repo := t.TempDir()
	for p, c := range map[string]string{
		"config.toml":                    "[repository]\nREGISTRY_NAME = \"owner\"\nREPOSITORY_NAME = \"repo\"\nVERSION = \"0.1.0\"\n",
		"dependencies/.keep":             "",
		"pieces/EchoPiece/models.py":     "",
		"pieces/EchoPiece/piece.py":      "",
		"pieces/EchoPiece/metadata.json": `{"name": "EchoPiece", "description": "d"}`,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := assemble(t, t.TempDir(), "build", repo, "--no-run", "--base", "scratch", "-o", "oci:"+filepath.Join(t.TempDir(), "layout"))
	if r.err == nil {
		t.Fatal("--no-run built without the schemas")
	}
	var line string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "--no-run refuses") {
			line = l
		}
		if strings.Contains(l, "importlib") {
			t.Errorf("the error quotes the script: %s", l)
		}
	}
	for _, want := range []string{"group0 (EchoPiece)", "--metadata-python", "--no-schemas"} {
		if !strings.Contains(line, want) {
			t.Errorf("error line lacks %q:\n%s", want, r.stderr)
		}
	}
}
