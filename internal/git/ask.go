package git

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Facts are a build's answers from git about one directory: the work tree
// it lies in (to key files from git's index), HEAD and the origin's URL
// (for the image's annotations), and the settings under which git may
// convert content. Two git processes, started at once by Ask, answer them
// all; each method waits for the one it needs. A no-op rebuild of a large
// tree asked four processes, mostly one after another, before.
type Facts struct {
	dir      string // absolute, symlinks resolved: where git runs
	rev, cfg answer
}

// answer is one git process's output, once it has exited.
type answer struct {
	done chan struct{}
	out  []byte
	err  error
}

func (a *answer) start(dir string, args ...string) {
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		a.out, a.err = output(dir, args...)
	}()
}

// set gives the answer without a process.
func (a *answer) set(err error) {
	a.done = make(chan struct{})
	a.err = err
	close(a.done)
}

func (a *answer) wait() ([]byte, error) {
	<-a.done
	return a.out, a.err
}

// revParseArgs ask for the work tree and HEAD at once. --verify --quiet:
// before the first commit HEAD resolves to nothing and git exits 1 with
// the four lines before it printed, and no message.
var revParseArgs = []string{"rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir", "--show-object-format", "--verify", "--quiet", "HEAD"}

// configArgs ask for every setting a build reads, NUL-terminated: "key\nvalue"
// (or "key" alone for a key with no value). Git exits 1 when none is set.
var configArgs = []string{"config", "-z", "--get-regexp", `^(remote\.origin\.url|core\.autocrlf|core\.attributesfile)$`}

// Ask starts the queries about dir; Facts' methods wait for their answers.
// Where git could find no repository it is not asked: the answers are
// then "not in a work tree" and no settings, as its would be.
func Ask(dir string) *Facts {
	f := &Facts{dir: resolved(dir)}
	if !mayBeInRepository(f.dir) {
		f.rev.set(fmt.Errorf("%s is not in a git repository (no .git in it or above it)", f.dir))
		f.cfg.set(f.rev.err)
		return f
	}
	f.rev.start(f.dir, revParseArgs...)
	f.cfg.start(f.dir, configArgs...)
	return f
}

// mayBeInRepository reports whether git's discovery could find a
// repository from dir (an absolute path). Git looks in dir and each
// directory above it for a .git (directory, file or link), or for a
// directory that is itself a git directory, which has a HEAD; git's
// environment, which could point it elsewhere, is cleared (see env).
// Where there is neither, asking is two processes for "not a git
// repository": a build outside git (a CI job over an unpacked source
// archive) starts none.
func mayBeInRepository(dir string) bool {
	if !filepath.IsAbs(dir) {
		return true
	}
	for d := dir; ; {
		for _, name := range [...]string{".git", "HEAD"} {
			if _, err := os.Lstat(filepath.Join(d, name)); !errors.Is(err, fs.ErrNotExist) {
				return true // there, or unknown: git decides
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return false
		}
		d = parent
	}
}

type memoKey struct{}

type memo struct {
	mu sync.Mutex
	m  map[string]*Facts
}

// WithMemo returns a context under which AskIn asks git about each
// directory once. It is for one build: HEAD, the index and the settings
// may change between builds in one process.
func WithMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{m: map[string]*Facts{}})
}

// AskIn is Ask, answered once per directory (however it is spelled) under
// a context from WithMemo: the annotations and every files layer of a
// build over one repository share one pair of git processes.
func AskIn(ctx context.Context, dir string) *Facts {
	m, ok := ctx.Value(memoKey{}).(*memo)
	if !ok {
		return Ask(dir)
	}
	key := resolved(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.m[key]
	if !ok {
		f = Ask(key)
		m.m[key] = f
	}
	return f
}

// resolved is dir made absolute, symlinks resolved where that works.
func resolved(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}

// WorkTree is the work tree the directory lies in; an error when it is
// in none, git is missing, or the repository is bare.
func (f *Facts) WorkTree() (WorkTree, error) {
	w, _, err := f.revParse()
	return w, err
}

// Repo is Describe's answer for the directory.
func (f *Facts) Repo() Repo {
	w, rev, err := f.revParse()
	if err != nil || !sameDir(w.Top, f.dir) {
		return Repo{}
	}
	return Repo{TopLevel: true, Revision: rev, Origin: f.settings().origin}
}

// ConvertSettings are the content-conversion settings of w, this
// directory's work tree, from its one config query.
func (f *Facts) ConvertSettings(w WorkTree) ConvertSettings {
	return f.settings().convert(w)
}

func (f *Facts) revParse() (WorkTree, string, error) {
	out, err := f.rev.wait()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && len(lines) == 4) {
		return WorkTree{}, "", err
	}
	if len(lines) != 4 && len(lines) != 5 {
		return WorkTree{}, "", fmt.Errorf("git rev-parse in %s: unexpected output %q", f.dir, out)
	}
	rev := ""
	if len(lines) == 5 {
		rev = lines[4]
	}
	return workTreeOf(f.dir, lines[:4]), rev, nil
}

func (f *Facts) settings() settings {
	out, err := f.cfg.wait()
	return parseSettings(out, err)
}

// settings are the configuration values a build reads (configArgs').
type settings struct {
	origin string
	// autocrlf are every value core.autocrlf is given.
	autocrlf []string
	// attributesFile is core.attributesfile as written (the last value).
	attributesFile string
}

// parseSettings reads configArgs' output. Failing to read the
// configuration (or finding no key) leaves every setting unset, as a
// query that fails has always meant here.
func parseSettings(out []byte, err error) settings {
	var s settings
	if err != nil {
		return s
	}
	for _, rec := range strings.Split(string(out), "\x00") {
		k, v, _ := strings.Cut(rec, "\n")
		switch k { // as git prints them: section and variable names lower case
		case "remote.origin.url":
			s.origin = v // git config --get's answer: the last value
		case "core.autocrlf":
			s.autocrlf = append(s.autocrlf, v)
		case "core.attributesfile":
			s.attributesFile = v
		}
	}
	return s
}
