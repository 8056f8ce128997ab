package assembler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
)

// One environment keeps one Files spec per set of settings: images with
// the same repository layer share its walk; other settings get their own.
func TestFilesSpecSharedByEqualSettings(t *testing.T) {
	o := cacheOptions(t)
	s := newServices(&plan.Plan{Root: t.TempDir()}, o)
	spec := func(l plan.Layer) layers.Spec {
		t.Helper()
		made, err := s.layerSpecs(context.Background(), l, below{})
		if err != nil || len(made.specs) != 1 {
			t.Fatalf("files layer: %v (%d specs)", err, len(made.specs))
		}
		return made.specs[0]
	}
	files := func(dest string, include ...string) plan.Layer {
		return plan.Layer{Kind: plan.KindFiles, Files: &plan.FilesLayer{Dir: ".", Dest: dest, Include: include}}
	}
	a, b := spec(files("/app", "x")), spec(files("/app", "x"))
	if a != b {
		t.Error("two files layers with the same settings got two specs")
	}
	for _, other := range []plan.Layer{files("/other", "x"), files("/app", "y"), files("/app")} {
		if spec(other) == a {
			t.Errorf("%+v shares the spec of %+v", other.Files, files("/app", "x").Files)
		}
	}
}

// Each Build walks the repository again: an edit between two builds by one
// Assembler changes the repository layer, while the images of one build
// share it.
func TestFilesLayerRebuiltAfterAnEdit(t *testing.T) {
	repo := t.TempDir()
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, "app.py"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("print(1)\n")
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	im := func(name string) plan.Image {
		return plan.Image{Name: name, Tags: []string{"latest"}, Base: "scratch", Platforms: []string{"linux/amd64"},
			Layers: []plan.Layer{{Kind: plan.KindFiles, Source: "test", Files: &plan.FilesLayer{Dir: ".", Dest: "/app"}}}}
	}
	p := &plan.Plan{Root: repo, Images: []plan.Image{im("one"), im("two")}}
	digests := func() (string, string) {
		t.Helper()
		built, err := a.Build(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		return built[0].Layers[0].Digest.String(), built[1].Layers[0].Digest.String()
	}
	status := func() string {
		t.Helper()
		st, err := a.Status(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(st["one"], st["two"])
	}
	if got := status(); got != "[false] [false]" {
		t.Errorf("status before the build: %s", got)
	}
	one, two := digests()
	if one != two {
		t.Fatalf("the images' repository layers differ: %s, %s", one, two)
	}
	if got := status(); got != "[true] [true]" {
		t.Errorf("status after the build: %s", got)
	}
	write("print(2)\n")
	if again, _ := digests(); again == one {
		t.Errorf("after an edit the repository layer is still %s", one)
	}
}

// The images a convention builds to read (plan.Builder) record nothing for
// an SBOM: only published images get one.
func TestBuilderImagesRecordNoSBOM(t *testing.T) {
	o := cacheOptions(t, WithSBOM("spdx"))
	s := newServices(&plan.Plan{Root: t.TempDir()}, o)
	if s.recording().installed == nil {
		t.Fatal("a published image records nothing with SBOMs on")
	}
	b := *s
	b.unpublished = true
	if b.recording().installed != nil {
		t.Error("an image built to be read records what it installs")
	}
}

// A base is opened once per environment and platform, and frozen.
func TestBaseOpenedOncePerEnvironment(t *testing.T) {
	o := cacheOptions(t)
	e := newEnv(&plan.Plan{Root: t.TempDir()}, o)
	opened := 0
	open := func(p v1.Platform) func() (v1.Image, error) {
		return func() (v1.Image, error) {
			opened++
			return oci.Scratch(p)
		}
	}
	amd, arm := v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}
	a, err := e.base("scratch", amd, open(amd))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*frozen); !ok {
		t.Errorf("the base is a %T, not frozen", a)
	}
	if b, _ := e.base("scratch", amd, open(amd)); b != a || opened != 1 {
		t.Errorf("the base was opened %d times", opened)
	}
	if _, err := e.base("scratch", arm, open(arm)); err != nil || opened != 2 {
		t.Errorf("another platform's base: %v, opened %d times", err, opened)
	}
	if _, err := newEnv(e.p, o).base("scratch", amd, open(amd)); err != nil || opened != 3 {
		t.Errorf("another environment's base: %v, opened %d times", err, opened)
	}
}
