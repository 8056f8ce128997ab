package devfile_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/assemble-build/assemble/assembler/devfile"
)

// FuzzIndex reads a devfile registry whose YAML files are fuzzed: a stack's
// devfile.yaml, a multi-version stack's stack.yaml, extraDevfileEntries.yaml
// and last_modified.json. Index never panics, and an index it returns is
// JSON. hack/test.sh runs it briefly.
func FuzzIndex(f *testing.F) {
	files := []string{"stacks/java-maven/devfile.yaml", "stacks/go/stack.yaml", devfile.ExtraEntriesFile, "last_modified.json"}
	seed := make([][]byte, len(files))
	for i, p := range files {
		b, err := os.ReadFile(filepath.Join(testRegistry, p))
		if err != nil {
			f.Fatal(err)
		}
		seed[i] = b
	}
	f.Add(seed[0], seed[1], seed[2], seed[3])
	f.Add([]byte("schemaVersion: 2.2.0\nmetadata:\n  name: java-maven\n  version: x.y\n"), []byte("name: go\nversions:\n  - version: 1.2.0\n    default: true\n"),
		[]byte("schemaVersion: 2.2.0\nsamples:\n  - name: s\n    git: {remotes: {origin: 'https://x/y.git'}}\n"), []byte("[]"))
	f.Add([]byte("&a [*a]"), []byte("versions: {}"), []byte("- 1\n"), []byte("{"))
	root := copyRegistry(f)
	f.Fuzz(func(t *testing.T, devfileYAML, stack, extra, lastModified []byte) {
		for i, b := range [][]byte{devfileYAML, stack, extra, lastModified} {
			if err := os.WriteFile(filepath.Join(root, files[i]), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		idx, err := devfile.Index(root)
		if err != nil {
			return
		}
		if !json.Valid(idx) {
			t.Errorf("index.json is not JSON:\n%s", idx)
		}
	})
}
