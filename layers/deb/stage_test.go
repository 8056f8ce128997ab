package deb

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// stageNames lists the staging directory, or nil when it is gone.
func stageNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestStagingFileShared: the packages an unpacking worker stages go one
// after another into one staging file; a package that fails midway is cut
// out of it without disturbing the others; each entry reads its own part
// back, in any order; the file is removed when its last part has been
// read, and the staging directory with it. A part that lost to a later
// package's copy does not keep the file once the others are read.
func TestStagingFileShared(t *testing.T) {
	stage := t.TempDir()
	out := &stageWriter{dir: stage, prefix: "0"}
	mem := newMemBudget(0)
	big := func(c string, n int) string { return strings.Repeat(c, n<<10) }
	stage1 := func(st *stager, body string) *stagedPart {
		t.Helper()
		part, data, _, err := st.put(strings.NewReader(body), int64(len(body)), false)
		if err != nil {
			t.Fatal(err)
		}
		if body == "" && (part != nil || data == nil) {
			t.Fatalf("an empty file was staged")
		}
		return part
	}
	a := &stager{mem: mem, out: out}
	bodies := map[string]string{"a1": big("a", 70), "a2": big("b", 100), "a3": "tiny", "c1": big("c", 90)}
	parts := map[string]*stagedPart{"a1": stage1(a, bodies["a1"]), "a2": stage1(a, bodies["a2"]), "a3": stage1(a, bodies["a3"])}
	if stage1(a, "") != nil {
		t.Fatal("empty content staged")
	}
	// b stages one content, then fails.
	b := &stager{mem: mem, out: out}
	stage1(b, big("x", 80))
	if _, _, _, err := b.put(strings.NewReader("short"), 100<<10, false); err == nil {
		t.Fatal("a short content was staged")
	}
	parts["c1"] = stage1(&stager{mem: mem, out: out}, bodies["c1"])
	if err := out.close(); err != nil {
		t.Fatal(err)
	}
	names := stageNames(t, stage)
	if len(names) != 1 {
		t.Fatalf("staging files %v, want one", names)
	}
	fi, err := os.Stat(filepath.Join(stage, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(bodies["a1"]) + len(bodies["a2"]) + len(bodies["a3"]) + len(bodies["c1"])); fi.Size() != want {
		t.Errorf("staging file of %d bytes, want %d (the failed package cut out)", fi.Size(), want)
	}

	lb := newLayerBuilder()
	ctx := context.Background()
	for _, name := range []string{"a1", "a2", "a3", "c1"} {
		body := bodies[name]
		if err := lb.add(ctx, layers.Entry{Path: name, Type: layers.TypeFile, Size: int64(len(body))}, parts[name], nil, "p"); err != nil {
			t.Fatal(err)
		}
		if got, ok := lb.read(name); !ok || string(got) != body {
			t.Fatalf("builder read of %s: %d bytes, %v", name, len(got), ok)
		}
	}
	// a3 loses to an in-memory copy from a later package.
	if err := lb.add(ctx, layers.Entry{Path: "a3", Type: layers.TypeFile, Size: 1}, nil, []byte("d"), "q"); err != nil {
		t.Fatal(err)
	}
	bodies["a3"] = "d"
	entries, err := lb.finish(stage)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if len(stageNames(t, stage)) == 0 {
			t.Fatalf("staging file gone before %s was read", e.Path)
		}
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if string(got) != bodies[e.Path] {
			t.Errorf("%s: %d bytes, want %d", e.Path, len(got), len(bodies[e.Path]))
		}
	}
	if names := stageNames(t, stage); names != nil {
		t.Errorf("left after every part was read: %v", names)
	}
}

// TestStagerDiscard: a package that fails, with a staging file of its own,
// leaves no file, and the stager starts a new file for what it stages
// next (its fallback to the .deb reads the package again).
func TestStagerDiscard(t *testing.T) {
	stage := t.TempDir()
	st := newStager(stage, "3", newMemBudget(0))
	big := strings.Repeat("x", 80<<10)
	if _, _, _, err := st.put(strings.NewReader(big), int64(len(big)), false); err != nil {
		t.Fatal(err)
	}
	// A truncated content fails, and takes the package's file with it.
	if _, _, _, err := st.put(strings.NewReader(big[:100]), int64(len(big)), false); err == nil {
		t.Fatal("a short content was staged")
	}
	if names := stageNames(t, stage); len(names) != 0 {
		t.Fatalf("left after a failed put: %v", names)
	}
	part, _, sum, err := st.put(bytes.NewReader([]byte(big)), int64(len(big)), true)
	if err != nil || sum == "" {
		t.Fatalf("put after a failure: %v (md5 %q)", err, sum)
	}
	st.discard()
	if names := stageNames(t, stage); len(names) != 0 {
		t.Fatalf("left after discard: %v", names)
	}
	if _, err := part.read(); err == nil {
		t.Error("a discarded part is still readable")
	}
	if err := st.close(); err != nil {
		t.Errorf("close after discard: %v", err)
	}
}
