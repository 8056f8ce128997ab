package dockerfile

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/deb"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
)

// These tests build real package layers from Debian's mirror (through the
// shared download cache) with an Env like the pipeline's, and run the
// images under podman.

func sharedCacheDir(t testing.TB) string {
	d := os.Getenv("ASSEMBLE_TEST_CACHE")
	if d == "" {
		d = "/var/tmp/assemble-test-cache"
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// realServices are testServices whose Env and deb: bases are real.
func realServices(t testing.TB, root string) *testServices {
	t.Helper()
	c, err := layers.OpenCache(sharedCacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	svc := &testServices{t: t, cache: c}
	e := &realEnv{cache: c, client: deb.New(c), root: root, indexes: map[string]*deb.Index{}}
	svc.env = e.env
	svc.base = func(ctx context.Context, ref string, platform v1.Platform) (v1.Image, error) {
		return e.debianRoot(ctx, svc, strings.TrimPrefix(ref, "deb:"), platform)
	}
	return svc
}

type realEnv struct {
	cache  *layers.Cache
	client *deb.Client
	root   string

	mu      sync.Mutex
	indexes map[string]*deb.Index
}

func (e *realEnv) index(ctx context.Context, suite, arch string) (*deb.Index, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ix, ok := e.indexes[suite+"/"+arch]; ok {
		return ix, nil
	}
	ix, err := e.client.Index(ctx, deb.Source{Arch: arch, Suites: []string{suite}})
	if err != nil {
		return nil, err
	}
	e.indexes[suite+"/"+arch] = ix
	return ix, nil
}

func (e *realEnv) debianRoot(ctx context.Context, svc *testServices, suite string, platform v1.Platform) (v1.Image, error) {
	arch, err := deb.DebianArch(platform.OS + "/" + platform.Architecture)
	if err != nil {
		return nil, err
	}
	ix, err := e.index(ctx, suite, arch)
	if err != nil {
		return nil, err
	}
	pkgs, err := ix.Resolve(ix.BaseRequest(), nil)
	if err != nil {
		return nil, err
	}
	if err := e.client.Fetch(ctx, pkgs); err != nil {
		return nil, err
	}
	specs, err := e.client.Layers(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	img, err := oci.Scratch(platform)
	if err != nil {
		return nil, err
	}
	var adds []oci.Addition
	for _, s := range specs {
		l, err := svc.Layer(ctx, s)
		if err != nil {
			return nil, err
		}
		adds = append(adds, oci.Addition{Layer: l, CreatedBy: s.Describe()})
	}
	return oci.Stack(img, adds, oci.Config{}, oci0(), nil)
}

func (e *realEnv) env(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) ([]layers.Spec, error) {
	fsys, err := oci.FS(img)
	if err != nil {
		return nil, err
	}
	switch l.Kind {
	case plan.KindDeb:
		arch, err := deb.DebianArch(platform.OS + "/" + platform.Architecture)
		if err != nil {
			return nil, err
		}
		ix, err := e.index(ctx, "bookworm", arch)
		if err != nil {
			return nil, err
		}
		status, err := fs.ReadFile(fsys, "var/lib/dpkg/status")
		if err != nil {
			return nil, err
		}
		installed, err := deb.ParseStatus(bytes.NewReader(status))
		if err != nil {
			return nil, err
		}
		var reqs []deb.Request
		for _, p := range l.Deb.Packages {
			reqs = append(reqs, deb.Request{Name: p.Name, Where: p.Where})
		}
		pkgs, err := ix.Resolve(reqs, installed)
		if err != nil {
			return nil, err
		}
		if err := e.client.Fetch(ctx, pkgs); err != nil {
			return nil, err
		}
		return e.client.Layers(ctx, pkgs, deb.WithBaseStatus(status))
	case plan.KindPython:
		target, err := wheel.Probe(fsys, wheel.WithArch(platform.Architecture))
		if err != nil {
			return nil, err
		}
		var all *wheel.Requirements
		for _, f := range l.Python.Requirements {
			r, err := wheel.ParseRequirements(filepath.Join(e.root, f))
			if err != nil {
				return nil, err
			}
			all = merge(all, r)
		}
		if len(l.Python.Packages) > 0 {
			r, err := wheel.ParseRequirementsReader(l.Source, strings.NewReader(strings.Join(l.Python.Packages, "\n")), wheel.WithBaseDir(e.root))
			if err != nil {
				return nil, err
			}
			all = merge(all, r)
		}
		var opts []wheel.Option
		for _, fl := range l.Python.FindLinks {
			opts = append(opts, wheel.WithFindLinks(filepath.Join(e.root, fl)))
		}
		if l.Python.NoIndex {
			opts = append(opts, wheel.WithNoIndex())
		}
		res := wheel.NewResolver(e.cache, opts...)
		set, err := res.Resolve(ctx, all, target)
		if err != nil {
			return nil, err
		}
		return []layers.Spec{wheel.NewLayer(e.cache, set, target, wheel.WithDownloader(res))}, nil
	}
	return nil, fmt.Errorf("not a package layer: %s", l.Kind)
}

func merge(a, b *wheel.Requirements) *wheel.Requirements {
	if a == nil {
		return b
	}
	a.Requirements = append(a.Requirements, b.Requirements...)
	a.Constraints = append(a.Constraints, b.Constraints...)
	a.FindLinks = append(a.FindLinks, b.FindLinks...)
	a.NoIndex = a.NoIndex || b.NoIndex
	return a
}

// podmanRun runs an image of an OCI layout with podman (no daemon).
func podmanRun(t testing.TB, layoutDir, tag string, args ...string) string {
	t.Helper()
	podman := needTool(t, "podman")
	needTool(t, "runc")
	root := shortDir(t)
	full := append([]string{"--storage-driver", "vfs", "--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"),
		"--cgroup-manager", "cgroupfs", "--runtime", "runc", "run", "--rm", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "oci:" + layoutDir + ":" + tag}, args...)
	cmd := exec.Command(podman, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman run: %v\n%s%s", err, out, stderr.String())
	}
	return string(out)
}

func needAmd64Root(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("runs Debian amd64 packages")
	}
	needRoot(t)
}

// A multi-stage build compiles a C program with gcc in a Debian stage
// (the apt-get install translated, the compiler RUN executed in the
// sandbox) and copies the static binary into scratch; podman runs it.
func TestE2ECompileC(t *testing.T) {
	needAmd64Root(t)
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -o /usr/local/bin/hello hello.c

FROM scratch
COPY --from=build /usr/local/bin/hello /hello
ENTRYPOINT ["/hello"]
`,
		"hello.c": `#include <stdio.h>
int main(void) { puts("hello from a Dockerfile built without a daemon"); return 0; }
`,
	})
	svc := realServices(t, dir)
	img := build(t, svc, dir, WithBuildContexts(map[string]string{"debian:bookworm": "deb:bookworm"}))
	if len(svc.installs) != 1 || svc.installs[0].Deb == nil || len(svc.installs[0].Deb.Packages) != 2 {
		t.Fatalf("installs = %+v", svc.installs)
	}
	layoutDir := filepath.Join(shortDir(t), "layout")
	writeLayout(t, layoutDir, img, "hello")
	out := podmanRun(t, layoutDir, "hello")
	if out != "hello from a Dockerfile built without a daemon\n" {
		t.Errorf("the program printed %q", out)
	}

}

// jq from apt and a package from a local wheelhouse (found through
// requirements.txt's --find-links) install with running turned off, which
// proves both were translated; the image runs.
func TestE2ETranslatedNoRun(t *testing.T) {
	needAmd64Root(t)
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM deb:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends python3 jq && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt ./
COPY wheels/ wheels/
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
CMD ["python3", "/app/app.py"]
`,
		"requirements.txt": "--find-links wheels\n--no-index\nassemblegreet==1.0\n",
		"app.py": `import subprocess, assemblegreet
print(assemblegreet.greet())
print(subprocess.run(["jq", "-n", "-c", "{ok: true}"], capture_output=True, text=True).stdout.strip())
`,
	})
	writeWheel(t, filepath.Join(dir, "wheels"), "assemblegreet", "1.0", map[string]string{
		"assemblegreet/__init__.py": "def greet():\n    return 'greetings from a wheel'\n",
	})
	svc := realServices(t, dir)
	img := build(t, svc, dir, WithNoRun(true))
	if len(svc.installs) != 2 || svc.installs[0].Kind != plan.KindDeb || svc.installs[1].Kind != plan.KindPython {
		t.Fatalf("installs = %+v", svc.installs)
	}
	layoutDir := filepath.Join(shortDir(t), "layout")
	writeLayout(t, layoutDir, img, "py")
	out := podmanRun(t, layoutDir, "py")
	if out != "greetings from a wheel\n{\"ok\":true}\n" {
		t.Errorf("the image printed %q", out)
	}
}

// writeWheel makes a pure-Python wheel in dir.
func writeWheel(t testing.TB, dir, name, version string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	info := name + "-" + version + ".dist-info/"
	files[info+"METADATA"] = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
	files[info+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: assemble-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	record.WriteString(info + "RECORD,,\n")
	w, _ := zw.Create(info + "RECORD")
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-"+version+"-py3-none-any.whl"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
