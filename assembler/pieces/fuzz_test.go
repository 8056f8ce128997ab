package pieces

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for a pieces repository's files: config.toml, the pieces'
// metadata.json, and the Python-compatible JSON reader and writer under
// them. hack/test.sh runs each target briefly.

func addRepoSeeds(f *testing.F, name string) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join(sampleRepo, name))
	more, _ := filepath.Glob(filepath.Join(sampleRepo, "pieces", "*", name))
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// What parseJSON reads, pyIndent and pyCompact write in a form that reads
// back as an equal value.
func FuzzParseJSON(f *testing.F) {
	addRepoSeeds(f, "metadata.json")
	for _, s := range []string{`{"a": 1, "s": "\u00e9&<>", "n": {"deep": [1e-5, 1e16, 100, -0.0, 1.5e300]}, "b": 2, "": ""}`,
		`{"a": 1, "a": 2}`, `[1, 2`, `{"a" 1}`, `"\ud800"`, `1e999`, `null`, `[true, false, null]`, `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseJSON(data)
		if err != nil {
			return
		}
		for _, out := range [][]byte{pyIndent(v), pyCompact(v)} {
			w, err := parseJSON(out)
			if err != nil {
				if bytes.Contains(out, []byte("Infinity")) || bytes.Contains(out, []byte("NaN")) {
					continue // Python writes overflowing floats so; JSON has no word for them
				}
				t.Fatalf("%q is written as %q, which does not read back: %v", data, out, err)
			}
			if !v.equal(w) {
				t.Errorf("%q is written as %q, which reads back as a different value", data, out)
			}
		}
	})
}

// readRepository validates any config.toml and metadata.json without
// panicking.
func FuzzReadRepository(f *testing.F) {
	cfg, err := os.ReadFile(filepath.Join(sampleRepo, ConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join(sampleRepo, "pieces", "AddPiece", "metadata.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cfg, meta)
	f.Add([]byte("[repository]\nREGISTRY_NAME = 1\n"), []byte(`{"name": "AddPiece", "dependency": {"requirements_file": "../x.txt"}}`))
	f.Add([]byte("no toml ["), []byte(`{"name": 7, "container_resources": {"limits": {"cpu": "x"}}}`))
	root := copyRepo(f, sampleRepo)
	f.Fuzz(func(t *testing.T, config, metadata []byte) {
		if err := os.WriteFile(filepath.Join(root, ConfigFile), config, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "pieces", "AddPiece", "metadata.json"), metadata, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := readRepository(root)
		if err != nil {
			return
		}
		if r.config == nil || len(r.pieces) == 0 {
			t.Errorf("a valid repository without config or pieces: %+v", r)
		}
	})
}
