// Package git runs read-only git queries with one set of rules: `git -C
// dir`, never a prompt, no GIT_* variables from the caller's environment
// redirecting the query to another repository, output trimmed, and errors
// that carry git's own message.
package git

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Run runs git with args in dir and returns its output with surrounding
// white space trimmed.
func Run(dir string, args ...string) (string, error) {
	out, err := Output(dir, args...)
	return strings.TrimSpace(string(out)), err
}

// Output runs git with args in dir and returns its output as it is (for
// -z listings).
func Output(dir string, args ...string) ([]byte, error) {
	out, err := output(dir, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// output is Output that returns what git printed before it failed too.
func output(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = env(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return out, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
		}
		return out, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// Query is Run for questions whose failure means "no answer" (git missing,
// not a repository, no such config key): it returns "" then.
func Query(dir string, args ...string) string {
	out, err := Run(dir, args...)
	if err != nil {
		return ""
	}
	return out
}

// IsTopLevel reports whether dir is itself the top of a git work tree: a
// directory inside another project's checkout (a testdata repository) has
// no revision or remote of its own.
func IsTopLevel(dir string) bool {
	top := Query(dir, "rev-parse", "--show-toplevel")
	return top != "" && sameDir(top, dir)
}

// Repo is what a build records of the git work tree it builds from.
type Repo struct {
	TopLevel bool   // dir is itself the top of a work tree
	Revision string // HEAD's commit ("" before the first commit)
	Origin   string // remote.origin.url as configured ("" without one)
}

// Describe answers, for dir, the questions every build asks (IsTopLevel,
// HEAD, the origin's URL) with two git processes run at once (see Ask;
// AskIn shares them with the rest of a build). Only a top level has a
// revision or origin (see IsTopLevel).
func Describe(dir string) Repo {
	return Ask(dir).Repo()
}

func sameDir(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// redirecting are variables that make git look at another repository,
// index or object store than the one in dir (set when assemble runs from a
// git hook, for example).
var redirecting = map[string]bool{
	"GIT_DIR": true, "GIT_WORK_TREE": true, "GIT_INDEX_FILE": true, "GIT_OBJECT_DIRECTORY": true,
	"GIT_ALTERNATE_OBJECT_DIRECTORIES": true, "GIT_COMMON_DIR": true, "GIT_NAMESPACE": true,
	"GIT_CEILING_DIRECTORIES": true, "GIT_DISCOVERY_ACROSS_FILESYSTEM": true, "GIT_PREFIX": true,
}

// env is environ without redirecting variables, and with every way git
// could ask for input turned off; queries must not take locks either.
func env(environ []string) []string {
	out := make([]string, 0, len(environ)+4)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case redirecting[k], k == "GIT_TERMINAL_PROMPT", k == "GIT_ASKPASS", k == "SSH_ASKPASS", k == "GIT_OPTIONAL_LOCKS":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "GIT_OPTIONAL_LOCKS=0")
}
