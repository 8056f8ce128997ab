package binder

import (
	"reflect"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Pipfile.lock's requirements sit on the lines of their entries in the lock,
// so that the resolver's messages ("from Pipfile.lock:N") point there.
func TestLockEntryLines(t *testing.T) {
	lock := `{
    "_meta": {"requires": {"python_version": "3.11"}, "sources": [{"name": "x", "url": "u"}]},
    "default": {
        "binderdemo": {
            "hashes": ["sha256:aa", "sha256:bb"],
            "version": "==1.0"
        },
        "binderdep": {"version": "==2.0", "markers": "python_version >= '3'"}
    },
    "develop": {"binderdev": {"version": "==0.1"}, "binderdep": {"version": "==9"}}
}
`
	got := lockEntryLines([]byte(lock))
	want := map[string]int{"default.binderdemo": 4, "default.binderdep": 8, "develop.binderdev": 10, "develop.binderdep": 10}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	p, _ := load(t, map[string]string{"binder/Pipfile.lock": lock}, Input{})
	py := layerBy(t, p.Images[0], plan.KindPython, "").Python
	for n, l := range py.Packages {
		switch n + 1 {
		case 4:
			if !strings.HasPrefix(l, "binderdemo==1.0 --hash=sha256:aa") {
				t.Errorf("line 4: %q", l)
			}
		case 8:
			if !strings.HasPrefix(l, "binderdep==2.0 ; python_version") {
				t.Errorf("line 8: %q", l)
			}
		case 10:
			if l != "binderdev==0.1" {
				t.Errorf("line 10: %q", l)
			}
		default:
			if l != "" {
				t.Errorf("line %d: %q", n+1, l)
			}
		}
	}
	if len(py.Packages) != 10 {
		t.Errorf("%d lines: %q", len(py.Packages), py.Packages)
	}
}
