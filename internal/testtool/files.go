package testtool

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CopyOption changes how CopyTree copies.
type CopyOption func(*copyOptions)

type copyOptions struct {
	gitModes bool
}

// GitModes makes CopyTree give the copies the modes git keeps (0644, or
// 0755 with any execute bit; directories 0755), so the checkout's umask
// does not change the expectations.
func GitModes() CopyOption {
	return func(o *copyOptions) { o.gitModes = true }
}

// CopyTree copies the tree src to dst, keeping symlinks as links. Without
// options, modes are the source's, as the umask leaves them.
func CopyTree(t testing.TB, src, dst string, opts ...CopyOption) {
	t.Helper()
	var o copyOptions
	for _, opt := range opts {
		opt(&o)
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return o.mkdir(target)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return o.writeFile(target, b, info.Mode())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (o copyOptions) mkdir(dir string) error {
	if !o.gitModes {
		return os.MkdirAll(dir, 0o777)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

func (o copyOptions) writeFile(path string, b []byte, src fs.FileMode) error {
	if !o.gitModes {
		return os.WriteFile(path, b, src.Perm()|0o666)
	}
	mode := fs.FileMode(0o644)
	if src&0o111 != 0 {
		mode = 0o755
	}
	return writeFileMode(path, b, mode)
}

// writeFileMode writes path with exactly mode, whatever the umask.
func writeFileMode(path string, b []byte, mode fs.FileMode) error {
	if err := os.WriteFile(path, b, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// WriteFiles writes files (path -> content) under dir: a path ending in "/"
// is a directory, content "->TARGET" a symlink to TARGET, and any other a
// file with mode 0755 where executable(path) says so, 0644 otherwise
// (whatever the umask).
func WriteFiles(t testing.TB, dir string, files map[string]string, executable func(path string) bool) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := fs.FileMode(0o644)
		if executable(p) {
			mode = 0o755
		}
		if err := writeFileMode(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// WalkTree calls fn for every path below root (root itself left out), with
// its path relative to root and its Lstat information.
func WalkTree(t testing.TB, root string, fn func(rel, path string, fi fs.FileInfo) error) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, p, fi)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CacheDir is the download cache the network tests share across runs
// (hack/test.sh sets ASSEMBLE_TEST_CACHE), so each package is fetched once.
func CacheDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("ASSEMBLE_TEST_CACHE")
	if d == "" {
		d = "/var/tmp/assemble-test-cache"
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
