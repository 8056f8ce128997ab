package assembler

import (
	"testing"

	"github.com/assemble-build/assemble/layers/deb"
	"github.com/assemble-build/assemble/layers/wheel"
)

// What a Dockerfile's installs record stays apart by source until the
// target's chain takes its own: a stage outside the chain adds nothing, a
// distribution the image had already is not listed, one installed again
// replaces the one below it, and the site
// directories of the wheels taken are where their licenses are read.
func TestInstalledStages(t *testing.T) {
	rec := &installed{}
	ix := &deb.Index{}
	rec.stage("Dockerfile:3").addDebs("bookworm", ix, []*deb.Package{{Name: "make"}})
	rec.stage("Dockerfile:7").addDebs("bookworm", ix, []*deb.Package{{Name: "jq"}, {Name: "libjq1"}})
	rec.stage("Dockerfile:8").addWheels([]wheel.Resolved{{Name: "pip"}, {Name: "six", Installed: true}},
		&wheel.Target{Purelib: "/usr/local/lib/python3.11/dist-packages", Platlib: "/usr/local/lib/python3.11/dist-packages"})
	rec.stage("Dockerfile:9").addWheels([]wheel.Resolved{{Name: "six", Installed: true}}, &wheel.Target{Purelib: "/elsewhere"})
	rec.stage("Dockerfile:10").addWheels([]wheel.Resolved{{Name: "Pip", Version: "24.0"}}, &wheel.Target{Purelib: "/usr/local/lib/python3.11/dist-packages"})
	rec.takeStages([]string{"Dockerfile:7", "Dockerfile:8", "Dockerfile:9", "Dockerfile:10", "Dockerfile:99"})
	var debs, wheels []string
	for _, p := range rec.debs {
		debs = append(debs, p.Name)
	}
	for _, w := range rec.wheels {
		wheels = append(wheels, w.Name)
	}
	if len(debs) != 2 || debs[0] != "jq" || debs[1] != "libjq1" || len(wheels) != 1 || wheels[0] != "Pip" || rec.wheels[0].Version != "24.0" {
		t.Errorf("taken: debs %v, wheels %v", debs, wheels)
	}
	if rec.suite != "bookworm" || len(rec.indexes) != 1 || len(rec.sites) != 1 || rec.sites[0] != "/usr/local/lib/python3.11/dist-packages" {
		t.Errorf("suite %q, %d indexes, sites %v", rec.suite, len(rec.indexes), rec.sites)
	}
	var none *installed
	none.stage("Dockerfile:1").addDebs("bookworm", ix, nil) // SBOMs off: records nothing, and does not fail
	none.takeStages([]string{"Dockerfile:1"})
}
