package deb

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"testing"
)

// A control.tar member's tar mode becomes an fs.FileMode through
// layers.ModeFromUnix: set-id bits land in fs.FileMode's own bits, not in
// its permission bits (0o4755 read by hand would not be setuid).
func TestControlFileModes(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		body string
	}{
		{"./control", 0o644, "Package: p\nVersion: 1\nArchitecture: all\n"},
		{"./postinst", 0o4755, "#!/bin/sh\n"},
		{"./md5sums", 0o644, ""},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: f.mode, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	_, files, err := readControlTar(&buf, "control.tar", "p.deb")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{"postinst": fs.ModeSetuid | 0o755, "md5sums": 0o644}
	for _, f := range files {
		if f.Mode != want[f.Name] {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode, want[f.Name])
		}
	}
	if len(files) != len(want) {
		t.Errorf("got %d control files, want %d", len(files), len(want))
	}
}
