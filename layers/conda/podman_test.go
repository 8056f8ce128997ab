package conda_test

import (
	"archive/tar"
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/conda/condatest"
	"github.com/assemble-build/assemble/layers/deb"
	"github.com/assemble-build/assemble/layers/layerstest"
	"github.com/assemble-build/assemble/oci"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// debianPythonBase builds a Debian bookworm root with python3.11-minimal
// from the real mirror (downloads shared across runs, see layerstest) and
// returns its layers and the interpreter binary it holds.
func debianPythonBase(t *testing.T, cache *layers.Cache) ([]v1.Layer, []byte) {
	t.Helper()
	if testing.Short() {
		t.Skip("uses the Debian mirror")
	}
	ctx := context.Background()
	c := deb.New(cache)
	ix, err := c.Index(ctx, deb.Source{Arch: "amd64"})
	if err != nil {
		t.Fatalf("indexing bookworm from %s: %v", deb.DefaultMirror, err)
	}
	pkgs, err := ix.Resolve([]deb.Request{{Name: "python3.11-minimal", Where: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs, deb.WithLayerBudget(1))
	if err != nil {
		t.Fatal(err)
	}
	var ls []v1.Layer
	var python []byte
	for _, s := range specs {
		res, err := cache.Build(ctx, s)
		if cl, ok := s.(io.Closer); ok {
			cl.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		l := cache.Layer(res.Descriptor)
		ls = append(ls, l)
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		testtool.EachTarEntry(t, rc, func(h *tar.Header, body io.Reader) {
			if h.Name == "usr/bin/python3.11" && h.Typeflag == tar.TypeReg {
				python, _ = io.ReadAll(body)
			}
		})
		rc.Close()
	}
	if len(python) == 0 {
		t.Fatal("the Debian base has no usr/bin/python3.11")
	}
	return ls, python
}

// TestPodmanRunsEntryPoint: the conda layer on a Debian base runs under
// podman. The environment's python is a conda package made from the
// image's own interpreter (with a pyvenv.cfg pointing at its standard
// library), and the noarch: python package's entry point prints what the
// test expects, read from a file whose text placeholder was replaced.
func TestPodmanRunsEntryPoint(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the Debian base is built for amd64; podman runs it on amd64 hosts")
	}
	testtool.RequireTool(t, "podman")
	testtool.RequireTool(t, "runc")
	testtool.RequireTool(t, "cph")
	cache := layerstest.SharedCache(t)
	base, python := debianPythonBase(t, cache)

	ch := condatest.NewChannel(t, t.TempDir())
	recs := ch.AddAll(t,
		condatest.Package{Name: "python", Version: "3.11.2", Build: "debian_0", Files: map[string]condatest.File{
			"bin/python3.11": {Data: string(python), Mode: 0o755},
			"bin/python":     {Link: "python3.11"},
			// A venv over Debian's standard library: sys.prefix is the environment.
			"pyvenv.cfg": {Data: "home = /usr/bin\ninclude-system-site-packages = false\n"},
		}},
		condatest.Package{Name: "hello", Version: "1.0", Build: "pyh_0", Noarch: "python", EntryPoints: []string{"hello = hello.cli:main"},
			Files: map[string]condatest.File{
				"site-packages/hello/__init__.py": {Data: ""},
				"site-packages/hello/cli.py": {Data: "import os, sys\n" +
					"def main():\n" +
					"    where = open(os.path.join(sys.prefix, 'share/hello/where.txt')).read().strip()\n" +
					"    print('hello from', where, 'python %d.%d' % sys.version_info[:2], 'prefix', sys.prefix)\n"},
				"share/hello/where.txt": {Data: ph + "/share/hello\n", PrefixMode: "text"},
			}},
	)
	spec := conda.NewLayer(cache, condatest.Solution([]string{"python=3.11", "hello"}, recs...), prefix, conda.WithOwner(1000, 1000))
	res, err := cache.Build(context.Background(), spec)
	spec.(io.Closer).Close()
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Scratch(v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(base, cache.Layer(res.Descriptor)) {
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	dir := testtool.ShortTempDir(t)
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "conda"})); err != nil {
		t.Fatal(err)
	}
	out := testtool.PodmanRun(t, dir, []string{"--user", "1000"}, "oci:"+filepath.Join(dir, "layout")+":conda", prefix+"/bin/hello")
	want := "hello from " + prefix + "/share/hello python 3.11 prefix " + prefix + "\n"
	if out != want {
		t.Errorf("the entry point printed %q, want %q", out, want)
	}
}
