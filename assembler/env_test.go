package assembler

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/layerstest"
	"github.com/assemble-build/assemble/oci"
)

// The dpkg status recorded for a deb: base without reading it back is the
// one its layers hold: later Debian layers are resolved against it.
func TestSeededDpkgStatusMatchesTheLayers(t *testing.T) {
	ctx := context.Background()
	o, err := makeOptions([]Option{WithCache(layerstest.SharedCache(t))})
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Root: t.TempDir()}
	svc := newServices(p, o)
	img, err := svc.Base(ctx, "deb:bookworm", v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := svc.env.dpkgStatus(img)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := oci.FS(img)
	if err != nil {
		t.Fatal(err)
	}
	real, err := fs.ReadFile(fsys, "var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seeded, real) {
		t.Fatalf("seeded status (%d bytes) differs from the image's (%d bytes)", len(seeded), len(real))
	}
	if !bytes.Contains(real, []byte("Package: base-files\n")) {
		t.Fatal("the status lacks base-files")
	}
}

// Debian packages on a base come from that base's own release, and a base of
// another distribution is refused unless the archive is named.
func TestSuiteOfBase(t *testing.T) {
	ctx := context.Background()
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	image := func(osRelease string) v1.Image {
		spec := &layers.Generated{Files: []layers.GeneratedFile{{Path: "etc/os-release", Content: []byte(osRelease)}}}
		res, err := cache.Build(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		base, err := oci.Scratch(v1.Platform{OS: "linux", Architecture: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		img, err := oci.Stack(base, []oci.Addition{{Layer: cache.Layer(res.Descriptor)}}, oci.Config{}, time.Unix(0, 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	o, _ := makeOptions([]Option{WithCache(cache)})
	e := newEnv(&plan.Plan{Root: t.TempDir()}, o)
	suite, err := e.suiteOf(image("PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\nVERSION_CODENAME=trixie\n"))
	if err != nil || suite != "trixie" {
		t.Errorf("debian trixie base: %q %v", suite, err)
	}
	_, err = e.suiteOf(image("PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nID=ubuntu\nVERSION_CODENAME=noble\n"))
	if err == nil || !strings.Contains(err.Error(), "Ubuntu 24.04 LTS") || !strings.Contains(err.Error(), "--debian-mirror") {
		t.Errorf("ubuntu base: %v", err)
	}
	o2, _ := makeOptions([]Option{WithCache(cache), WithDebian(Debian{Mirror: "http://archive.example/ubuntu"})})
	e2 := newEnv(&plan.Plan{Root: t.TempDir()}, o2)
	if _, err := e2.suiteOf(image("ID=ubuntu\n")); err != nil {
		t.Errorf("with an explicit mirror: %v", err)
	}
}

// Env makes package layers with the plan's layer factories, minus the
// factory's location prefix: the Dockerfile frontend adds the RUN's own.
func TestEnvThroughTheLayerFactories(t *testing.T) {
	ctx := context.Background()
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o, err := makeOptions([]Option{WithCache(cache), WithOffline(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := newServices(&plan.Plan{Root: t.TempDir()}, o)
	platform := v1.Platform{OS: "linux", Architecture: "amd64"}
	img, err := oci.Scratch(platform)
	if err != nil {
		t.Fatal(err)
	}
	// A scratch image is no Debian: the factory fails before any download.
	l := plan.Layer{Kind: plan.KindDeb, Source: "Dockerfile:3", Deb: &plan.DebLayer{Packages: []plan.Package{{Name: "jq"}}}}
	_, envErr := s.Env(ctx, l, img, platform)
	_, planErr := s.layerSpecs(ctx, l, below{img: img, platform: platform})
	if envErr == nil || planErr == nil || planErr.Error() != "Dockerfile:3: "+envErr.Error() {
		t.Errorf("Env: %v; plan layer: %v; want the same error, located only in the plan's", envErr, planErr)
	}
	l = plan.Layer{Kind: plan.KindFiles, Source: "Dockerfile:4"}
	if _, err := s.Env(ctx, l, img, platform); err == nil || err.Error() != "Dockerfile:4: files is not a package layer" {
		t.Errorf("files layer: %v", err)
	}
}

// A relative --find-links on the command line is in the current directory,
// as pip takes it; one in assemble.toml is in the repository.
func TestFindLinksRelativeTo(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	got := findLinks("/repo", []string{"wheels", "/abs/house", "https://example.com/links/"},
		[]string{"flagwheels", "../up", "/abs/flag", "file:///srv/links"})
	want := []string{"/repo/wheels", "/abs/house", "https://example.com/links/",
		filepath.Join(wd, "flagwheels"), filepath.Join(filepath.Dir(wd), "up"), "/abs/flag", "file:///srv/links"}
	if !slices.Equal(got, want) {
		t.Errorf("findLinks:\n got %q\nwant %q", got, want)
	}
}
