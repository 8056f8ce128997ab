package pieces

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/pyjson"
)

const goodConfig = "[repository]\nREGISTRY_NAME = \"owner\"\nREPOSITORY_NAME = \"repo\"\nVERSION = \"0.1.0\"\n"

// miniRepo writes a repository from path -> content ("" content with a
// trailing "/" makes a directory).
func miniRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeFile(t, filepath.Join(root, p), c)
	}
	return root
}

func validFiles() map[string]string {
	return map[string]string{
		"config.toml":                        goodConfig,
		"dependencies/requirements.txt":      "requests\n",
		"pieces/OnePiece/models.py":          "",
		"pieces/OnePiece/piece.py":           "",
		"pieces/OnePiece/metadata.json":      `{"name": "OnePiece", "description": "d", "dependency": {"requirements_file": "requirements.txt"}}`,
		"pieces/TwoPiece/models.py":          "",
		"pieces/TwoPiece/piece.py":           "",
		"pieces/NotAPieceFolder/whatever.py": "",
	}
}

func loadErr(t *testing.T, files map[string]string) *ValidationError {
	t.Helper()
	_, _, err := Load(context.Background(), miniRepo(t, files), Input{Settings: Settings{NoSchemas: true}})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error, got %v", err)
	}
	return ve
}

// Each of Domino's validation errors is reported with the file it is about
// and a message that says what to do.
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name   string
		change func(map[string]string)
		file   string
		want   []string
	}{
		{"missing config.toml", func(f map[string]string) { delete(f, "config.toml") }, "config.toml", []string{"missing config.toml file"}},
		{"config.toml syntax", func(f map[string]string) { f["config.toml"] = "[repository]\nVERSION = \n" }, "config.toml:2", []string{"TOML syntax"}},
		{"no [repository]", func(f map[string]string) { f["config.toml"] = "[other]\nX = 1\n" }, "config.toml", []string{"no [repository] table"}},
		{"missing keys", func(f map[string]string) { f["config.toml"] = "[repository]\nREPOSITORY_NAME = \"repo\"\n" }, "config.toml", []string{"lacks REGISTRY_NAME", "lacks VERSION"}},
		{"repo name with space", func(f map[string]string) {
			f["config.toml"] = strings.Replace(goodConfig, `"repo"`, `"my repo"`, 1)
		}, "config.toml:3", []string{"blank spaces"}},
		{"repo name with special", func(f map[string]string) {
			f["config.toml"] = strings.Replace(goodConfig, `"repo"`, `"repo!"`, 1)
		}, "config.toml:3", []string{"special characters"}},
		{"repo name upper-case", func(f map[string]string) {
			f["config.toml"] = strings.Replace(goodConfig, `"repo"`, `"MyRepo"`, 1)
		}, "config.toml:3", []string{"not a valid image name"}},
		{"version not a string", func(f map[string]string) {
			f["config.toml"] = strings.Replace(goodConfig, `"0.1.0"`, `0.1`, 1)
		}, "config.toml:4", []string{"VERSION must be a string"}},
		{"no pieces/", func(f map[string]string) {
			for k := range f {
				if strings.HasPrefix(k, "pieces/") {
					delete(f, k)
				}
			}
		}, "pieces", []string{"Pieces directory does not exist"}},
		{"no dependencies/", func(f map[string]string) {
			delete(f, "dependencies/requirements.txt")
			f["pieces/OnePiece/metadata.json"] = `{"name": "OnePiece", "description": "d"}`
		}, "dependencies", []string{"Dependencies directory does not exist"}},
		{"no pieces at all", func(f map[string]string) {
			for k := range f {
				if strings.HasPrefix(k, "pieces/") && !strings.HasPrefix(k, "pieces/NotAPiece") {
					delete(f, k)
				}
			}
		}, "pieces", []string{"No pieces found in the Pieces Repository"}},
		{"missing models.py", func(f map[string]string) { delete(f, "pieces/TwoPiece/models.py") }, "pieces/TwoPiece", []string{"missing 'models.py' for TwoPiece"}},
		{"missing piece.py", func(f map[string]string) { delete(f, "pieces/TwoPiece/piece.py") }, "pieces/TwoPiece", []string{"missing 'piece.py' for TwoPiece", "class TwoPiece(BasePiece)"}},
		{"invalid JSON", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = "{\n  \"name\": \"TwoPiece\",\n  oops\n}"
		}, "pieces/TwoPiece/metadata.json:3", []string{"invalid JSON"}},
		{"not an object", func(f map[string]string) { f["pieces/TwoPiece/metadata.json"] = `["TwoPiece"]` }, "pieces/TwoPiece/metadata.json", []string{"must be a JSON object"}},
		{"name required", func(f map[string]string) { f["pieces/TwoPiece/metadata.json"] = `{"description": "d"}` }, "pieces/TwoPiece/metadata.json", []string{`"name" is a required property`}},
		{"description required", func(f map[string]string) { f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece"}` }, "pieces/TwoPiece/metadata.json", []string{`"description" is a required property`}},
		{"wrong types", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": 3, "tags": "x", "style": [], "container_resources": "big", "source_url": 1}`
		}, "pieces/TwoPiece/metadata.json", []string{"description is a number, must be a string", "tags is a string, must be an array", "style is an array, must be an object", "container_resources is a string, must be an object", "source_url is a number, must be a string"}},
		{"tag not a string", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "tags": ["a", 2]}`
		}, "pieces/TwoPiece/metadata.json", []string{"tags[1] is a number, must be a string"}},
		{"null dependency value", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": {"dockerfile": null, "requirements_file": "requirements.txt"}}`
		}, "pieces/TwoPiece/metadata.json", []string{"dependency.dockerfile is null, must be a string", "omit the key instead"}},
		{"null dependency", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": null}`
		}, "pieces/TwoPiece/metadata.json", []string{"dependency is null, must be an object", "omit the key instead"}},
		{"hand-written schema", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "input_schema": {"title": "x"}}`
		}, "pieces/TwoPiece/metadata.json", []string{`input_schema lacks "description"`, `input_schema lacks "properties"`}},
		{"inconsistent name", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "OtherPiece", "description": "d"}`
		}, "pieces/TwoPiece/metadata.json", []string{"The following Pieces have inconsistent names: TwoPiece"}},
		{"missing requirements file", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": {"requirements_file": "requirements_9.txt"}}`
		}, "pieces/TwoPiece/metadata.json", []string{"missing dependency file requirements_9.txt defined for TwoPiece"}},
		{"missing dockerfile", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": {"dockerfile": "Dockerfile_gpu"}}`
		}, "pieces/TwoPiece/metadata.json", []string{"missing dependency file Dockerfile_gpu defined for TwoPiece", "add dependencies/Dockerfile_gpu"}},
		{"path in dependency", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": {"requirements_file": "../config.toml"}}`
		}, "pieces/TwoPiece/metadata.json", []string{"missing dependency file ../config.toml"}},
		{"dependency is a directory", func(f map[string]string) {
			f["dependencies/reqs.d/"] = ""
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": {"requirements_file": "reqs.d"}}`
		}, "pieces/TwoPiece/metadata.json", []string{"dependencies/reqs.d, which is not a regular file"}},
		{"legacy default", func(f map[string]string) {
			f["pieces/TwoPiece/metadata.json"] = `{"name": "TwoPiece", "description": "d", "dependency": {"requirements_file": "default"}}`
		}, "pieces/TwoPiece/metadata.json", []string{`legacy value "default"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := validFiles()
			c.change(files)
			ve := loadErr(t, files)
			msg := ve.Error()
			if !strings.Contains(msg, "\n  "+c.file+": ") {
				t.Errorf("error does not name %s:\n%s", c.file, msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// Every problem is reported in one run, sorted by file.
func TestValidationReportsEverything(t *testing.T) {
	files := validFiles()
	files["config.toml"] = "[repository]\nREPOSITORY_NAME = \"repo\"\nVERSION = \"1\"\n"
	delete(files, "pieces/TwoPiece/models.py")
	files["pieces/ThreePiece/models.py"] = ""
	files["pieces/ThreePiece/metadata.json"] = `{"name": "ThreePiece", "description": "d", "dependency": {"dockerfile": null}}`
	files["pieces/FourPiece/piece.py"] = ""
	files["pieces/FourPiece/metadata.json"] = `{"name": "Four", "description": "d", "dependency": {"requirements_file": "nope.txt"}}`
	ve := loadErr(t, files)
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.File)
	}
	want := "config.toml,pieces/FourPiece,pieces/FourPiece/metadata.json,pieces/FourPiece/metadata.json,pieces/ThreePiece,pieces/ThreePiece/metadata.json,pieces/TwoPiece"
	if strings.Join(got, ",") != want {
		t.Errorf("problems in %v, want %s:\n%v", got, want, ve)
	}
	if !strings.Contains(ve.Error(), "(7 problems)") {
		t.Errorf("count: %v", ve)
	}
}

// Folders not ending in "Piece", hidden ones and files are ignored, as
// Domino's glob("*Piece") ignores them; pieces without metadata.json are
// compiled with the folder name.
func TestPieceFolders(t *testing.T) {
	files := validFiles()
	files[".hiddenPiece/x"] = ""
	files["pieces/.HiddenPiece/models.py"] = ""
	files["pieces/FilePiece"] = "not a folder"
	_, res, err := Load(context.Background(), miniRepo(t, files), Input{Settings: Settings{NoSchemas: true}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := pyjson.Parse(res.CompiledMetadata)
	if strings.Join(c.Keys(), ",") != "OnePiece,TwoPiece" {
		t.Errorf("pieces: %v", c.Keys())
	}
	if n := c.Get("TwoPiece").Get("name"); n.Text() != "TwoPiece" {
		t.Errorf("name of a piece without metadata.json: %v", n.Text())
	}
}

// Detection needs config.toml with [repository] and a pieces/ directory.
func TestDetect(t *testing.T) {
	if ok, why := Detect(sampleRepo); !ok || !strings.Contains(why, "[repository]") {
		t.Errorf("sample: %v %q", ok, why)
	}
	for name, files := range map[string]map[string]string{
		"no pieces/":      {"config.toml": goodConfig},
		"no [repository]": {"config.toml": "[package]\nname = \"x\"\n", "pieces/": ""},
		"no config.toml":  {"pieces/": ""},
	} {
		if ok, _ := Detect(miniRepo(t, files)); ok {
			t.Errorf("%s: detected", name)
		}
	}
	// A config.toml that does not parse but declares [repository] is ours,
	// so its error is reported.
	root := miniRepo(t, map[string]string{"config.toml": "[repository]\nVERSION = = 1\n", "pieces/": ""})
	if ok, _ := Detect(root); !ok {
		t.Error("broken config.toml with [repository] not detected")
	}
}
