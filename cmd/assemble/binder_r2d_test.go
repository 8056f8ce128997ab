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

// repo2docker's kinds of repository that Binder users build every day:
// each testdata/binder repository below is built twice (the second build
// must take every layer from the cache), then its verify script runs in the
// image under podman, through the entrypoint, as repo2docker's tests run it.
// The build times are logged (never asserted) for the closing table.

type r2dRepo struct {
	name string
	// prepare adjusts a copy of the repository before it is built.
	prepare func(t *testing.T, dir string)
	args    []string
}

func TestBinderRepo2dockerRepos(t *testing.T) {
	hostIsAmd64(t)
	pm := newBinderPodman(t)
	repos := []r2dRepo{
		{name: "no-config"},
		{name: "postbuild-pip", prepare: func(t *testing.T, dir string) {
			// The wheel postBuild installs, in the repository as a user's would be.
			testtool.CopyTree(t, binderWheelhouse(t), filepath.Join(dir, "wheelhouse"))
		}},
		{name: "runtime-py39"},
		{name: "runtime-py313"},
		{name: "conda-pip"},
		{name: "pipfile-local"},
		{name: "dockerfile-user", args: []string{"--build-context", "debian:bookworm=deb:bookworm"}},
	}
	for _, r := range repos {
		t.Run(r.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), r.name)
			testtool.CopyTree(t, filepath.Join(binderTestdata, r.name), dir)
			if r.prepare != nil {
				r.prepare(t, dir)
			}
			start := time.Now()
			img, first := buildBinder(t, dir, r.args...)
			cold := time.Since(start)
			start = time.Now()
			_, again := buildBinder(t, dir, r.args...)
			t.Logf("build times: %s first, %s unchanged", cold.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
			if first.Images[0].Digest != again.Images[0].Digest {
				t.Errorf("unchanged rebuild changed the image: %s -> %s", first.Images[0].Digest, again.Images[0].Digest)
			}
			for _, l := range again.Images[0].Layers {
				if !l.Cached {
					t.Errorf("unchanged rebuild built %q", l.Description)
				}
			}
			if out := pm.run(t, img, "./verify"); !strings.Contains(out, "verified: "+r.name) {
				t.Errorf("verify printed:\n%s", out)
			}
		})
	}
}

// A Dockerfile in a Binder repository gets repo2docker's labels, besides
// the NB_USER and NB_UID build arguments dockerfile-user checks.
func TestBinderDockerfileLabels(t *testing.T) {
	img, _ := buildBinder(t, filepath.Join(binderTestdata, "dockerfile-user"), "--build-context", "debian:bookworm=deb:bookworm")
	skopeo := testtool.RequireTool(t, "skopeo")
	out, err := exec.Command(skopeo, "inspect", "--config", img).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var cf struct {
		Config struct{ Labels map[string]string } `json:"config"`
	}
	if err := json.Unmarshal(out, &cf); err != nil {
		t.Fatal(err)
	}
	l := cf.Config.Labels
	if l["repo2docker.repo"] != "local" || l["repo2docker.ref"] != "None" || l["assemble.version"] == "" {
		t.Errorf("labels %v", l)
	}
}

// A directory with no configuration file, and nothing that looks like a
// notebook repository, is built by repo2docker's default buildpack; an
// empty directory is still an error.
func TestBinderDefaultBuildpackPlan(t *testing.T) {
	r := mustAssemble(t, testtool.CacheDir(t), "plan", filepath.Join(binderTestdata, "no-config"))
	for _, want := range []string{"convention: binder", "default buildpack", "PythonBuildPack"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	r = assemble(t, testtool.CacheDir(t), "plan", t.TempDir())
	if r.err == nil || !strings.Contains(r.stderr, "no convention matched") {
		t.Errorf("empty directory: %v\n%s", r.err, r.stderr)
	}
}

// A hash in Pipfile.lock that no file matches is an error naming the lock
// and the line of the entry.
func TestBinderPipfileLockHashMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lock")
	testtool.CopyTree(t, filepath.Join(binderTestdata, "pipfile-lock"), dir)
	lock := filepath.Join(dir, "Pipfile.lock")
	b, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	const good = "sha256:c7d0d22b66793d828bd371384197de526a2414dcc69c257e7ed4151e04fcd680" // binderdemo 1.0
	if !strings.Contains(string(b), good) {
		t.Fatalf("%s no longer pins binderdemo's wheel", lock)
	}
	line := 1 + strings.Count(string(b[:strings.Index(string(b), `"binderdemo": {`)]), "\n")
	if err := os.WriteFile(lock, []byte(strings.Replace(string(b), good, "sha256:"+strings.Repeat("0", 64), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := assemble(t, testtool.CacheDir(t), "build", dir, "--find-links", binderWheelhouse(t), "--no-index", "-o", "oci:"+filepath.Join(t.TempDir(), "l"))
	if want := fmt.Sprintf("(from Pipfile.lock:%d)", line); r.err == nil || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "--hash") {
		t.Errorf("want an error naming %s:\n%v\n%s", want, r.err, r.stderr)
	}
}
