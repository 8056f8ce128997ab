package pieces

import (
	"os"
	"path/filepath"
	"testing"
)

// Fuzz target for a pieces repository's files: config.toml and the pieces'
// metadata.json (the JSON reader under them has its own target in
// internal/pyjson). hack/test.sh runs it briefly.

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
		r, err := readRepository(root, "the image tags need it")
		if err != nil {
			return
		}
		if r.config == nil || len(r.pieces) == 0 {
			t.Errorf("a valid repository without config or pieces: %+v", r)
		}
	})
}
