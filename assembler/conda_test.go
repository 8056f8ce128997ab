package assembler

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/conda/condatest"
	"github.com/assemble-build/assemble/oci"
)

// condaStep makes a conda plan layer's spec on img, builds it and returns
// the image with it on top and its report.
func condaStep(t *testing.T, s *services, img v1.Image, c *plan.CondaLayer) (v1.Image, *CondaReport) {
	t.Helper()
	made, err := s.layerSpecs(context.Background(), plan.Layer{Kind: plan.KindConda, Source: "environment.yml", Conda: c}, below{img: img, platform: v1.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.o.cache.Build(context.Background(), made.specs[0])
	if cl, ok := made.specs[0].(io.Closer); ok {
		cl.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, s.o.cache.LayerOf(res))
	if err != nil {
		t.Fatal(err)
	}
	return out, made.conda
}

// A conda layer over another at the same prefix keeps what the one below
// installed (read back from its conda-meta) and adds only the rest; an
// explicit lock of the repository is installed as it is; a scratch image
// has no glibc, so __glibc is not offered.
func TestCondaLayers(t *testing.T) {
	ch := condatest.NewChannel(t, t.TempDir())
	recs := ch.AddAll(t,
		condatest.Package{Name: "liba", Version: "1.0", Files: map[string]condatest.File{"share/a.txt": {Data: condatest.Placeholder + "\n", PrefixMode: "text"}}},
		condatest.Package{Name: "tool", Version: "1.0", Noarch: "generic", Depends: []string{"liba >=1"}, Files: map[string]condatest.File{"share/tool.txt": {Data: "t\n"}}},
		condatest.Package{Name: "needsglibc", Version: "1.0", Depends: []string{"__glibc >=2.17"}, TarBz2: true},
	)
	ch.Write(t)
	o := cacheOptions(t)
	root := t.TempDir()
	s := newServices(&plan.Plan{Root: root}, o)
	img, err := oci.Scratch(v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "/opt/env"
	img, rep := condaStep(t, s, img, &plan.CondaLayer{Prefix: prefix, Channels: []string{ch.URL}, Specs: []plan.CondaSpec{{Spec: "liba", Where: "base"}}})
	if rep.Packages != 1 || rep.Subdir != "linux-64" || !strings.Contains(rep.Lock, "@EXPLICIT\n"+ch.URL+"/linux-64/liba-1.0-0.conda#") {
		t.Errorf("base report %+v", rep)
	}
	img, rep = condaStep(t, s, img, &plan.CondaLayer{Prefix: prefix, Channels: []string{ch.URL}, Specs: []plan.CondaSpec{{Spec: "tool", Where: "environment.yml:3"}}})
	if rep.Packages != 1 || !strings.Contains(rep.Lock, "tool-1.0-0.conda#") || strings.Contains(rep.Lock, "liba") {
		t.Errorf("environment report %+v", rep)
	}
	fsys, err := oci.FS(img)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := conda.ReadInstalled(fsys, prefix)
	if err != nil || len(inst) != 2 || inst[0].Name != "liba" || inst[1].Name != "tool" {
		t.Fatalf("installed %+v %v", inst, err)
	}
	if b, err := fs.ReadFile(fsys, "opt/env/share/a.txt"); err != nil || string(b) != prefix+"\n" {
		t.Errorf("a.txt %q %v", b, err)
	}
	// The upper layer's history extends the one below: both blocks.
	if h, err := fs.ReadFile(fsys, "opt/env/conda-meta/history"); err != nil || !strings.Contains(string(h), "+"+ch.URL+"/linux-64::liba-1.0-0") || !strings.Contains(string(h), "+"+ch.URL+"/noarch::tool-1.0-0") {
		t.Errorf("history %q %v", h, err)
	}
	_, err = s.layerSpecs(context.Background(), plan.Layer{Kind: plan.KindConda, Source: "environment.yml", Conda: &plan.CondaLayer{Prefix: prefix, Channels: []string{ch.URL}, Specs: []plan.CondaSpec{{Spec: "needsglibc", Where: "environment.yml:4"}}}}, below{img: img, platform: v1.Platform{OS: "linux", Architecture: "amd64"}})
	if err == nil || !strings.Contains(err.Error(), "environment.yml: cannot satisfy __glibc") {
		t.Errorf("no glibc: %v", err)
	}
	// A request the environment below does not meet cannot be met above it.
	_, err = s.layerSpecs(context.Background(), plan.Layer{Kind: plan.KindConda, Source: "environment.yml", Conda: &plan.CondaLayer{Prefix: prefix, Channels: []string{ch.URL}, Specs: []plan.CondaSpec{{Spec: "liba >=2", Where: "environment.yml:5"}}}}, below{img: img, platform: v1.Platform{OS: "linux", Architecture: "amd64"}})
	if err == nil || !strings.Contains(err.Error(), "environment.yml:5 asks for liba >=2") || !strings.Contains(err.Error(), "but liba is liba 1.0 0 (installed in the environment below)") || !strings.Contains(err.Error(), "ask for liba as the environment below has it") {
		t.Errorf("below: %v", err)
	}
	// The lock written by the first solve, installed as it is.
	if err := os.WriteFile(filepath.Join(root, "conda-linux-64.lock"), []byte(rep.Lock), 0o644); err != nil {
		t.Fatal(err)
	}
	scratch, _ := oci.Scratch(v1.Platform{OS: "linux", Architecture: "amd64"})
	_, lrep := condaStep(t, s, scratch, &plan.CondaLayer{Prefix: prefix, Locks: map[string]string{"linux-64": "conda-linux-64.lock"}})
	if lrep.LockFile != "conda-linux-64.lock" || lrep.Packages != 1 || lrep.Lock != "" {
		t.Errorf("lock report %+v", lrep)
	}
	// conda-lock's md5 hashes: the sha256 comes from the channel's repodata.
	md5Lock := "# platform: linux-64\n@EXPLICIT\n" + recs[1].URL + "#" + recs[1].MD5 + "\n" + recs[0].URL + "#" + recs[0].MD5 + "\n"
	if err := os.WriteFile(filepath.Join(root, "conda-linux-64.lock"), []byte(md5Lock), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.layerSpecs(context.Background(), plan.Layer{Kind: plan.KindConda, Source: "environment.yml", Conda: &plan.CondaLayer{Prefix: prefix, Locks: map[string]string{"linux-64": "conda-linux-64.lock"}}}, below{img: scratch, platform: v1.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		t.Errorf("md5 lock: %v", err)
	}
}
