package assembler_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// module is this module's path; the rules below speak of paths inside it.
const module = "github.com/assemble-build/assemble/"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // transitive
}

// listPackages lists every package of the module with its imports.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = ".." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// Layers of the module, top to bottom.
const (
	layerCmd        = "cmd"
	layerPipeline   = "pipeline"   // assembler
	layerConvention = "convention" // assembler/<convention>/...
	layerPlan       = "plan"       // assembler/plan
	layerBelow      = "below"      // layers, oci, internal: they know nothing of the pipeline
)

// layerOf places a package of the module; "" for packages outside the rules.
func layerOf(path string) string {
	rel, ok := strings.CutPrefix(path, module)
	if !ok {
		return ""
	}
	switch {
	case strings.HasPrefix(rel, "cmd/"):
		return layerCmd
	case rel == "assembler":
		return layerPipeline
	case rel == "assembler/plan" || strings.HasPrefix(rel, "assembler/plan/"):
		return layerPlan
	case strings.HasPrefix(rel, "assembler/"):
		return layerConvention
	case rel == "layers", rel == "oci", rel == "internal",
		strings.HasPrefix(rel, "layers/"), strings.HasPrefix(rel, "oci/"), strings.HasPrefix(rel, "internal/"):
		return layerBelow
	}
	return ""
}

// conventionOf names the convention a convention package belongs to ("binder").
func conventionOf(path string) string {
	rel := strings.TrimPrefix(path, module+"assembler/")
	name, _, _ := strings.Cut(rel, "/")
	return name
}

// TestDependencyArrows fails when an import runs against the arrows of
// DESIGN.md: cmd → assembler → conventions → plan; layers, oci and internal
// never import any of assembler; no convention imports another; the CLI
// imports no convention (it talks to the pipeline only).
func TestDependencyArrows(t *testing.T) {
	testtool.RequireTool(t, "go")
	for _, p := range listPackages(t) {
		from := layerOf(p.ImportPath)
		if from == "" || strings.HasSuffix(p.ImportPath, "_test") {
			continue
		}
		// The CLI's rule is on what it imports itself: it reaches the
		// conventions through the pipeline, never directly.
		for _, imp := range p.Imports {
			if from == layerCmd && layerOf(imp) == layerConvention {
				t.Errorf("%s imports %s: the CLI talks to the pipeline (assembler) only, never to a convention", p.ImportPath, imp)
			}
		}
		// The other rules hold for everything a package pulls in.
		for _, dep := range p.Deps {
			if why := forbidden(p.ImportPath, from, dep); why != "" {
				t.Errorf("%s depends on %s: %s", p.ImportPath, dep, why)
			}
		}
	}
}

// forbidden says why a package of layer from may not depend on dep, or "".
func forbidden(path, from, dep string) string {
	to := layerOf(dep)
	if to == "" {
		return ""
	}
	switch from {
	case layerPlan:
		if to != layerPlan && to != layerBelow {
			return "assembler/plan is plain data below the pipeline and the conventions"
		}
	case layerConvention:
		switch to {
		case layerCmd, layerPipeline:
			return "a convention sits below the pipeline: the pipeline imports it, not the other way"
		case layerConvention:
			if conventionOf(dep) != conventionOf(path) {
				return "a convention imports no other convention (shared types go in assembler/plan)"
			}
		}
	case layerPipeline:
		if to == layerCmd {
			return "the pipeline sits below the CLI"
		}
	case layerBelow:
		if to != layerBelow {
			return "layers, oci and internal never import assembler (any of it) or cmd"
		}
	}
	return ""
}
