package wheel

import (
	"archive/tar"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/assemble-build/assemble/layers"
)

// An interpreter inside a virtual environment gets the venv's scheme: its
// site-packages, its bin/ for scripts (with its python in their shebangs),
// its prefix for data; only its own packages count as installed, unless it
// includes the system's.
func TestProbeVenv(t *testing.T) {
	meta := func(name, v string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + v + "\n")}
	}
	root := fstest.MapFS{
		"usr/lib/python3.11/os.py":                                    {Data: []byte("#")},
		"usr/bin/python3.11":                                          {Data: []byte("elf")},
		"usr/lib/x86_64-linux-gnu/libc.so.6":                          {Data: []byte("ELF")},
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": meta("six", "1.16.0"),
		"srv/env":             {Mode: fs.ModeDir | 0o755, Sys: &tar.Header{Uid: 1000, Gid: 1000}},
		"srv/env/pyvenv.cfg":  {Data: []byte("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n")},
		"srv/env/bin/python3": {Data: []byte("/usr/bin/python3"), Mode: fs.ModeSymlink | 0o777},
		"srv/env/bin/python":  {Data: []byte("python3"), Mode: fs.ModeSymlink | 0o777},
		"srv/env/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA": meta("pip", "23.0.1"),
		"srv/sys/pyvenv.cfg": {Data: []byte("home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.11\n")},
		"srv/sys/lib/python3.11/site-packages/binderdemo-1.0.dist-info/METADATA": meta("binderdemo", "1.0"),
		"srv/bad/pyvenv.cfg":  {Data: []byte("home = /opt/bin\nversion = 3.12.1\n")},
		"var/lib/dpkg/status": {Data: []byte("Package: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6\nArchitecture: amd64\n")},
	}
	v, err := Probe(root, WithArch("amd64"), WithInterpreter("/srv/env/bin/python"))
	if err != nil {
		t.Fatal(err)
	}
	want := Target{Python: "3.11", PythonFull: "3.11.2", Interpreter: "/srv/env/bin/python", Purelib: "/srv/env/lib/python3.11/site-packages",
		Platlib: "/srv/env/lib/python3.11/site-packages", Scripts: "/srv/env/bin", Data: "/srv/env", Headers: "/srv/env/include/site/python3.11"}
	if v.Python != want.Python || v.PythonFull != want.PythonFull || v.Interpreter != want.Interpreter || v.Purelib != want.Purelib ||
		v.Platlib != want.Platlib || v.Scripts != want.Scripts || v.Data != want.Data || v.Headers != want.Headers {
		t.Errorf("venv scheme:\n got %+v\nwant %+v", v, want)
	}
	if v.Owner == nil || *v.Owner != (Owner{Prefix: "/srv/env", UID: 1000, GID: 1000}) {
		t.Errorf("owner %+v", v.Owner)
	}
	entries := []layers.Entry{{Path: "srv"}, {Path: "srv/env/bin/tool"}, {Path: "srv/envx"}}
	if err := v.Owner.apply(entries); err != nil || entries[0].UID != 0 || entries[1].UID != 1000 || entries[1].GID != 1000 || entries[2].UID != 0 {
		t.Errorf("owned entries %+v %v", entries, err)
	}
	if _, ok := v.Installed["pip"]; !ok || len(v.Installed) != 1 {
		t.Errorf("installed in an isolated venv: %v", v.Installed)
	}
	s, err := Probe(root, WithArch("amd64"), WithInterpreter("/srv/sys/bin/python3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Installed["six"]; !ok || s.PythonFull != "3.11.2" || s.Installed["binderdemo"].SiteDir != "/srv/sys/lib/python3.11/site-packages" {
		t.Errorf("venv with system packages: %+v", s)
	}
	if _, err := Probe(root, WithArch("amd64"), WithInterpreter("/srv/bad/bin/python")); err == nil || !strings.Contains(err.Error(), "no standard library at /opt/lib/python3.12") {
		t.Errorf("venv over a missing Python: %v", err)
	}
}
