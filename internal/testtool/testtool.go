// Package testtool holds the checks tests make before they use something
// from the machine (a program, a file, root): outside CI a missing one skips
// the test; in CI (CI set), where hack/test.sh installs everything, it fails
// the test and names what to install. It also holds the file and tar
// helpers tests of several packages share (CopyTree, WriteFiles,
// EachTarEntry...). Only tests import this package.
package testtool

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// packages names where a tool comes from, for the failure message.
var packages = map[string]string{
	"busybox":         "busybox-static",
	"cph":             "conda-package-handling",
	"docker-registry": "docker-registry",
	"dpkg-query":      "dpkg",
	"gcc":             "gcc",
	"git":             "git",
	"go":              "golang (the Go toolchain)",
	"newuidmap":       "uidmap",
	"oras":            "oras (go install oras.land/oras/cmd/oras@v1.2.3)",
	"python3":         "python3",
	"setpriv":         "util-linux",
}

// InCI reports whether the tests run in CI, where every tool is installed
// and a missing one is a failure, not a reason to skip.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Missing skips t, or fails it in CI, saying what is missing and which
// package to install.
func Missing(t testing.TB, what, pkg string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing (CI is set; install %s, as hack/test.sh does)", what, pkg)
	}
	t.Skipf("%s is missing (install %s)", what, pkg)
}

// RequireTool returns the path of the program name: on PATH, or for a
// program installed with go install, in $GOBIN or $GOPATH/bin. name may
// also be an absolute path. A missing program skips t, or fails it in CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if !filepath.IsAbs(name) {
		for _, dir := range goBinDirs() {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	Missing(t, name, Package(name))
	return ""
}

// Package is the package that provides the program name (a Debian package
// unless the name says otherwise).
func Package(name string) string {
	if p, ok := packages[filepath.Base(name)]; ok {
		return p
	}
	return filepath.Base(name)
}

// RequireFile checks that path exists, which package pkg provides.
func RequireFile(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path, pkg)
	}
}

// RequireRoot skips t unless it runs as root, or fails it in CI, where the
// tests run as root (chroot, owners kept in the sandbox, podman's stores).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root (CI is set, and the tests run as root there)")
	}
	t.Skip("needs root")
}

func goBinDirs() []string {
	var dirs []string
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	return dirs
}

// RequireRun runs a program that must succeed for the test to make sense
// (python3 -c "import pydantic"): its failure means package pkg is missing.
func RequireRun(t testing.TB, pkg, name string, args ...string) {
	t.Helper()
	p := RequireTool(t, name)
	if out, err := exec.Command(p, args...).CombinedOutput(); err != nil {
		if InCI() {
			t.Fatalf("%s %v failed (install %s): %v\n%s", name, args, pkg, err, out)
		}
		t.Skipf("%s %v failed (install %s)", name, args, pkg)
	}
}

// ReadFiles returns the contents of every file matching the globs, in
// order (fuzz targets seed their corpora from testdata with it).
func ReadFiles(t testing.TB, globs ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			t.Fatalf("bad glob %q: %v", g, err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}
