package pieces

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// runLog counts the extraction runs and cache hits a Load logs.
type runLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	runs int
	hits int
}

func (l *runLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs += bytes.Count(p, []byte("running Python to read the pydantic schemas"))
	l.hits += bytes.Count(p, []byte("pydantic schemas taken from the cache"))
	return l.buf.Write(p)
}

// counted returns a context whose logger counts into a new runLog.
func counted() (context.Context, *runLog) {
	l := &runLog{}
	h := slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})
	return logctx.With(context.Background(), slog.New(h)), l
}

// loadCounted loads repo and returns how many times Python ran and how
// many extractions came from the cache.
func loadCounted(t *testing.T, repo string, in Input) (*Result, int, int) {
	t.Helper()
	ctx, l := counted()
	_, res, err := Load(ctx, repo, in)
	if err != nil {
		t.Fatalf("%v\n%s", err, l.buf.String())
	}
	return res, l.runs, l.hits
}

func testCache(t *testing.T) Cache {
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c.Namespace(CacheNamespace)
}

// With a host interpreter: a rebuild after a piece.py edit takes the
// schemas from the cache (extraction does not import piece.py); an edit to
// a models.py, to a module a models.py imports, or a new file where
// Python looks for modules runs it again, and the result is as without a
// cache.
func TestSchemaCacheHost(t *testing.T) {
	py := hostPython(t)
	repo := copyRepo(t, sampleRepo)
	in := Input{Settings: Settings{MetadataPython: py}, Cache: testCache(t)}
	in.SourceURL = sampleSource
	first, runs, _ := loadCounted(t, repo, in)
	if runs != 1 {
		t.Fatalf("first load ran Python %d times", runs)
	}
	appendFile(t, filepath.Join(repo, "pieces/AddPiece/piece.py"), "\n# edited\n")
	res, runs, hits := loadCounted(t, repo, in)
	if runs != 0 || hits != 1 {
		t.Errorf("after a piece.py edit: %d runs, %d cache hits; want 0 and 1", runs, hits)
	}
	if !bytes.Equal(res.CompiledMetadata, first.CompiledMetadata) {
		t.Errorf("cached schemas differ:\n%s", firstDiff(res.CompiledMetadata, first.CompiledMetadata))
	}

	// models.py read by the extraction: edited, it runs again, and the new schema shows.
	writeFile(t, filepath.Join(repo, "pieces/AddPiece/helper.py"), "DESCRIPTION = 'from a helper'\n")
	models := filepath.Join(repo, "pieces/AddPiece/models.py")
	appendFile(t, models, "\nfrom .helper import DESCRIPTION\nInputModel.__doc__ = DESCRIPTION\n")
	res, runs, _ = loadCounted(t, repo, in)
	if runs != 1 || !bytes.Contains(res.CompiledMetadata, []byte("from a helper")) {
		t.Errorf("after a models.py edit: %d runs (want 1), helper text in metadata: %v", runs, bytes.Contains(res.CompiledMetadata, []byte("from a helper")))
	}
	// A module models.py imports is read by the extraction too.
	writeFile(t, filepath.Join(repo, "pieces/AddPiece/helper.py"), "DESCRIPTION = 'helper edited'\n")
	res, runs, _ = loadCounted(t, repo, in)
	if runs != 1 || !bytes.Contains(res.CompiledMetadata, []byte("helper edited")) {
		t.Errorf("after an edit to a module models.py imports: %d runs (want 1)", runs)
	}
	// A new file in a folder Python listed may change what an import finds.
	writeFile(t, filepath.Join(repo, "pieces/AddPiece/other.py"), "\n")
	if _, runs, _ = loadCounted(t, repo, in); runs != 1 {
		t.Errorf("after a new file in a piece folder: %d runs, want 1", runs)
	}
	if _, runs, _ = loadCounted(t, repo, in); runs != 0 {
		t.Errorf("unchanged: %d runs, want 0", runs)
	}
	// Another interpreter setting is another key.
	t.Setenv("PYTHONPATH", t.TempDir())
	if _, runs, _ = loadCounted(t, repo, in); runs != 1 {
		t.Errorf("with PYTHONPATH set: %d runs, want 1", runs)
	}
}

// layeredBuilder is fakeBuilder whose images have a base layer (base) and,
// on top, a repository layer that changes with every file under pieces/,
// as the real repository layer does.
type layeredBuilder struct {
	fakeBuilder
	base string
}

func (b *layeredBuilder) Build(ctx context.Context, root string, im plan.Image, platform string) (v1.Image, error) {
	if _, err := b.fakeBuilder.Build(ctx, root, im, platform); err != nil {
		return nil, err
	}
	files := map[string]string{}
	err := filepath.Walk(filepath.Join(root, "pieces"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[RepositoryDir+"/"+filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(empty.Image, tarLayer(map[string]string{"/usr/bin/python3": b.base}), tarLayer(files))
}

// tarLayer is a layer of the files (absolute path: content).
func tarLayer(files map[string]string) v1.Layer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(n, "/"), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

// A layer is taken as a copy of the repository only when every entry is
// under RepositoryDir and the same as the repository's file, as a
// Dockerfile's COPY pieces makes it; else its digest is in the key.
func TestCopiesRepository(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "pieces/A/models.py"), "x = 1\n")
	for _, c := range []struct {
		files map[string]string
		want  bool
	}{
		{map[string]string{RepositoryDir + "/pieces/A/models.py": "x = 1\n"}, true},
		{map[string]string{RepositoryDir + "/pieces/A/models.py": "x = 2\n"}, false},
		{map[string]string{RepositoryDir + "/pieces/A/extra.py": ""}, false},
		{map[string]string{RepositoryDir + "/pieces/A/models.py": "x = 1\n", "/usr/lib/x": ""}, false},
		{map[string]string{RepositoryDir + "/pieces/A/.wh.models.py": ""}, false},
	} {
		got, err := copiesRepository(tarLayer(c.files), root)
		if err != nil || got != c.want {
			t.Errorf("%v: %v, %v; want %v", c.files, got, err, c.want)
		}
	}
}

// Files longer than the buffers they are compared in (and exactly as long)
// are the same only when every byte is, the last ones too.
func TestCopiesRepositoryLongFiles(t *testing.T) {
	root := t.TempDir()
	for _, n := range []int{32 << 10, 32<<10 + 1, 100 << 10} {
		content := strings.Repeat("x", n-1) + "\n"
		writeFile(t, filepath.Join(root, "data.txt"), content)
		name := RepositoryDir + "/data.txt"
		for _, c := range []struct {
			layer string
			want  bool
		}{
			{content, true},
			{content[:n-1] + "y", false},
			{"y" + content[1:], false},
			{content[:32<<10-1] + "y" + content[32<<10:], false},
		} {
			got, err := copiesRepository(tarLayer(map[string]string{name: c.layer}), root)
			if err != nil || got != c.want {
				t.Errorf("%d bytes, layer differing at %d: %v, %v; want %v", n, strings.IndexByte(c.layer, 'y'), got, err, c.want)
			}
		}
	}
}

// countingLayer counts how often its content is read.
type countingLayer struct {
	v1.Layer
	reads *int
}

func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	*l.reads++
	return l.Layer.Uncompressed()
}

// The groups' images share the repository layer: it is read and compared
// with the repository once per load, not once per group, and every group's
// key leaves it out alike.
func TestRepoCopiesOncePerLayer(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "pieces/A/models.py"), "x = 1\n")
	reads := 0
	repoLayer := countingLayer{tarLayer(map[string]string{RepositoryDir + "/pieces/A/models.py": "x = 1\n"}), &reads}
	copies := newRepoCopies(root)
	var keys []string
	for _, req := range []string{"a", "b", "c"} {
		img, err := mutate.AppendLayers(empty.Image, tarLayer(map[string]string{"/usr/lib/" + req: req}), repoLayer)
		if err != nil {
			t.Fatal(err)
		}
		r, err := imageRun(img, "linux/amd64", copies, "group", []string{"A"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, r.key)
	}
	if reads != 1 {
		t.Errorf("the repository layer was read %d times for 3 groups", reads)
	}
	if keys[0] == keys[1] || keys[1] == keys[2] {
		t.Errorf("groups with other layers below share a key: %v", keys)
	}
}

// In each group's image: a piece.py edit changes the repository layer but
// runs nothing; a models.py edit runs its group's extraction again (the
// other groups' reads are unchanged); a change below the repository layer
// (the base, the requirements) runs every group again.
func TestSchemaCacheInImages(t *testing.T) {
	py := hostPython(t)
	repo := copyRepo(t, sampleRepo)
	b := &layeredBuilder{fakeBuilder: fakeBuilder{python: py, root: repo}, base: "base 1"}
	in := Input{Request: plan.Request{Builder: b, SourceURL: sampleSource}, Cache: testCache(t)}
	first, runs, _ := loadCounted(t, repo, in)
	if runs != 3 || len(b.runs) != 3 {
		t.Fatalf("first load: %d logged runs, %d builder runs; want 3 (one per group)", runs, len(b.runs))
	}
	want, _ := os.ReadFile(filepath.Join(expectedDir, "compiled_metadata.json"))
	if !bytes.Equal(first.CompiledMetadata, want) {
		t.Errorf("compiled metadata differs from the expected file:\n%s", firstDiff(first.CompiledMetadata, want))
	}

	appendFile(t, filepath.Join(repo, "pieces/AddPiece/piece.py"), "\n# edited\n")
	res, runs, hits := loadCounted(t, repo, in)
	if runs != 0 || hits != 3 || len(b.runs) != 3 {
		t.Errorf("after a piece.py edit: %d runs (builder %d in all), %d hits; want no run and 3 hits", runs, len(b.runs), hits)
	}
	if !bytes.Equal(res.CompiledMetadata, want) {
		t.Errorf("cached schemas differ:\n%s", firstDiff(res.CompiledMetadata, want))
	}

	appendFile(t, filepath.Join(repo, "pieces/AddPiece/models.py"), "\nInputModel.__doc__ = 'edited models'\n")
	res, runs, hits = loadCounted(t, repo, in)
	if runs != 1 || hits != 2 {
		t.Errorf("after a models.py edit: %d runs, %d hits; want 1 (AddPiece's group) and 2", runs, hits)
	}
	if !bytes.Contains(res.CompiledMetadata, []byte("edited models")) {
		t.Error("the edited models.py's schema is not in the metadata")
	}

	// Another checkout of the same repository finds the entries.
	other := copyRepo(t, repo)
	ob := &layeredBuilder{fakeBuilder: fakeBuilder{python: py, root: other}, base: b.base}
	oin := in
	oin.Builder = ob
	if _, runs, hits = loadCounted(t, other, oin); runs != 0 || hits != 3 {
		t.Errorf("in another checkout: %d runs, %d hits; want 0 and 3", runs, hits)
	}

	b.base = "base 2"
	if _, runs, _ = loadCounted(t, repo, in); runs != 3 {
		t.Errorf("after a change below the repository layer: %d runs, want 3", runs)
	}
}

// A kept entry is taken only while every read it recorded is unchanged,
// and a missing file stays missing.
func TestSchemaCacheEntry(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "models.py")
	writeFile(t, f, "x = 1\n")
	c := testCache(t)
	out := []byte(`{"pieces": {}, "reads": {"files": ["` + f + `", "` + filepath.Join(dir, "gone.py") + `"], "dirs": ["` + dir + `"]}}`)
	local := func(p string) (string, bool, bool) { return p, true, true }
	if err := keep(c, "k.json", "", out, local); err != nil {
		t.Fatal(err)
	}
	if got, ok := lookup(c, "k.json", ""); !ok || !bytes.Equal(got, out) {
		t.Fatalf("unchanged entry not taken: %v %s", ok, got)
	}
	writeFile(t, f, "x = 2\n")
	if _, ok := lookup(c, "k.json", ""); ok {
		t.Error("entry taken after a read file changed")
	}
	writeFile(t, f, "x = 1\n")
	if _, ok := lookup(c, "k.json", ""); !ok {
		t.Error("entry not taken once the file is back as it was")
	}
	writeFile(t, filepath.Join(dir, "gone.py"), "")
	if _, ok := lookup(c, "k.json", ""); ok {
		t.Error("entry taken after a file it found missing appeared")
	}
	// Without recorded reads (Python before 3.8) nothing is kept.
	if err := keep(c, "n.json", "", []byte(`{"pieces": {}, "reads": null}`), local); err == nil || !strings.Contains(err.Error(), "3.8") {
		t.Errorf("keeping an output without reads: %v", err)
	}
	if src, ok := sourceOfBytecode("/x/pkg/__pycache__/mod.cpython-311.pyc"); !ok || src != "/x/pkg/mod.py" {
		t.Errorf("source of bytecode: %q %v", src, ok)
	}
}

func appendFile(t *testing.T, p, text string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
