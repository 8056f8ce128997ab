package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// The debug lines the Domino convention logs for each group's schema
// extraction: Python run, or taken from the cache.
const (
	schemaRunLog = "running Python to read the pydantic schemas"
	schemaHitLog = "pydantic schemas taken from the cache"
)

// appendTo adds text at the end of a file, as an editor's save would.
func appendTo(t testing.TB, p, text string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, text...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// piecesRebuild is a pieces repository built once, ready to be rebuilt.
type piecesRebuild struct {
	cache, repo, layout string
	args                []string
}

// newPiecesRebuild copies testdata/pieces/repo and builds it once with
// extra arguments (the schemas read in each group's image unless extra
// names --metadata-python), in a cache of its own so that counts start at
// nothing. It returns the first build's stderr.
func newPiecesRebuild(t testing.TB, extra ...string) (*piecesRebuild, string) {
	t.Helper()
	hostIsAmd64(t)
	cache := filepath.Join(shortTempDir(t), "cache")
	wheels := piecesWheelhouse(t)
	_, base := piecesBase(t, cache, wheels)
	r := &piecesRebuild{cache: cache, repo: filepath.Join(t.TempDir(), "repo"), layout: filepath.Join(shortTempDir(t), "pieces")}
	testtool.CopyTree(t, filepath.Join(piecesTestdata, "repo"), r.repo)
	r.args = append([]string{"build", r.repo, "--base", base, "--find-links", wheels, "--no-index", "-o", "oci:" + r.layout}, extra...)
	return r, r.build(t)
}

// build rebuilds and returns stderr with debug logs.
func (r *piecesRebuild) build(t testing.TB) string {
	t.Helper()
	return mustAssemble(t, r.cache, append(r.args, "-v")...).stderr
}

// With the schemas read in each group's image (python3 run under the
// sandbox), a rebuild after a piece.py edit runs no Python: every group's
// extraction comes from the cache, the Dockerfile group's too, although its
// Dockerfile copies pieces/ below its pip install. An edit to a models.py
// runs the extraction of its own group only, and the new schema is in the
// image's compiled_metadata.json.
func TestPiecesSchemaCacheInImages(t *testing.T) {
	r, first := newPiecesRebuild(t)
	if n := strings.Count(first, schemaRunLog); n != 3 {
		t.Fatalf("first build ran the extraction %d times, want 3 (one per group):\n%s", n, first)
	}

	appendTo(t, filepath.Join(r.repo, "pieces/AddPiece/piece.py"), "\n# edited\n")
	out := r.build(t)
	if runs, hits := strings.Count(out, schemaRunLog), strings.Count(out, schemaHitLog); runs != 0 || hits != 3 {
		t.Errorf("after a piece.py edit: %d extraction runs, %d cache hits; want 0 and 3:\n%s", runs, hits, out)
	}

	appendTo(t, filepath.Join(r.repo, "pieces/AddPiece/models.py"), "\nInputModel.__doc__ = 'edited models'\n")
	out = r.build(t)
	if runs, hits := strings.Count(out, schemaRunLog), strings.Count(out, schemaHitLog); runs != 1 || hits != 2 {
		t.Errorf("after a models.py edit: %d extraction runs, %d cache hits; want 1 and 2:\n%s", runs, hits, out)
	}
	meta := filepath.Join(t.TempDir(), "meta")
	mustAssemble(t, r.cache, append(r.args, "--metadata-out", meta)...)
	if b, err := os.ReadFile(filepath.Join(meta, ".domino", "compiled_metadata.json")); err != nil || !strings.Contains(string(b), "edited models") {
		t.Errorf("the edited models.py's schema is not in compiled_metadata.json (%v)", err)
	}
}

// BenchmarkPiecesPieceEdited is `assemble build` of testdata/pieces/repo
// after one piece.py is edited: the rebuild a developer waits for. The
// whole CLI runs (a new process each time, as on the command line); the
// schemas come from the cache. "host" reads them with --metadata-python,
// "image" in each group's image.
func BenchmarkPiecesPieceEdited(b *testing.B) {
	for _, c := range []struct {
		name  string
		extra func(b *testing.B) []string
	}{
		{"host", func(b *testing.B) []string { return []string{"--metadata-python", hostPydantic(b)} }},
		{"image", func(*testing.B) []string { return nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, _ := newPiecesRebuild(b, c.extra(b)...)
			piece := filepath.Join(r.repo, "pieces/AddPiece/piece.py")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				appendTo(b, piece, "\n# edit\n")
				mustAssemble(b, r.cache, r.args...)
			}
		})
	}
}
