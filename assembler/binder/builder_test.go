package binder

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci"
)

// fakeBuilder returns one prepared base image and records what it was asked.
type fakeBuilder struct {
	img      v1.Image
	err      error
	asked    []plan.Image
	platform string
}

func (f *fakeBuilder) Build(_ context.Context, _ string, im plan.Image, platform string) (v1.Image, error) {
	f.asked = append(f.asked, im)
	f.platform = platform
	return f.img, f.err
}

func (f *fakeBuilder) Run(context.Context, v1.Image, []string, []string, string, string) ([]byte, error) {
	return nil, errors.New("planning a Binder repository runs nothing")
}

type tfile struct {
	name string
	mode int64
	body string
	dir  bool
}

// baseImage is a one-layer image with files and an environment.
func baseImage(t testing.TB, env []string, files ...tfile) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	img, err := mutate.AppendLayers(empty.Image, testtool.TarLayer(t, tw, &buf))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = env
	cf.Architecture, cf.OS = "amd64", "linux"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// An Ubuntu-like base: its passwd has ubuntu:1000, which repo2docker renames
// to the notebook user; /etc/skel is copied to the home; the base's PATH is
// kept after repo2docker's entries; its Python is probed.
func TestLoadWithBuilder(t *testing.T) {
	img := baseImage(t, []string{"PATH=/opt/conda/bin:/usr/bin:/bin", "LANG=C"},
		tfile{name: "etc/", dir: true, mode: 0o755},
		tfile{name: "etc/passwd", mode: 0o644, body: "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
		tfile{name: "etc/group", mode: 0o644, body: "root:x:0:\nsudo:x:27:ubuntu\nubuntu:x:1000:\n"},
		tfile{name: "etc/shadow", mode: 0o640, body: "root:*:19000:0:99999:7:::\nubuntu:!:19000:0:99999:7:::\n"},
		tfile{name: "etc/skel/", dir: true, mode: 0o755},
		tfile{name: "etc/skel/.bashrc", mode: 0o644, body: "# bashrc\n"},
		tfile{name: "etc/skel/.profile", mode: 0o600, body: "# profile\n"},
		tfile{name: "etc/skel/.config/", dir: true, mode: 0o755},
		tfile{name: "etc/skel/.config/x", mode: 0o644, body: "nested\n"},
		tfile{name: "usr/lib/x86_64-linux-gnu/", dir: true, mode: 0o755},
		tfile{name: "usr/local/lib/python3.12/os.py", mode: 0o644, body: "# os\n"},
	)
	fb := &fakeBuilder{img: img}
	dir := mkrepo(t, map[string]string{"runtime.txt": "python-3.12\n", "requirements.txt": "x\n"})
	p, res, err := Load(context.Background(), dir, Input{Request: plan.Request{Builder: fb, Base: "oci:/images/ubuntu:noble"}}, WithPlatform("linux/amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fb.asked) != 1 || fb.asked[0].Base != "oci:/images/ubuntu:noble" || len(fb.asked[0].Layers) != 0 || fb.platform != "linux/amd64" {
		t.Errorf("builder asked %+v for %s", fb.asked, fb.platform)
	}
	im := p.Images[0]
	users := layerBy(t, im, plan.KindGenerated, "repo2docker: notebook user")
	if pw := string(file(t, users, "/etc/passwd").Content); pw != "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\njovyan:x:1000:1000::/home/jovyan:/bin/bash\n" {
		t.Errorf("passwd:\n%s", pw)
	}
	if gr := string(file(t, users, "/etc/group").Content); gr != "root:x:0:\nsudo:x:27:ubuntu\njovyan:x:1000:\n" {
		t.Errorf("group:\n%s", gr)
	}
	if sh := string(file(t, users, "/etc/shadow").Content); sh != "root:*:19000:0:99999:7:::\njovyan:!::0:99999:7:::\n" {
		t.Errorf("shadow:\n%s", sh)
	}
	for _, f := range users.Generated.Files {
		if f.Path == "/etc/gshadow" {
			t.Error("gshadow written though the base has none")
		}
		if strings.Contains(f.Path, ".config") {
			t.Errorf("nested skel file %s copied (its directory would be root's)", f.Path)
		}
	}
	rc := file(t, users, "/home/jovyan/.bashrc")
	if string(rc.Content) != "# bashrc\n" || rc.UID != 1000 || rc.GID != 1000 || rc.Mode != 0o644 {
		t.Errorf(".bashrc %+v", rc)
	}
	if pr := file(t, users, "/home/jovyan/.profile"); pr.Mode != 0o600 {
		t.Errorf(".profile mode %o", pr.Mode)
	}
	if env := envMap(im.Config.Env); env["PATH"] != "/home/jovyan/.local/bin:/home/jovyan/.local/bin:/opt/conda/bin:/usr/bin:/bin" {
		t.Errorf("PATH %q", env["PATH"])
	}
	if strings.Contains(strings.Join(res.Notes, "\n"), "not known while planning") {
		t.Errorf("the probed Python was not used: %v", res.Notes)
	}
	// The probed Python is checked against runtime.txt.
	_, _, err = Load(context.Background(), mkrepo(t, map[string]string{"runtime.txt": "python-3.11\n"}), Input{Request: plan.Request{Builder: fb, Base: "oci:/images/ubuntu:noble"}})
	if err == nil || !strings.Contains(err.Error(), "the base oci:/images/ubuntu:noble's Python is 3.12") {
		t.Errorf("probed mismatch: %v", err)
	}
	// A base that cannot be built is an error naming it.
	fb = &fakeBuilder{err: errors.New("no such layout")}
	_, _, err = Load(context.Background(), dir, Input{Request: plan.Request{Builder: fb, Base: "oci:/nowhere:x"}})
	if err == nil || !strings.Contains(err.Error(), "oci:/nowhere:x") {
		t.Errorf("failing base: %v", err)
	}
	// A malformed passwd names the file and line.
	bad := baseImage(t, nil, tfile{name: "etc/passwd", mode: 0o644, body: "root:x:0:0:root:/root:/bin/bash\nbroken\n"})
	_, _, err = Load(context.Background(), mkrepo(t, map[string]string{"index.ipynb": "{}"}), Input{Request: plan.Request{Builder: &fakeBuilder{img: bad}}})
	if err == nil || !strings.Contains(err.Error(), "/etc/passwd line 2") {
		t.Errorf("malformed passwd: %v", err)
	}
}

// With a deb: base the builder's view of it replaces the built-in Debian
// accounts; when they agree the generated files are identical.
func TestDebianAccountsMatchBase(t *testing.T) {
	img := baseImage(t, nil,
		tfile{name: "etc/passwd", mode: 0o644, body: debianPasswd},
		tfile{name: "etc/group", mode: 0o644, body: debianGroup},
		tfile{name: "etc/shadow", mode: 0o640, body: debianShadow()},
		tfile{name: "etc/gshadow", mode: 0o640, body: debianGShadow()},
	)
	dir := mkrepo(t, map[string]string{"index.ipynb": "{}"})
	with, _, err := Load(context.Background(), dir, Input{Request: plan.Request{Builder: &fakeBuilder{img: img}}})
	if err != nil {
		t.Fatal(err)
	}
	without, _, err := Load(context.Background(), dir, Input{})
	if err != nil {
		t.Fatal(err)
	}
	a := with.Images[0].Layers[0].Generated.Files
	b := without.Images[0].Layers[0].Generated.Files
	if len(a) != len(b) {
		t.Fatalf("%d files with the builder, %d without", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Content, b[i].Content) || a[i].Mode != b[i].Mode || a[i].GID != b[i].GID {
			t.Errorf("%s differs:\n%s\n---\n%s", a[i].Path, a[i].Content, b[i].Content)
		}
	}
	if !strings.HasPrefix(debianShadow(), "root:*::0:99999:7:::\ndaemon:*::0:99999:7:::\n") || !strings.Contains(debianGShadow(), "\nshadow:*::\n") {
		t.Errorf("shadow files:\n%s\n%s", debianShadow(), debianGShadow())
	}
}

// Snapshot reads the image itself, as the pipeline does on a cache miss.
func (b *fakeBuilder) Snapshot(_ context.Context, img v1.Image, _ []string) (fs.FS, error) {
	return oci.FS(img)
}
