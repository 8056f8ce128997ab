package explicit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// FuzzLoad reads arbitrary assemble.toml files in a repository holding a
// few files: Load never panics, and a plan it returns names every image and
// prints as JSON.
func FuzzLoad(f *testing.F) {
	for _, b := range testtool.ReadFiles(f, "../../testdata/*/"+FileName) {
		f.Add(string(b))
	}
	f.Add("[[image]]\nname = \"x\"\ntags = [\"a\"\n")
	f.Add("[[image]]\nname = \"x\"\n\n[[image.layer]]\ndir = \".\"\ndestination = \"/x\"\n")
	f.Add("[[image]]\nname = \"x\"\n[image.config]\nuser = \"1000:1000\"\nports = [\"8080/tcp\"]\n[[image.layer]]\ndir = \"app\"\nowner = \"1:1\"\n[[image.layer]]\ntype = \"apt\"\nfile = \"apt.txt\"\n")
	dir := f.TempDir()
	for p, content := range map[string]string{"app/main.py": "print(1)\n", "apt.txt": "curl\n", "requirements.txt": "six\n", "data/x": "x"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, toml string) {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(dir)
		if err != nil {
			if !strings.Contains(err.Error(), FileName) {
				t.Errorf("error does not name %s: %v", FileName, err)
			}
			return
		}
		for _, img := range p.Images {
			if img.Name == "" {
				t.Errorf("image without a name in %+v", p.Images)
			}
		}
		if _, err := json.Marshal(p); err != nil {
			t.Errorf("plan does not print as JSON: %v", err)
		}
	})
}
