package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	written, err := WriteFiles(dir, []File{{Path: ".domino/a.json", Content: []byte("{}\n")}, {Path: "index.json", Content: []byte("[]")}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(written, ",") != ".domino/a.json,index.json" {
		t.Errorf("written: %v", written)
	}
	if got, err := os.ReadFile(filepath.Join(dir, ".domino", "a.json")); err != nil || string(got) != "{}\n" {
		t.Errorf(".domino/a.json: %q, %v", got, err)
	}
	for _, bad := range []string{"../out.json", "a/../../out.json", ".."} {
		if _, err := WriteFiles(filepath.Join(dir, "sub"), []File{{Path: bad}}); err == nil || !strings.Contains(err.Error(), "leaves") {
			t.Errorf("%s: %v, want it refused", bad, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.json")); err == nil {
		t.Error("a file was written outside the directory")
	}
}
