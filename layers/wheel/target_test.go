package wheel

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/assemble-build/assemble/internal/testtool"
)

const dpkgStatus = `Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: python3.11-minimal
Status: install ok installed
Architecture: amd64
Version: 3.11.2-6+deb12u6

Package: removed-thing
Status: deinstall ok config-files
Version: 1.0
`

func TestProbeDebian(t *testing.T) {
	root := fstest.MapFS{
		"usr/bin/python3":                                                      &fstest.MapFile{Data: []byte("ELF")},
		"usr/lib/python3.11/os.py":                                             &fstest.MapFile{Data: []byte("")},
		"usr/lib/python3.9/README":                                             &fstest.MapFile{Data: []byte("")}, // not a stdlib: no os.py
		"usr/lib/x86_64-linux-gnu/libc.so.6":                                   &fstest.MapFile{Data: []byte("ELF")},
		"var/lib/dpkg/status":                                                  &fstest.MapFile{Data: []byte(dpkgStatus)},
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA":          &fstest.MapFile{Data: []byte("Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n")},
		"usr/lib/python3/dist-packages/PyYAML-6.0.egg-info/PKG-INFO":           &fstest.MapFile{Data: []byte("Metadata-Version: 1.1\nName: PyYAML\nVersion: 6.0\n")},
		"usr/local/lib/python3.11/dist-packages/six-1.17.0.dist-info/METADATA": &fstest.MapFile{Data: []byte("Metadata-Version: 2.1\nName: six\nVersion: 1.17.0\nRequires-Dist: foo>=1\n")},
		"usr/local/lib/python3.11/dist-packages/six-1.17.0.dist-info/RECORD":   &fstest.MapFile{Data: []byte("six.py,sha256=x,1\r\n../../../bin/six-tool,,\r\nsix-1.17.0.dist-info/RECORD,,\r\n")},
	}
	tg, err := Probe(root)
	if err != nil {
		t.Fatal(err)
	}
	want := Target{Python: "3.11", PythonFull: "3.11.2", Implementation: "cp", Interpreter: "/usr/bin/python3",
		Purelib: "/usr/local/lib/python3.11/dist-packages", Platlib: "/usr/local/lib/python3.11/dist-packages",
		Scripts: "/usr/local/bin", Data: "/usr/local", Headers: "/usr/include/python3.11", Glibc: "2.36", Arch: "x86_64"}
	got := *tg
	got.Installed = nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Probe:\n got %+v\nwant %+v", got, want)
	}
	six := tg.Installed["six"]
	if six.Version != "1.17.0" || six.SiteDir != "/usr/local/lib/python3.11/dist-packages" || len(six.Requires) != 1 {
		t.Errorf("the copy first on sys.path wins: %+v", six)
	}
	if strings.Join(six.Files, " ") != "/usr/local/bin/six-tool /usr/local/lib/python3.11/dist-packages/six-1.17.0.dist-info/RECORD /usr/local/lib/python3.11/dist-packages/six.py" {
		t.Errorf("files: %v", six.Files)
	}
	if tg.Installed["pyyaml"].Version != "6.0" {
		t.Errorf(".egg-info distributions count as installed: %+v", tg.Installed)
	}
}

func TestProbePythonImage(t *testing.T) {
	libc := []byte("\x7fELF....GLIBC_2.2.5\x00GLIBC_2.17\x00GLIBC_2.34\x00GLIBC_2.36\x00GLIBC_PRIVATE\x00")
	root := fstest.MapFS{
		"usr/local/bin/python3":                                              &fstest.MapFile{Data: []byte("ELF")},
		"usr/local/bin/pip3":                                                 &fstest.MapFile{Data: []byte("#!/usr/local/bin/python3.12\n# -*- coding: utf-8 -*-\n")},
		"usr/local/lib/python3.12/os.py":                                     &fstest.MapFile{Data: []byte("")},
		"usr/local/include/python3.12/patchlevel.h":                          &fstest.MapFile{Data: []byte("#define PY_VERSION              \"3.12.4\"\n")},
		"usr/lib/python3.11/os.py":                                           &fstest.MapFile{Data: []byte("")}, // Debian's, shadowed
		"usr/lib/aarch64-linux-gnu/libc.so.6":                                &fstest.MapFile{Data: libc},
		"usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA": &fstest.MapFile{Data: []byte("Metadata-Version: 2.1\nName: pip\nVersion: 24.0\n")},
	}
	tg, err := Probe(root)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Python != "3.12" || tg.PythonFull != "3.12.4" || tg.Interpreter != "/usr/local/bin/python3.12" ||
		tg.Purelib != "/usr/local/lib/python3.12/site-packages" || tg.Headers != "/usr/local/include/python3.12" ||
		tg.Arch != "aarch64" || tg.Glibc != "2.36" || tg.Installed["pip"].Version != "24.0" {
		t.Errorf("Probe: %+v", tg)
	}
	tg, err = Probe(root, WithArch("amd64"))
	if err != nil || tg.Arch != "x86_64" {
		t.Errorf("WithArch: %+v %v", tg, err)
	}
	musl := fstest.MapFS{
		"usr/local/lib/python3.12/os.py": &fstest.MapFile{Data: []byte("")},
		"lib/ld-musl-x86_64.so.1":        &fstest.MapFile{Data: []byte("ELF")},
		"lib/apk/db/installed":           &fstest.MapFile{Data: []byte("C:Q1abc\nP:musl\nV:1.2.4-r2\nA:x86_64\n")},
	}
	tg, err = Probe(musl)
	if err != nil || tg.Musl != "1.2" || tg.Glibc != "" || tg.Arch != "x86_64" {
		t.Errorf("musl: %+v %v", tg, err)
	}
	if _, err := Probe(fstest.MapFS{"etc/os-release": &fstest.MapFile{}}); err == nil || !strings.Contains(err.Error(), "no Python 3") {
		t.Errorf("no python: %v", err)
	}
}

// TestProbeThisMachine probes the machine's own root: Debian bookworm's python3.
func TestProbeThisMachine(t *testing.T) {
	testtool.RequireTool(t, debianPython)
	tg, err := Probe(os.DirFS("/"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tg.PythonFull, tg.Python+".") || tg.Glibc == "" || tg.Arch == "" || tg.Interpreter != "/usr/bin/python3" {
		t.Errorf("Probe(/): %+v", tg)
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil && strings.HasPrefix(string(b), "12.") {
		if tg.Python != "3.11" || tg.Glibc != "2.36" || tg.Purelib != "/usr/local/lib/python3.11/dist-packages" {
			t.Errorf("bookworm: %+v", tg)
		}
	}
}
