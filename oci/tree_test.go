package oci

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// The tree a Dockerfile stage keeps: entries applied through links,
// whiteouts, kept content, touched paths, clones that do not share changes.
func TestTreeEntries(t *testing.T) {
	tr := NewTree(WithLenientHardLinks())
	var touched []string
	tr.Touched = func(p string) { touched = append(touched, p) }
	passwd := "root:x:0:0::/root:/bin/sh\n"
	err := tr.ApplyEntries([]layers.Entry{
		{Path: "usr/lib", Type: layers.TypeDir, Mode: 0o755 | fs.ModeSetgid},
		{Path: "lib", Type: layers.TypeSymlink, Link: "/usr/lib", Mode: 0o777},
		{Path: "lib/x.so", Type: layers.TypeFile, Mode: 0o644, Size: 1, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }},
		{Path: "etc/passwd", Type: layers.TypeFile, Mode: 0o644, Size: int64(len(passwd)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(passwd)), nil }},
	}, func(p string) bool { return p == "etc/passwd" })
	if err != nil {
		t.Fatal(err)
	}
	if n, r, err := tr.Lookup("lib/x.so", true); err != nil || n == nil || r != "usr/lib/x.so" || n.Data() != nil {
		t.Errorf("lib/x.so: %v %q %v", n, r, err)
	}
	if n, _, _ := tr.Lookup("usr/lib", false); n == nil || n.Mode != fs.ModeDir|fs.ModeSetgid|0o755 {
		t.Errorf("usr/lib: %v", n)
	}
	if n, _, _ := tr.Lookup("etc/passwd", true); n == nil || string(n.Data()) != passwd {
		t.Errorf("etc/passwd content not kept: %v", n)
	}
	c := tr.Clone()
	if err := tr.ApplyEntries([]layers.Entry{{Path: "usr/lib/x.so", Type: layers.TypeWhiteout}}, nil); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := tr.Lookup("usr/lib/x.so", false); n != nil {
		t.Error("whiteout left usr/lib/x.so")
	}
	if n, _, _ := c.Lookup("usr/lib/x.so", false); n == nil {
		t.Error("the clone lost usr/lib/x.so")
	}
	if got := strings.Join(touched, " "); got != "usr/lib lib lib/x.so etc/passwd usr/lib/x.so" {
		t.Errorf("touched %s", got)
	}
	// Lenient: a hard link to nothing is a file; strict, an error.
	link := []LayerEntry{{Header: &tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "missing", Mode: 0o600}, Name: "hl", LinkName: "missing"}}
	if err := tr.ApplyLayer(0, link); err != nil {
		t.Errorf("lenient hard link: %v", err)
	}
	if n, _, _ := tr.Lookup("hl", false); n == nil || n.IsDir() || n.Mode != 0o600 {
		t.Errorf("hl: %v", n)
	}
	if err := NewTree().ApplyLayer(0, link); err == nil {
		t.Error("strict tree took a hard link to nothing")
	}
	// Walk errors name the path and unwrap to the errno.
	if _, _, err := tr.Lookup("etc/passwd/x", false); !errors.Is(err, syscall.ENOTDIR) || err.Error() != "/etc/passwd is not a directory" {
		t.Errorf("through a file: %v", err)
	}
}
