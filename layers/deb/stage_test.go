package deb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
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

// TestStagerOneFilePerPackage: a package's large contents go one after
// another into one staging file; each entry reads its own part back, in
// any order; the file is removed when its last part has been read, and
// the staging directory with it. A part that lost to a later package's
// copy does not keep its file once the others are read.
func TestStagerOneFilePerPackage(t *testing.T) {
	stage := t.TempDir()
	st := &stager{dir: stage, prefix: "0", mem: newMemBudget(0)}
	bodies := []string{strings.Repeat("a", 70<<10), "", strings.Repeat("b", 100<<10), "tiny", strings.Repeat("c", 1)}
	parts := make([]*stagedPart, len(bodies))
	for i, body := range bodies {
		part, data, _, err := st.put(strings.NewReader(body), int64(len(body)), false)
		if err != nil {
			t.Fatal(err)
		}
		if body == "" && (part != nil || data == nil) {
			t.Fatalf("an empty file was staged")
		}
		parts[i] = part
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	if names := stageNames(t, stage); len(names) != 1 {
		t.Fatalf("staging files %v, want one", names)
	}
	b := newLayerBuilder()
	ctx := context.Background()
	for i, body := range bodies {
		if parts[i] == nil {
			continue
		}
		name := fmt.Sprintf("f%d", i)
		if err := b.add(ctx, layers.Entry{Path: name, Type: layers.TypeFile, Size: int64(len(body))}, parts[i], nil, "p0"); err != nil {
			t.Fatal(err)
		}
		if got, ok := b.read(name); !ok || string(got) != body {
			t.Fatalf("builder read of part %d: %d bytes, %v", i, len(got), ok)
		}
		// The last part loses to an in-memory copy from a later package.
		if i == len(bodies)-1 {
			if err := b.add(ctx, layers.Entry{Path: name, Type: layers.TypeFile, Size: 1}, nil, []byte("d"), "p1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := b.finish(stage)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"f0": bodies[0], "f2": bodies[2], "f3": bodies[3], "f4": "d"}
	// Read in reverse order, each part through its own reader.
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
		if string(got) != want[e.Path] {
			t.Errorf("%s: %d bytes, want %d", e.Path, len(got), len(want[e.Path]))
		}
	}
	if names := stageNames(t, stage); names != nil {
		t.Errorf("left after every part was read: %v", names)
	}
}

// TestStagerDiscard: a package that fails leaves no staging file, and the
// stager starts a new file for what it stages next (its fallback to the
// .deb reads the package again).
func TestStagerDiscard(t *testing.T) {
	stage := t.TempDir()
	st := &stager{dir: stage, prefix: "3", mem: newMemBudget(0)}
	big := strings.Repeat("x", 80<<10)
	if _, _, _, err := st.put(strings.NewReader(big), int64(len(big)), false); err != nil {
		t.Fatal(err)
	}
	// A truncated content fails, and takes the file with it.
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
