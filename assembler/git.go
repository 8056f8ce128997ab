package assembler

import (
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/assemble-build/assemble/oci"
)

// repoAnnotations are the standard annotations every image gets: created
// time, and the git remote and revision when root is a git checkout.
func repoAnnotations(root string, created time.Time) map[string]string {
	a := map[string]string{oci.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	// Only a repository that is itself a git work tree: a directory inside
	// another project's checkout (a testdata repository) has no revision of its own.
	top := git(root, "rev-parse", "--show-toplevel")
	if top == "" || !sameDir(top, root) {
		return a
	}
	if rev := git(root, "rev-parse", "HEAD"); rev != "" {
		a[oci.AnnotationRevision] = rev
		if src := git(root, "config", "--get", "remote.origin.url"); src != "" {
			a[oci.AnnotationSource] = redactURL(src)
		}
	}
	return a
}

func sameDir(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// git runs a read-only git command in dir; "" when git or the repository is missing.
func git(dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// redactURL drops credentials from a remote URL: they must never reach an image.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
