package binder

import (
	"reflect"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Pipfile.lock's requirements carry the lines of their entries in the lock,
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
	wantPkgs := []string{"binderdemo==1.0 --hash=sha256:aa --hash=sha256:bb", "binderdep==2.0 ; python_version >= '3'", "binderdev==0.1"}
	if !reflect.DeepEqual(py.Packages, wantPkgs) || !reflect.DeepEqual(py.PackageLines, []int{4, 8, 10}) {
		t.Errorf("packages %q at lines %v, want %q at [4 8 10]", py.Packages, py.PackageLines, wantPkgs)
	}
}
