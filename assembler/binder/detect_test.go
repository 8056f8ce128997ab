package binder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// mkrepo writes files (path -> content; a path ending in "/" is a directory)
// into a new directory.
func mkrepo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testtool.WriteFiles(t, dir, files, func(p string) bool {
		return strings.HasSuffix(p, "postBuild") || strings.HasSuffix(p, "start") || strings.HasSuffix(p, "verify")
	})
	return dir
}

const pyprojectPackage = "[project]\nname = \"mwt\"\nversion = \"0.1\"\n[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n"

// TestDetectBuildpack ports repo2docker's detection: its test repositories
// (tests/*/) and its unit tests (test_binder_dir, test_buildpack,
// test_env_yml), each as the files that decide the buildpack.
func TestDetectBuildpack(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		want   string // buildpack
		reason string // substring of the reason
		err    string // substring of the error, instead
	}{
		// test_binder_dir.py
		{name: "binder dir", files: map[string]string{"binder/": ""}, want: Python, reason: "default"},
		{name: ".binder dir", files: map[string]string{".binder/requirements.txt": "x\n"}, want: Python, reason: ".binder/requirements.txt"},
		{name: "both binder dirs", files: map[string]string{"binder/": "", ".binder/": ""}, err: "both a binder/ and a .binder/"},
		// test_buildpack.py: the legacy buildpack.
		{name: "legacy binder-base", files: map[string]string{"Dockerfile": "FROM andrewosh/binder-base\n"}, err: "andrewosh/binder-base"},
		{name: "legacy other image", files: map[string]string{"Dockerfile": "FROM andrewosh/some-image\n"}, want: Docker},
		{name: "legacy root Dockerfile with binder dir", files: map[string]string{"Dockerfile": "# old\nFROM andrewosh/binder-base\n", "binder/requirements.txt": ""}, err: "Dockerfile:2"},
		// base/, venv/
		{name: "empty (base/general, venv/default)", files: map[string]string{}, want: Python, reason: "default buildpack"},
		{name: "venv/numpy", files: map[string]string{"requirements.txt": "numpy\n"}, want: Python, reason: "requirements.txt"},
		{name: "venv/apt-packages", files: map[string]string{"apt.txt": "gfortran\n"}, want: Python, reason: "default"},
		{name: "venv/binder-dir", files: map[string]string{"binder/apt.txt": "gfortran\n", "binder/postBuild": "", "binder/requirements.txt": "ipyleaflet\n",
			"apt.txt": "thisdoesnotexist\n", "environment.yml": "dependencies: [scipy]\n", "postBuild": "exit 1\n"}, want: Python, reason: "binder/requirements.txt"},
		{name: "venv/py2", files: map[string]string{"runtime.txt": "python-2.7\n", "requirements.txt": "numpy\n"}, want: Python, reason: "runtime.txt names python"},
		{name: "venv/py3", files: map[string]string{"runtime.txt": "python-3\n"}, want: Python},
		{name: "venv/start", files: map[string]string{"start": "#!/bin/bash\nexec \"$@\"\n"}, want: Python, reason: "default"},
		// conda/
		{name: "conda/py312", files: map[string]string{"environment.yml": "dependencies: [python=3.12]\n"}, want: Conda},
		{name: "conda/yaml", files: map[string]string{"environment.yaml": "dependencies: [python=3.12]\n"}, want: Conda, reason: "environment.yaml"},
		{name: "conda prefers .yml", files: map[string]string{"environment.yaml": "", "environment.yml": ""}, want: Conda, reason: "environment.yml"},
		{name: "conda/py310-requirements-file", files: map[string]string{"environment.yml": "", "requirements.txt": "there\n"}, want: Conda},
		{name: "conda/py35-binder-dir", files: map[string]string{".binder/environment.yml": "", "Dockerfile": "FROM ubuntu\nRUN exit 1\n", "environment.yml": "broken"}, want: Conda, reason: ".binder/environment.yml"},
		{name: "test_env_yml empty env", files: map[string]string{"environment.yml": ""}, want: Conda},
		// dockerfile/
		{name: "dockerfile/simple", files: map[string]string{"Dockerfile": "FROM ubuntu\n"}, want: Docker, reason: "Dockerfile"},
		{name: "dockerfile/binder-dir", files: map[string]string{"Dockerfile": "FROM ubuntu\nRUN exit 1\n", "binder/Dockerfile": "FROM ubuntu\n"}, want: Docker, reason: "binder/Dockerfile"},
		{name: "Dockerfile beats everything", files: map[string]string{"Dockerfile": "FROM x\n", "environment.yml": "", "Project.toml": "", "default.nix": ""}, want: Docker},
		// julia/
		{name: "julia/project", files: map[string]string{"Project.toml": ""}, want: JuliaProjectToml},
		{name: "julia JuliaProject.toml", files: map[string]string{"JuliaProject.toml": ""}, want: JuliaProjectToml},
		{name: "julia/project-binder-dir", files: map[string]string{".binder/Project.toml": "", "Project.toml": "broken"}, want: JuliaProjectToml, reason: ".binder/Project.toml"},
		{name: "julia REQUIRE", files: map[string]string{"REQUIRE": "julia 0.6\n"}, want: JuliaRequire},
		{name: "julia Project.toml beats REQUIRE", files: map[string]string{"REQUIRE": "", "Project.toml": ""}, want: JuliaProjectToml},
		// nix/
		{name: "nix/simple", files: map[string]string{"default.nix": "", "requirements.txt": ""}, want: Nix},
		{name: "nix/binder-dir", files: map[string]string{"binder/default.nix": ""}, want: Nix, reason: "binder/default.nix"},
		{name: "nix/ignore-outside", files: map[string]string{"binder/default.nix": "", "default.nix": "", "start": "exit 1\n"}, want: Nix, reason: "binder/default.nix"},
		{name: "nix beats conda", files: map[string]string{"default.nix": "", "environment.yml": ""}, want: Nix},
		// pipfile/
		{name: "pipfile/pipfile-lock", files: map[string]string{"Pipfile": "", "Pipfile.lock": "{}"}, want: Pipfile, reason: "Pipfile"},
		{name: "pipfile lock only", files: map[string]string{"Pipfile.lock": "{}"}, want: Pipfile, reason: "Pipfile.lock"},
		{name: "pipfile/binder-folder", files: map[string]string{"Pipfile": "", "binder/Pipfile": ""}, want: Pipfile, reason: "binder/Pipfile"},
		{name: "pipfile/environment-yml", files: map[string]string{"Pipfile": "", "environment.yml": ""}, want: Conda},
		{name: "pipfile/requirements-txt", files: map[string]string{"Pipfile": "", "requirements.txt": "x\n"}, want: Pipfile},
		{name: "pipfile/py36", files: map[string]string{"Pipfile": "", "runtime.txt": "python-3.7\n"}, want: Pipfile},
		{name: "pipfile/setup-py-implicit", files: map[string]string{"Pipfile": "", "setup.py": ""}, want: Pipfile},
		{name: "pipfile with a non-python runtime", files: map[string]string{"Pipfile": "", "runtime.txt": "r-4.1\n"}, want: Python, reason: "default buildpack"},
		// pyproject/, setup.py
		{name: "pyproject/pyproject-toml", files: map[string]string{"pyproject.toml": pyprojectPackage}, want: Python, reason: "pyproject.toml at the root"},
		{name: "pyproject without build-system", files: map[string]string{"pyproject.toml": "[project]\nname = \"x\"\n"}, want: Python, reason: "default buildpack"},
		{name: "pyproject tool config only", files: map[string]string{"pyproject.toml": "[tool.black]\nline-length = 100\n"}, want: Python, reason: "default buildpack"},
		{name: "pyproject in a binder repo", files: map[string]string{"pyproject.toml": pyprojectPackage, "binder/": ""}, want: Python, reason: "default buildpack"},
		{name: "pyproject broken", files: map[string]string{"pyproject.toml": "[project\n"}, err: "pyproject.toml:"},
		{name: "setup.py", files: map[string]string{"setup.py": ""}, want: Python, reason: "setup.py at the root"},
		{name: "setup.py in a binder repo", files: map[string]string{"setup.py": "", ".binder/": ""}, want: Python, reason: "default buildpack"},
		{name: "setup.py with runtime", files: map[string]string{"setup.py": "", "runtime.txt": "python-3.11"}, want: Python, reason: "runtime.txt"},
		// r/
		{name: "r/r-rspm-apt-file", files: map[string]string{"runtime.txt": "r-2025-07-01\n", "install.R": "", "apt.txt": ""}, want: R, reason: "runtime.txt"},
		{name: "r/r4.3.2-rspm", files: map[string]string{"runtime.txt": "r-4.3.2-2024-01-10\n", "install.R": ""}, want: R},
		{name: "r/r-rspm-description-file", files: map[string]string{"DESCRIPTION": "Package: binderdescription\n"}, want: R, reason: "DESCRIPTION"},
		{name: "DESCRIPTION in a binder repo", files: map[string]string{"DESCRIPTION": "", "binder/": ""}, want: Python, reason: "default"},
		{name: "install.R alone", files: map[string]string{"install.R": ""}, want: Python, reason: "default"},
		{name: "r without a date", files: map[string]string{"runtime.txt": "r-4.1\n", "install.R": ""}, want: Python, reason: "default buildpack"},
		{name: "root runtime.txt hidden by binder dir", files: map[string]string{"runtime.txt": "r-2020-01-01\n", "binder/requirements.txt": ""}, want: Python, reason: "binder/requirements.txt"},
		{name: "R beats conda", files: map[string]string{"runtime.txt": "r-2025-07-01\n", "environment.yml": ""}, want: R},
		// runtime.txt errors surface through detection, as in repo2docker.
		{name: "invalid runtime", files: map[string]string{"runtime.txt": "python\n"}, err: "runtime.txt: invalid runtime"},
		{name: "invalid runtime date", files: map[string]string{"runtime.txt": "r-4.1-25-06-22\n"}, err: "YYYY-MM-DD"},
		{name: "invalid runtime ignored by julia", files: map[string]string{"runtime.txt": "python\n", "Project.toml": ""}, want: JuliaProjectToml},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := openRepo(mkrepo(t, c.files))
			var d *detection
			if err == nil {
				d, err = r.detect()
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v (%+v), want an error with %q", err, d, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.buildpack != c.want || !strings.Contains(d.reason, c.reason) {
				t.Errorf("got %s (%s), want %s (%q)", d.buildpack, d.reason, c.want, c.reason)
			}
		})
	}
}

// TestParseRuntime is repo2docker's runtime.txt table (test_buildpack.py).
func TestParseRuntime(t *testing.T) {
	valid := map[string]Runtime{
		"abc-001":                {Name: "abc", Version: "001"},
		"abc-001-2025-06-22":     {Name: "abc", Version: "001"},
		"abc-2025-06-22":         {Name: "abc"},
		"a_b/c-0.0.1-2025-06-22": {Name: "a_b/c", Version: "0.0.1"},
		"python-3.11\n":          {Name: "python", Version: "3.11"},
		"  r-4.3.2-2024-01-10  ": {Name: "r", Version: "4.3.2"},
	}
	for in, want := range valid {
		got, err := ParseRuntime(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got.Name != want.Name || got.Version != want.Version {
			t.Errorf("%q: got %+v, want %+v", in, got, want)
		}
		if hasDate := strings.Count(strings.TrimSpace(in), "-") >= 3; hasDate == got.Date.IsZero() {
			t.Errorf("%q: date %v", in, got.Date)
		}
	}
	if got, _ := ParseRuntime("abc-2025-06-22"); got.Date.Format("2006-01-02") != "2025-06-22" {
		t.Errorf("date: %v", got.Date)
	}
	for _, in := range []string{"", "abc", "abc-001-25-06-22", "a--b", "abc-1-2", "python-3.11-2025-13-01", "x-2025-02-30"} {
		if got, err := ParseRuntime(in); err == nil {
			t.Errorf("%q: accepted as %+v", in, got)
		}
	}
}

// TestDetect is the pipeline's cheap check.
func TestDetect(t *testing.T) {
	yes := []map[string]string{
		{"binder/": ""}, {".binder/": ""}, {"requirements.txt": ""}, {"apt.txt": ""}, {"environment.yml": ""},
		{"postBuild": ""}, {"default.nix": ""}, {"Pipfile": ""}, {"setup.py": ""}, {"pyproject.toml": pyprojectPackage},
		{"index.ipynb": "{}"}, {"runtime.txt": "python-3.11"},
	}
	for _, files := range yes {
		if ok, why := Detect(mkrepo(t, files)); !ok || why == "" {
			t.Errorf("%v: not detected", files)
		}
	}
	if !HasConfigDir(mkrepo(t, map[string]string{"Dockerfile": "FROM x", "binder/": ""})) || HasConfigDir(mkrepo(t, map[string]string{"Dockerfile": "FROM x", "apt.txt": ""})) {
		t.Error("HasConfigDir")
	}
	no := []map[string]string{
		{}, {"README.md": "hi"}, {"Dockerfile": "FROM x"}, {"pyproject.toml": "[tool.black]\n"}, {"sub/index.ipynb": "{}"},
	}
	for _, files := range no {
		if ok, why := Detect(mkrepo(t, files)); ok {
			t.Errorf("%v: detected (%s)", files, why)
		}
	}
}

// A symlink that leads out of the repository is never read.
func TestSymlinkEscape(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("numpy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := mkrepo(t, map[string]string{"index.ipynb": "{}"})
	if err := os.Symlink(outside, filepath.Join(dir, "requirements.txt")); err != nil {
		t.Fatal(err)
	}
	r, err := openRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.readFile("requirements.txt"); err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("read through an escaping symlink: %v", err)
	}
	// Inside the repository a symlink is fine.
	if err := os.WriteFile(filepath.Join(dir, "reqs.in"), []byte("numpy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("reqs.in", filepath.Join(dir, "apt.txt")); err != nil {
		t.Fatal(err)
	}
	if b, err := r.readFile("apt.txt"); err != nil || string(b) != "numpy\n" {
		t.Errorf("inside symlink: %q %v", b, err)
	}
}
