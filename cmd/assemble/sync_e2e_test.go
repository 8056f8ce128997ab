package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// assemble sync carries the SBOM and provenance a build pushed (to
// docker-registry, so through the sha256-HEX fallback tag on both sides):
// oras discover lists them at the destination; --no-referrers leaves them.
func TestSyncCarriesSBOMs(t *testing.T) {
	oras := testtool.RequireTool(t, "oras")
	src, dst := ocitest.StartRegistry(t), ocitest.StartRegistry(t)
	cache := t.TempDir()
	r := mustAssemble(t, cache, "--insecure-registry", src.Host, "build", "../../testdata/hello", "-t", src.Ref("team/hello:1.0"), "--push", "--json")
	digest := jsonDigest(t, r.stdout)
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(auth, []byte(src.Host+":\n  insecure: true\n"+dst.Host+":\n  insecure: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	discover := func(ref string) []string { t.Helper(); return ocitest.DiscoverTypes(t, oras, ref) }
	want := discover(src.Ref("team/hello@" + digest))
	if len(want) != 2 {
		t.Fatalf("the pushed image has referrers %v, want an SBOM and a provenance", want)
	}
	for _, c := range []struct {
		repo  string
		flags []string
		want  []string
	}{{"mirror/hello", nil, want}, {"bare/hello", []string{"--no-referrers"}, nil}} {
		images := filepath.Join(dir, "images.yaml")
		if err := os.WriteFile(images, []byte(src.Ref("team/hello")+": "+dst.Ref(c.repo)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustAssemble(t, cache, append([]string{"sync", "--auth", auth, "--images", images}, c.flags...)...)
		if got := discover(dst.Ref(c.repo + "@" + digest)); !slices.Equal(got, c.want) {
			t.Errorf("sync %v: the destination lists referrers %v, want %v", c.flags, got, c.want)
		}
	}
}
