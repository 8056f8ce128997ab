package wheel

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// With two Pythons in an image, WithInterpreter picks one and its scheme.
func TestProbeWithInterpreter(t *testing.T) {
	root := fstest.MapFS{
		"usr/local/lib/python3.12/os.py": {Data: []byte("#")},
		"usr/local/bin/python3.12":       {Data: []byte("elf")},
		"usr/lib/python3.11/os.py":       {Data: []byte("#")},
		"usr/bin/python3.11":             {Data: []byte("elf")},
		"usr/bin/python3":                {Data: []byte("python3.11"), Mode: fs.ModeSymlink | 0o777},
	}
	def, err := Probe(root, WithArch("amd64"))
	if err != nil || def.Python != "3.12" || def.Purelib != "/usr/local/lib/python3.12/site-packages" {
		t.Fatalf("default probe: %+v %v", def, err)
	}
	deb, err := Probe(root, WithArch("amd64"), WithInterpreter("/usr/bin/python3"))
	if err != nil {
		t.Fatal(err)
	}
	if deb.Python != "3.11" || deb.Interpreter != "/usr/bin/python3" || deb.Purelib != "/usr/local/lib/python3.11/dist-packages" {
		t.Errorf("with /usr/bin/python3: %+v", deb)
	}
	if _, err := Probe(root, WithArch("amd64"), WithInterpreter("/opt/bin/python3.9")); err == nil || !strings.Contains(err.Error(), "no standard library") {
		t.Errorf("missing interpreter: %v", err)
	}
	if _, err := Probe(root, WithArch("amd64"), WithInterpreter("python3")); err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("relative interpreter: %v", err)
	}
}
