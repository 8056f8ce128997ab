package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// A devfile registry: every stack version pushed as an artifact, index.json
// written out as the index generator writes it, artifacts readable by oras.
func TestDevfileRegistryPush(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	repo := "../../assembler/devfile/testdata/devfile-registry"
	meta := t.TempDir()
	r := mustAssemble(t, t.TempDir(), "--insecure-registry", reg.Host, "build", repo, "--registry", reg.Host, "--push", "--metadata-out", meta, "--json")
	want, err := os.ReadFile(filepath.Join(repo, "expected-index.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(meta, "index.json"))
	if err != nil || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Fatalf("index.json differs from the expected one (%v)", err)
	}
	if !strings.Contains(r.stdout, reg.Host+"/devfile-catalog/") {
		t.Fatalf("no artifact pushed:\n%s", r.stdout)
	}
	if n := reg.Count(ocitest.ManifestPut); n < 3 {
		t.Errorf("%d manifests pushed, want one per stack version", n)
	}
	// oras, the devfile clients' tool, pulls a stack back.
	oras := testtool.RequireTool(t, "oras")
	var ref string
	for _, line := range strings.Split(r.stdout, "\n") {
		if i := strings.Index(line, reg.Host+"/devfile-catalog/"); i >= 0 && strings.Contains(line, `"ref"`) {
			ref = strings.Trim(strings.TrimSpace(line[i:]), `",`)
			break
		}
	}
	out := t.TempDir()
	cmd := exec.Command(oras, "pull", "--plain-http", "-o", out, ref)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oras pull %s: %v\n%s", ref, err, b)
	}
	if _, err := os.Stat(filepath.Join(out, "devfile.yaml")); err != nil {
		entries, _ := os.ReadDir(out)
		t.Errorf("oras pull of %s gave no devfile.yaml: %v", ref, entries)
	}
}
