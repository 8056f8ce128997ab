package deb

import (
	"archive/tar"
	"context"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/oci/attest"
)

const mitCopyright = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2000 Someone\nLicense: MIT\n"

// docUniverse has the shapes a package's copyright file comes in: a
// machine-readable file, a doc directory linked to another package's, a
// free-form file, none at all, and a copyright file linked to another's.
func docUniverse() []testDeb {
	return []testDeb{
		{name: "base-thing", version: "1", fields: "Essential: yes\nPriority: required\n", files: []testFile{
			{path: "./usr/", typ: tar.TypeDir}, {path: "./usr/share/", typ: tar.TypeDir},
			{path: "./usr/share/doc/", typ: tar.TypeDir}, {path: "./usr/share/doc/base-thing/", typ: tar.TypeDir},
			{path: "./usr/share/doc/base-thing/copyright", body: mitCopyright}}},
		{name: "linked", version: "1", fields: "Depends: base-thing\n", files: []testFile{
			{path: "./usr/share/doc/linked", typ: tar.TypeSymlink, link: "base-thing"}}},
		{name: "freeform", version: "1", files: []testFile{
			{path: "./usr/share/doc/freeform/copyright", body: "This is free software.\n"}}},
		{name: "nodoc", version: "1", files: []testFile{{path: "./usr/bin/nodoc", body: "x"}}},
		{name: "relinked", version: "1", fields: "Depends: base-thing\n", files: []testFile{
			{path: "./usr/share/doc/relinked/copyright", typ: tar.TypeSymlink, link: "/usr/share/doc/base-thing/copyright"}}},
		{name: "top", version: "1", fields: "Depends: linked, freeform, nodoc, relinked\n", files: []testFile{
			{path: "./usr/share/doc/top/copyright", body: "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Apache-2.0\n"}}},
	}
}

// Each deb layer notes its copyright files' licenses as it is written and
// keeps them by its diffID; stacked, they give each package's license as
// reading the image would (links followed, missing and free-form files
// with none).
func TestLayerRecordsLicenses(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", docUniverse())
	c, cache := testClient(t, WithLicenseReader(attest.License))
	ctx := context.Background()
	ix, err := c.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]Request{{Name: "top"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) < 2 {
		t.Fatalf("want the packages in several layers, got %d", len(specs))
	}
	tree := NewDocTree()
	var written []v1.Hash
	for _, s := range specs {
		r, err := cache.Build(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.(*LayerSpec).LayerWritten(r.DiffID); err != nil {
			t.Fatal(err)
		}
		written = append(written, r.DiffID)
		rec, ok := c.LayerDocs(r.DiffID)
		if !ok {
			t.Fatalf("%s: no record kept", s.Describe())
		}
		if !tree.Apply(rec) {
			t.Fatalf("%s: record not applicable", s.Describe())
		}
	}
	// Written again, a layer's record is found kept and left as it is.
	recPath := cache.Namespace(docsNamespace).Path(docsKey(written[0]))
	before, err := os.Stat(recPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := specs[0].(*LayerSpec).LayerWritten(written[0]); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(recPath); err != nil || !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("the record kept already was written again (%v)", err)
	}
	want := map[string]string{"base-thing": "MIT", "linked": "MIT", "relinked": "MIT", "freeform": "", "nodoc": "", "top": "Apache-2.0"}
	for name, w := range want {
		if got, ok := tree.License(name); !ok || got != w {
			t.Errorf("License(%s) = %q, %v; want %q, true", name, got, ok, w)
		}
	}

	// A client without a license reader (an older one) keeps no record:
	// the caller reads the image.
	c2, cache2 := testClient(t)
	ix2, _ := c2.Index(ctx, a.source("testing", "amd64"))
	pkgs2, _ := ix2.Resolve([]Request{{Name: "top"}}, nil)
	specs2, _ := c2.Layers(ctx, pkgs2)
	r, err := cache2.Build(ctx, specs2[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := specs2[0].(*LayerSpec).LayerWritten(r.DiffID); err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.LayerDocs(r.DiffID); ok {
		t.Error("a layer written without a license reader has a record")
	}
}

// What the records do not cover is said, not guessed: a copyright file
// linked outside the doc directories, or a layer replacing a doc directory
// with a link.
func TestDocTreeLimits(t *testing.T) {
	tree := NewDocTree()
	if !tree.Apply(&DocRecord{Entries: map[string]DocEntry{
		"usr/share/doc/a/copyright": {Type: "link", Link: "../../common-licenses/GPL-2"},
		"usr/share/doc/b":           {Type: "dir"},
		"usr/share/doc/c":           {Type: "link", Link: "../../../../../usr/share/doc/b"},
	}}) {
		t.Fatal("record not applicable")
	}
	if _, ok := tree.License("a"); ok {
		t.Error("a link out of the doc directories was answered")
	}
	if l, ok := tree.License("c"); !ok || l != "" {
		t.Errorf("c (linked to a doc directory with no copyright): %q, %v", l, ok)
	}
	if tree.Apply(&DocRecord{Entries: map[string]DocEntry{"usr/share/doc/b": {Type: "link", Link: "a"}}}) {
		t.Error("a directory replaced by a link was applied")
	}
	// An entry written through a link may land on a copyright path, out
	// of the records' sight: a link that could carry one is said.
	for _, c := range []struct {
		links []map[string]string
		want  bool
	}{
		{[]map[string]string{{"usr/share/doc/libfoo": "foo", "usr/share/doc/foo/copyright": "../bar/copyright", "lib": "usr/lib"}}, true},
		{[]map[string]string{{"usr/share/foo": "doc"}}, false},
		{[]map[string]string{{"usr/lib/x": "/usr/share/doc/bar"}}, false},
		{[]map[string]string{{"opt/root": "../.."}}, false},
		// A link placed through another: its target is relative to where
		// it landed (usr/lib/x/l -> usr/share/doc).
		{[]map[string]string{{"q": "usr/lib/x"}, {"q/l": "../../share/doc"}}, false},
	} {
		tr := NewDocTree()
		got := true
		for _, l := range c.links {
			got = got && tr.AddLinks(l)
		}
		if got != c.want {
			t.Errorf("AddLinks(%v) = %v, want %v", c.links, got, c.want)
		}
		// A layer with no links changes nothing, and the answer stays.
		if again := tr.AddLinks(nil); again != c.want {
			t.Errorf("AddLinks(%v) then no links = %v, want %v", c.links, again, c.want)
		}
	}
	if tree.Untouched("usr/share/doc/x/copyright", false) || tree.Untouched("usr/share", true) || !tree.Untouched("etc/apt/sources.list", true) || !tree.Untouched("usr", false) {
		t.Error("Untouched")
	}
}
