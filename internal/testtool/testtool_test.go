package testtool

import (
	"os/exec"
	"testing"
)

func TestRequireToolFindsAProgram(t *testing.T) {
	want, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	if got := RequireTool(t, "sh"); got != want {
		t.Errorf("RequireTool(sh) = %q, want %q", got, want)
	}
}

func TestPackage(t *testing.T) {
	for name, want := range map[string]string{"busybox": "busybox-static", "/usr/bin/newuidmap": "uidmap", "skopeo": "skopeo"} {
		if got := Package(name); got != want {
			t.Errorf("Package(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true} {
		t.Setenv("CI", v)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", v, got, want)
		}
	}
}
