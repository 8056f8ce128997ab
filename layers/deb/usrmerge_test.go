package deb

import (
	"archive/tar"
	"bytes"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// trixie's base-files ships the merged-/usr links (/bin -> usr/bin); they
// are the links every layer makes itself, not a usr/bin symlink over the
// usr/bin directory.
func TestReadDebSkipsMergedUsrLinks(t *testing.T) {
	deb := buildDeb(t, testDeb{name: "base-files", version: "13.8", files: []testFile{
		{path: "./bin", typ: tar.TypeSymlink, link: "usr/bin"},
		{path: "./lib64", typ: tar.TypeSymlink, link: "/usr/lib64"},
		{path: "./usr/bin/tool", body: "x", mode: 0o755},
		{path: "./etc/motd", body: "hi"},
	}})
	dc, err := readDeb(bytes.NewReader(deb), "base-files.deb", newStager(t.TempDir(), "t", newMemBudget(1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range dc.entries {
		seen[e.entry.Path] = true
		if e.entry.Path == "usr/bin" && e.entry.Type != layers.TypeDir {
			t.Errorf("usr/bin became a %s", e.entry.Type)
		}
	}
	if !seen["usr/bin/tool"] || !seen["etc/motd"] || seen["usr/lib64"] {
		t.Errorf("entries %v", seen)
	}
}
