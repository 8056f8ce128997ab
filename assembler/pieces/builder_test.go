package pieces

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/oci"
)

// fakeBuilder records what Load asks to build and runs the command with a
// host interpreter, with the image's pieces folder mapped to the repository's.
type fakeBuilder struct {
	python, root string
	built        []plan.Image
	runs         [][]string
	envs         [][]string
	workdirs     []string
	fail         error
}

func (b *fakeBuilder) Build(_ context.Context, root string, im plan.Image, platform string) (v1.Image, error) {
	if root != b.root || !strings.HasPrefix(platform, "linux/") {
		return nil, errors.New("unexpected root or platform " + root + " " + platform)
	}
	b.built = append(b.built, im)
	return empty.Image, nil
}

func (b *fakeBuilder) Run(_ context.Context, _ v1.Image, cmd, env []string, _, workdir string) ([]byte, error) {
	b.runs = append(b.runs, cmd)
	b.envs = append(b.envs, env)
	b.workdirs = append(b.workdirs, workdir)
	if b.fail != nil {
		return nil, b.fail
	}
	args := append([]string(nil), cmd[1:]...)
	args[2] = filepath.Join(b.root, "pieces")
	c := exec.Command(b.python, args...)
	c.Env = append(os.Environ(), env...)
	out, err := c.Output()
	// The script saw the host path; hand back the image path, as in the image.
	return bytes.ReplaceAll(out, []byte(filepath.Join(b.root, "pieces")), []byte(imagePiecesDir)), err
}

// With a builder, each group's image (base, dependencies, repository; no
// metadata yet) is built and python3 runs in it; the result is the same as
// with a host interpreter.
func TestSchemasInEachGroupImage(t *testing.T) {
	py := hostPython(t)
	repo := copyRepo(t, sampleRepo)
	b := &fakeBuilder{python: py, root: repo}
	p, res, err := Load(context.Background(), repo, Input{Request: plan.Request{Builder: b, SourceURL: sampleSource}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(expectedDir, "compiled_metadata.json"))
	if !bytes.Equal(res.CompiledMetadata, want) {
		t.Errorf("in-image schemas differ from the expected file:\n%s", firstDiff(res.CompiledMetadata, want))
	}
	if len(b.built) != 3 || len(b.runs) != 3 {
		t.Fatalf("built %d images, ran %d commands", len(b.built), len(b.runs))
	}
	for i, im := range b.built {
		for _, l := range im.Layers {
			if l.Kind == plan.KindGenerated {
				t.Errorf("group%d: the extraction image already has the metadata layer", i)
			}
		}
		if im.Name != p.Images[i].Name || len(im.Layers) != len(p.Images[i].Layers)-1 {
			t.Errorf("group%d: built %+v", i, im)
		}
		cmd := b.runs[i]
		if cmd[0] != "python3" || cmd[1] != "-c" || cmd[3] != RepositoryDir+"/pieces" || strings.Join(cmd[4:], ",") != strings.Join(res.Groups[i].Pieces, ",") {
			t.Errorf("group%d: ran %q", i, cmd[:1])
		}
		if b.workdirs[i] != RepositoryDir || !strings.Contains(strings.Join(b.envs[i], " "), "PYTHONDONTWRITEBYTECODE=1") {
			t.Errorf("group%d: workdir %s env %v", i, b.workdirs[i], b.envs[i])
		}
	}
	if b.built[2].Dockerfile == nil {
		t.Error("the Dockerfile group was not built from its Dockerfile")
	}
	// Domino's Dockerfiles COPY .domino: it exists now, empty.
	if fi, err := os.Stat(filepath.Join(repo, ".domino")); err != nil || !fi.IsDir() {
		t.Errorf(".domino not created for the Dockerfile: %v", err)
	}
	if !strings.Contains(res.Schemas, "group2: Python 3.") {
		t.Errorf("schemas: %s", res.Schemas)
	}

	// An image without python3 gives an error that says what to do.
	b = &fakeBuilder{python: py, root: repo, fail: errors.New(`exec: "python3": executable file not found in $PATH`)}
	_, _, err = Load(context.Background(), repo, Input{Request: plan.Request{Builder: b}})
	if err == nil {
		t.Fatal("no error without python3")
	}
	for _, w := range []string{"group0", "AddPiece, GreetPiece", "python3", "--metadata-python", "--no-schemas"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

// An image whose python3 has no pydantic: each piece's import fails and the
// error says to install pydantic or use the flags.
func TestSchemasWithoutPydantic(t *testing.T) {
	py := hostPython(t)
	repo := copyRepo(t, sampleRepo)
	// A pydantic that cannot be imported shadows the real one.
	shadow := t.TempDir()
	writeFile(t, filepath.Join(shadow, "pydantic.py"), "raise ImportError('No module named pydantic (test)')\n")
	t.Setenv("PYTHONPATH", shadow)
	_, _, err := Load(context.Background(), repo, Input{Settings: Settings{MetadataPython: py}})
	if err == nil || !strings.Contains(err.Error(), "has no pydantic") || !strings.Contains(err.Error(), "--no-schemas") || !strings.Contains(err.Error(), "pieces/AddPiece/models.py") {
		t.Errorf("without pydantic: %v", err)
	}
}

// A host interpreter wins over the builder (nothing is built while
// planning), but with a builder the images will be built, so .domino/ is
// created for the Dockerfiles' COPY .domino, as Domino does; without one
// (planning) the repository is left alone.
func TestHostPythonWithBuilder(t *testing.T) {
	py := hostPython(t)
	repo := copyRepo(t, sampleRepo)
	if _, _, err := Load(context.Background(), repo, Input{Settings: Settings{MetadataPython: py}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, ".domino")); err == nil {
		t.Error("planning created .domino")
	}
	b := &fakeBuilder{python: py, root: repo}
	if _, _, err := Load(context.Background(), repo, Input{Request: plan.Request{Builder: b}, Settings: Settings{MetadataPython: py}}); err != nil {
		t.Fatal(err)
	}
	if len(b.built) != 0 {
		t.Errorf("built %d images although a host interpreter was given", len(b.built))
	}
	if fi, err := os.Stat(filepath.Join(repo, ".domino")); err != nil || !fi.IsDir() {
		t.Errorf(".domino not created: %v", err)
	}
}

// BaseContexts maps every tag of Domino's base named in a FROM (flags
// skipped) to the override, and nothing else.
func TestBaseContexts(t *testing.T) {
	root := miniRepo(t, map[string]string{
		"dependencies/Dockerfile_a": "FROM --platform=linux/amd64 ghcr.io/tauffer-consulting/domino-base-piece:latest-dev AS build\nFROM python:3.11\n",
		"dependencies/Dockerfile_b": "from ghcr.io/tauffer-consulting/domino-base-piece:gpu\nRUN echo\n",
		"dependencies/reqs.txt":     "requests\n",
	})
	got := BaseContexts(root, "oci:/l:base")
	if len(got) != 2 || got[DominoBaseImage+":latest-dev"] != "oci:/l:base" || got[DominoBaseImage+":gpu"] != "oci:/l:base" {
		t.Errorf("%v", got)
	}
	if len(BaseContexts(root, "")) != 0 {
		t.Error("contexts without an override")
	}
}

// Snapshot reads the image itself, as the pipeline does on a cache miss.
func (b *fakeBuilder) Snapshot(_ context.Context, img v1.Image, _ []string) (fs.FS, error) {
	return oci.FS(img)
}

// With --no-run, the refused extraction is one line that names the group
// and the flags, without the script and without blaming the base.
func TestSchemasRefusedByNoRun(t *testing.T) {
	repo := miniRepo(t, validFiles())
	b := &fakeBuilder{root: repo, fail: &plan.RunRefusedError{Command: "python3 -c 'import importlib, json, os, sys'"}}
	_, _, err := Load(context.Background(), repo, Input{Request: plan.Request{Builder: b}})
	if err == nil {
		t.Fatal("no error when running is refused")
	}
	msg := err.Error()
	for _, w := range []string{"group0 (OnePiece)", "--no-run", "--metadata-python", "--no-schemas"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q: %s", w, msg)
		}
	}
	for _, no := range []string{"\n", "importlib", "base"} {
		if strings.Contains(msg, no) {
			t.Errorf("error has %q: %s", no, msg)
		}
	}
}
