package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers/conda/condatest"
)

// condaChannel builds, under alias/conda-forge, a channel whose python is
// the host's own Debian python3.11 (with a pyvenv.cfg over the standard
// library apt.txt installs), a library needing __glibc >= 2.17 with a text
// prefix placeholder (as .tar.bz2), and a noarch: python package with an
// entry point whose newest version needs a library built for a glibc no
// image has: the solver must back off to the older one.
func condaChannel(t *testing.T, alias string) {
	t.Helper()
	testtool.RequireTool(t, "cph")
	python, err := os.ReadFile("/usr/bin/python3.11")
	if err != nil {
		t.Skipf("the channel's python is the host's Debian python3.11: %v", err)
	}
	ph := condatest.Placeholder
	ch := condatest.NewChannel(t, filepath.Join(alias, "conda-forge"))
	ch.AddAll(t,
		condatest.Package{Name: "python", Version: "3.11.2", Build: "debian_0", Files: map[string]condatest.File{
			"bin/python3.11": {Data: string(python), Mode: 0o755},
			"bin/python":     {Link: "python3.11"},
			"bin/python3":    {Link: "python3.11"},
			"pyvenv.cfg":     {Data: "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"},
		}},
		condatest.Package{Name: "libgreet", Version: "1.0", Build: "h0_0", Depends: []string{"__glibc >=2.17"}, TarBz2: true,
			Files: map[string]condatest.File{"share/greet/where.txt": {Data: ph + "/share/greet\n", PrefixMode: "text"}}},
		condatest.Package{Name: "libgreet", Version: "2.0", Build: "h0_0", Depends: []string{"__glibc >=9.0"},
			Files: map[string]condatest.File{"share/greet/where.txt": {Data: "too new\n"}}},
		condatest.Package{Name: "hello", Version: "2.0", Build: "pyh_0", Noarch: "python", Depends: []string{"python >=3.8", "libgreet 2.*"},
			Files: map[string]condatest.File{"site-packages/hello/__init__.py": {Data: ""}}},
		condatest.Package{Name: "hello", Version: "1.0", Build: "pyh_0", Noarch: "python", Depends: []string{"python >=3.8", "libgreet 1.*"},
			EntryPoints: []string{"hello = hello.cli:main"},
			Files: map[string]condatest.File{
				"site-packages/hello/__init__.py": {Data: ""},
				"site-packages/hello/cli.py": {Data: "import os, sys\n" +
					"def main():\n" +
					"    where = open(os.path.join(sys.prefix, 'share/greet/where.txt')).read().strip()\n" +
					"    print('hello from', where, 'python %d.%d' % sys.version_info[:2])\n"},
			}},
	)
	ch.Write(t)
}

// An environment.yml with conda packages is built as repo2docker's conda
// buildpack would, with no conda: the base environment and the file's
// packages as conda layers at NB_PYTHON_PREFIX (solved from a channel
// served over HTTP through --conda-channel-alias), its pip: list by the
// wheel installer into the environment's python, and the entry point runs
// under podman. `plan --resolve` prints the solution as an explicit lock;
// a second build with --offline and the channel gone takes everything from
// the cache.
func TestBinderConda(t *testing.T) {
	hostIsAmd64(t)
	alias := t.TempDir()
	condaChannel(t, alias)
	srv := httptest.NewServer(http.FileServer(http.Dir(alias)))
	defer srv.Close()
	repo := t.TempDir()
	testtool.WriteFiles(t, repo, map[string]string{
		"environment.yml": "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - hello\n  - pip:\n    - binderdemo\n",
		"apt.txt":         "python3.11-minimal\n",
	}, func(string) bool { return false })
	cache := testtool.CacheDir(t)
	flags := []string{"--conda-channel-alias", srv.URL, "--conda-base-env="}
	r := mustAssemble(t, cache, append([]string{"plan", repo, "--resolve", "--find-links", binderWheelhouse(t), "--no-index"}, flags...)...)
	for _, want := range []string{"conda environment /srv/conda/envs/notebook (linux-64, glibc 2.36): 1 packages", "@EXPLICIT",
		srv.URL + "/conda-forge/linux-64/python-3.11.2-debian_0.conda#",
		"conda environment /srv/conda/envs/notebook (linux-64, glibc 2.36): 2 packages", "layer 5: conda /srv/conda/envs/notebook python=3.11 hello  (",
		srv.URL + "/conda-forge/linux-64/libgreet-1.0-h0_0.tar.bz2#",
		srv.URL + "/conda-forge/noarch/hello-1.0-pyh_0.conda#"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan --resolve lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`hello-1\.0-pyh_0\.conda#[0-9a-f]{64}\n`).MatchString(r.stdout) {
		t.Errorf("no sha256 in the lock:\n%s", r.stdout)
	}
	img, _ := buildBinder(t, repo, flags...)
	if out := podmanRun(t, img, "hello"); out != "hello from /srv/conda/envs/notebook/share/greet python 3.11\n" {
		t.Errorf("hello printed %q", out)
	}
	if out := podmanRun(t, img, "sh", "-c", "command -v python; binderdemo; ls /srv/conda/envs/notebook/conda-meta; cat /srv/conda/envs/notebook/conda-meta/history"); !strings.Contains(out, "/srv/conda/envs/notebook/bin/python\nbinderdemo 1.0") ||
		!strings.Contains(out, "hello-1.0-pyh_0.json") || !strings.Contains(out, "python-3.11.2-debian_0.json") ||
		!strings.Contains(out, "/linux-64::python-3.11.2-debian_0") || !strings.Contains(out, "/noarch::hello-1.0-pyh_0") {
		t.Errorf("environment:\n%s", out)
	}
	srv.Close()
	_, rep := buildBinder(t, repo, append(flags, "--offline")...)
	for _, l := range rep.Images[0].Layers {
		if !l.Cached {
			t.Errorf("offline rebuild built %q", l.Description)
		}
	}
}

// An unsatisfiable environment.yml fails naming the package, who asked
// for what and the file's lines, and writes nothing.
func TestBinderCondaUnsatisfiable(t *testing.T) {
	alias := t.TempDir()
	condaChannel(t, alias)
	repo := t.TempDir()
	testtool.WriteFiles(t, repo, map[string]string{
		"environment.yml": "dependencies:\n  - python=3.11\n  - hello >=2\n",
	}, func(string) bool { return false })
	out := filepath.Join(t.TempDir(), "l")
	r := assemble(t, testtool.CacheDir(t), "build", repo, "--conda-channel-alias", "file://"+alias, "--conda-base-env=", "-o", "oci:"+out)
	for _, want := range []string{"environment.yml", "cannot satisfy", "environment.yml:3 asks for hello >=2", "__glibc"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output written")
	}
}
