package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
)

// The Binder (repo2docker) sample repositories of testdata/binder: each is
// built with deb:bookworm from Debian's mirror and a local wheelhouse (never
// PyPI), and its verify script runs in the image under podman, through the
// entrypoint, in $REPO_DIR, as repo2docker's tests run it.

const binderTestdata = "../../testdata/binder"

func binderWheelhouse(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(binderTestdata, "wheelhouse"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type binderLayer struct {
	Description string `json:"description"`
	Digest      string `json:"digest"`
	Cached      bool   `json:"cached"`
}

type binderReport struct {
	Images []struct {
		Name   string        `json:"name"`
		Digest string        `json:"digest"`
		Layers []binderLayer `json:"layers"`
	} `json:"images"`
}

// buildBinder builds repo into a new layout and returns the image reference
// and the --json report.
func buildBinder(t testing.TB, repo string, args ...string) (string, binderReport) {
	t.Helper()
	layout := filepath.Join(shortTempDir(t), "layout")
	full := append([]string{"build", repo, "--find-links", binderWheelhouse(t), "--no-index", "-t", "test", "-o", "oci:" + layout, "--json"}, args...)
	r := mustAssemble(t, testtool.CacheDir(t), full...)
	var rep binderReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Images) != 1 {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	return "oci:" + layout + ":" + rep.Images[0].Name + ":test", rep
}

// binderPodman runs images in one podman storage shared by a test's
// subtests, so the layers the images share are stored once. As root it
// uses the overlay driver where the kernel has it: the vfs driver stores
// every layer as a full copy of the file system below it, which for a
// dozen Binder images (Python, Node, a venv) is over ten gigabytes to
// write and then to delete.
type binderPodman struct{ podman, root, driver string }

func newBinderPodman(t testing.TB) *binderPodman {
	t.Helper()
	p := &binderPodman{podman: testtool.RequireTool(t, "podman"), root: shortTempDir(t), driver: "vfs"}
	testtool.RequireTool(t, "runc")
	if b, err := os.ReadFile("/proc/filesystems"); err == nil && os.Geteuid() == 0 && strings.Contains(string(b), "\toverlay\n") {
		p.driver = "overlay"
	}
	return p
}

func (p *binderPodman) run(t testing.TB, image string, args ...string) string {
	t.Helper()
	full := append([]string{"--storage-driver", p.driver, "--root", filepath.Join(p.root, "root"), "--runroot", filepath.Join(p.root, "run"),
		"--cgroup-manager", "cgroupfs", "--runtime", "runc", "run", "--rm", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", image}, args...)
	cmd := exec.Command(p.podman, full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	testtool.AwaitProcesses(t, filepath.Join(p.root, "root"))
	if err != nil {
		t.Fatalf("podman run %s %s: %v\n%s%s", image, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestBinderImages builds the sample repositories and runs what they
// check in the images.
func TestBinderImages(t *testing.T) {
	hostIsAmd64(t)
	pm := newBinderPodman(t)
	for _, name := range []string{"bare", "apt-packages", "requirements", "binder-dir", "runtime", "pipfile-lock", "postbuild", "start", "python-package"} {
		t.Run(name, func(t *testing.T) {
			img, _ := buildBinder(t, filepath.Join(binderTestdata, name))
			out := pm.run(t, img, "./verify")
			if !strings.Contains(out, "verified: "+name) {
				t.Errorf("verify printed:\n%s", out)
			}
		})
	}

	// The default command is `jupyter notebook --ip 0.0.0.0` when the
	// requirements name Jupyter (here a stand-in that prints its
	// arguments); it runs through the entrypoint and the start script.
	t.Run("default-command", func(t *testing.T) {
		repo := filepath.Join(t.TempDir(), "nb")
		testtool.CopyTree(t, filepath.Join(binderTestdata, "start"), repo)
		if err := os.WriteFile(filepath.Join(repo, "requirements.txt"), []byte("notebook\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Not executable in the checkout: the entrypoint makes it so, as repo2docker's does.
		if err := os.Chmod(filepath.Join(repo, "start"), 0o644); err != nil {
			t.Fatal(err)
		}
		img, _ := buildBinder(t, repo)
		if out := pm.run(t, img); out != "fake jupyter notebook --ip 0.0.0.0\n" {
			t.Errorf("default command printed %q", out)
		}
		if out := pm.run(t, img, "sh", "-c", "echo $TEST_START_VAR"); out != "var is set\n" {
			t.Errorf("start did not run in front of the command: %q", out)
		}
	})

	// --user-name, --user-id and --target-repo-dir: the repository
	// elsewhere, the home still the user's and writable.
	t.Run("user-and-repo-dir", func(t *testing.T) {
		img, _ := buildBinder(t, filepath.Join(binderTestdata, "postbuild"), "--user-name", "alice", "--user-id", "1234", "--target-repo-dir", "/srv/repo")
		out := pm.run(t, img, "sh", "-c", `id -un; id -u; id -g; echo "$HOME $REPO_DIR $(pwd)"; stat -c %u:%g "$HOME" "$REPO_DIR"; touch "$HOME/x" "$REPO_DIR/y" && echo writable; cat postbuild-ran.txt; postbuild-tool`)
		want := "alice\n1234\n1234\n/home/alice /srv/repo /srv/repo\n1234:1234\n1234:1234\nwritable\nalice /srv/repo\nfrom-postbuild\n"
		if out != want {
			t.Errorf("got:\n%s\nwant:\n%s", out, want)
		}
	})
}

// The image keeps repo2docker's configuration: user, workdir, env, labels,
// port, entrypoint; without Jupyter the command is a shell.
func TestBinderImageConfig(t *testing.T) {
	img, _ := buildBinder(t, filepath.Join(binderTestdata, "bare"))
	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, "inspect", "--config", img).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var cf struct {
		Config struct {
			User         string
			WorkingDir   string
			Env          []string
			Entrypoint   []string
			Cmd          []string
			Labels       map[string]string
			ExposedPorts map[string]any
		} `json:"config"`
	}
	if err := json.Unmarshal(out, &cf); err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "jovyan" || c.WorkingDir != "/home/jovyan" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/repo2docker-entrypoint" ||
		len(c.Cmd) != 1 || c.Cmd[0] != "/bin/bash" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["8888/tcp"]; !ok {
		t.Errorf("ports %v", c.ExposedPorts)
	}
	if c.Labels["repo2docker.repo"] == "" || c.Labels["repo2docker.ref"] == "" || c.Labels["assemble.version"] == "" {
		t.Errorf("labels %v", c.Labels)
	}
	env := strings.Join(c.Env, "\n")
	for _, want := range []string{"HOME=/home/jovyan", "USER=jovyan", "REPO_DIR=/home/jovyan", "APP_BASE=/srv", "PATH=/home/jovyan/.local/bin:/home/jovyan/.local/bin:/srv/conda/envs/notebook/bin:/srv/npm/bin:/usr/local/sbin:", "NB_PYTHON_PREFIX=/srv/conda/envs/notebook"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	r := assemble(t, testtool.CacheDir(t), "build", filepath.Join(binderTestdata, "bare"), "--user-id", "0", "-o", "oci:"+filepath.Join(t.TempDir(), "l"))
	if r.err == nil || !strings.Contains(r.stderr, "root") {
		t.Errorf("--user-id 0: %v\n%s", r.err, r.stderr)
	}
}

// Editing a notebook rebuilds the repository layer only: every other layer
// is the same blob, taken from the cache.
func TestBinderNotebookEditRebuildsOneLayer(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "edit")
	testtool.CopyTree(t, filepath.Join(binderTestdata, "apt-packages"), repo)
	if err := os.WriteFile(filepath.Join(repo, "requirements.txt"), []byte("binderdemo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, before := buildBinder(t, repo)
	nb := filepath.Join(repo, "index.ipynb")
	// Content no earlier run made, so the shared cache cannot hold its layer.
	edited := fmt.Sprintf(`{"cells": [], "metadata": {"edited": %d}, "nbformat": 4, "nbformat_minor": 5}`+"\n", time.Now().UnixNano())
	if err := os.WriteFile(nb, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, after := buildBinder(t, repo)
	a, b := before.Images[0].Layers, after.Images[0].Layers
	if len(a) != len(b) || len(a) < 5 {
		t.Fatalf("%d layers before, %d after", len(a), len(b))
	}
	changed := 0
	for i := range a {
		if a[i].Description != b[i].Description {
			t.Fatalf("layer %d: %q became %q", i, a[i].Description, b[i].Description)
		}
		isRepo := strings.HasPrefix(a[i].Description, "files . -> /home/jovyan")
		switch {
		case isRepo && (a[i].Digest == b[i].Digest || b[i].Cached):
			t.Errorf("the repository layer was not rebuilt: %+v -> %+v", a[i], b[i])
		case isRepo:
			changed++
		case a[i].Digest != b[i].Digest || !b[i].Cached:
			t.Errorf("layer %q changed or was rebuilt: %+v -> %+v", a[i].Description, a[i], b[i])
		}
	}
	if changed != 1 {
		t.Errorf("%d repository layers changed", changed)
	}
	if before.Images[0].Digest == after.Images[0].Digest {
		t.Error("the image digest did not change")
	}
	// The repository layer is the top one: nothing above it is rebuilt.
	if !strings.HasPrefix(a[len(a)-1].Description, "files . -> /home/jovyan") {
		t.Errorf("top layer is %q", a[len(a)-1].Description)
	}
}

// binder/Dockerfile is built as it is, context the repository root.
func TestBinderDockerfile(t *testing.T) {
	hostIsAmd64(t)
	img, _ := buildBinder(t, filepath.Join(binderTestdata, "dockerfile"), "--build-context", "debian:bookworm=deb:bookworm")
	if out := podmanRun(t, img, "./verify"); !strings.Contains(out, "verified: dockerfile") {
		t.Errorf("verify printed:\n%s", out)
	}
}

// Files assemble cannot honour give one error naming the file, the
// buildpack and what to use instead, and no output.
func TestBinderUnsupported(t *testing.T) {
	for name, want := range map[string][]string{
		"unsupported-conda":         {"environment.yml", "CondaBuildPack", "requirements.txt"},
		"unsupported-r":             {"runtime.txt", "install.R", "RBuildPack", "r-cran-"},
		"unsupported-r-description": {"DESCRIPTION", "RBuildPack"},
		"unsupported-julia":         {"Project.toml", "JuliaProjectTomlBuildPack", "Dockerfile"},
		"unsupported-julia-require": {"REQUIRE", "JuliaRequireBuildPack"},
		"unsupported-nix":           {"default.nix", "NixBuildPack"},
	} {
		out := filepath.Join(t.TempDir(), "l")
		r := assemble(t, testtool.CacheDir(t), "build", filepath.Join(binderTestdata, name), "-o", "oci:"+out)
		if r.err == nil {
			t.Errorf("%s: built", name)
			continue
		}
		for _, w := range append(want, "Instead") {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: error lacks %q:\n%s", name, w, r.stderr)
			}
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: output written", name)
		}
	}
	// runtime.txt asking for another Python names a base that has it.
	repo := filepath.Join(t.TempDir(), "py312")
	testtool.CopyTree(t, filepath.Join(binderTestdata, "runtime"), repo)
	if err := os.WriteFile(filepath.Join(repo, "runtime.txt"), []byte("python-3.12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := assemble(t, testtool.CacheDir(t), "build", repo, "-o", "oci:"+filepath.Join(t.TempDir(), "l"))
	if r.err == nil || !strings.Contains(r.stderr, "runtime.txt asks for Python 3.12") || !strings.Contains(r.stderr, "--base docker://docker.io/library/python:3.12-slim-bookworm") {
		t.Errorf("python-3.12: %v\n%s", r.err, r.stderr)
	}
}

// `assemble plan` names the convention and needs no build.
func TestBinderPlan(t *testing.T) {
	r := mustAssemble(t, testtool.CacheDir(t), "plan", filepath.Join(binderTestdata, "binder-dir"))
	for _, want := range []string{"binder", "PythonBuildPack", "binder/requirements.txt"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
}
