// Package run is the sandbox behind a Dockerfile RUN (and a Binder
// postBuild): it materialises an image's filesystem in a work directory,
// runs a command over it in new Linux namespaces with no daemon, and returns
// what the command changed as layer entries.
//
// The sandbox is this same binary, executed again with a hidden entry point
// (environment variable ASSEMBLE_SANDBOX_CHILD=1). The package's init
// function catches that execution before main runs, so importing the package
// is all cmd/assemble and test binaries need; no TestMain is required.
// MaybeRunChild is exported for a main that wants to say so explicitly.
//
// As real root the sandbox maps its ids 0 up to an unprivileged host range
// in a new user namespace (user "containers" in /etc/subuid and
// /etc/subgid, else a fixed range: see rootIDRange), so owners inside are
// the image's and the command's root is nobody on the host; without root it
// maps root in the namespace to the invoking user, which needs unprivileged
// user namespaces, and other owners are recorded from the base image rather
// than set on disk (a command cannot then run as, or chown to, another
// user). Either way the command gets Docker's default capabilities,
// no_new_privs, a seccomp filter equivalent to Docker's default profile
// (deniedSyscalls), read-only and masked kernel files (maskKernelFiles) and
// only /dev/null-style devices; README's "The RUN sandbox" says it all.
package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/quote"
	"github.com/assemble-build/assemble/layers"
)

// keyVersion changes whenever the sandbox can produce other entries for the
// same inputs (how the diff is taken, what the command sees).
const keyVersion = "assemble-run-v2"

// Spec is one command to run over a filesystem.
type Spec struct {
	// Base is the filesystem the command runs in (a stage's image so far).
	Base v1.Image
	// Command is the argv; a shell-form RUN passes ["/bin/sh", "-c", "..."].
	// A name without a slash is looked up in the PATH of Env.
	Command []string
	// Env is the command's whole environment (KEY=VALUE). PATH and HOME are
	// added when missing, as Docker does.
	Env []string
	// User is "uid[:gid]" or "name[:group]", looked up in the base's
	// /etc/passwd and /etc/group; empty is root.
	User string
	// WorkDir is the absolute directory the command starts in, created when
	// missing; empty is "/".
	WorkDir string
	// Network shares the host's network and gives the command the host's
	// /etc/resolv.conf and a generated /etc/hosts. Without it the command has
	// only a loopback interface of its own.
	Network bool
	// Stdout and Stderr receive the command's output as it runs; nil drops it.
	Stdout, Stderr io.Writer
	// Mounts are RUN --mount's (bind, tmpfs, secret, ssh), set up in the
	// order of their targets, as BuildKit sorts them, so a mount inside
	// another comes after it.
	Mounts []Mount
}

// Option adjusts how Run works.
type Option func(*options)

type options struct {
	tempDir  string
	hostname string
}

// WithTempDir puts the work directory (the whole materialised image) under
// dir instead of the system's temporary directory. It should be on a disk,
// not a tmpfs, for large images.
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// WithHostname sets the host name the command sees (default "assemble").
func WithHostname(name string) Option { return func(o *options) { o.hostname = name } }

// Result is what a command changed. Entries read their content from the work
// directory, so they stay valid until Close.
type Result struct {
	// Entries are the changes: new and changed paths with their parent
	// directories, and whiteouts for deleted ones. Unsorted; the layer writer
	// sorts and normalises them.
	Entries []layers.Entry
	// ExitCode is the command's exit status (always 0 when Run returns no error).
	ExitCode int

	cleanup func() error
	once    sync.Once
	err     error
}

// Close removes the work directory; the entries cannot be read afterwards.
func (r *Result) Close() error {
	r.once.Do(func() {
		if r.cleanup != nil {
			r.err = r.cleanup()
		}
	})
	return r.err
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Command []string
	// Code is the exit status; 128+N when the command was killed by signal N.
	Code int
	// Output holds the last lines the command wrote (stdout and stderr).
	Output string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("RUN %s: exit status %d", command(e.Command), e.Code)
	if e.Output != "" {
		msg += "; last output:\n" + e.Output
	}
	return msg
}

// command renders a command for an error: one line (a script's first).
func command(argv []string) string { return quote.Command(describe(argv)) }

// describe renders a command for messages: a shell form as its script.
func describe(argv []string) string {
	if len(argv) == 3 && (argv[0] == "/bin/sh" || argv[0] == "/bin/bash") && argv[1] == "-c" {
		return argv[2]
	}
	b, _ := json.Marshal(argv)
	return string(b)
}

// Layer is a layers.Spec for a RUN: its key covers the base image's digest
// and everything the command is given, as BuildKit caches RUN by parent and
// command, and its entries are what the command changed.
type Layer struct {
	spec Spec
	opts []Option

	mu     sync.Mutex
	result *Result
	open   int // content entries not yet read
}

var _ layers.Spec = (*Layer)(nil)

// NewLayer returns the layer spec for s. Build it once: its entries read
// from a work directory that is removed when the last file entry has been
// read, or by Close.
func NewLayer(s Spec, opts ...Option) *Layer { return &Layer{spec: s, opts: opts} }

// Key implements layers.Spec.
func (l *Layer) Key(ctx context.Context) (string, error) {
	if l.spec.Base == nil {
		return "", fmt.Errorf("RUN %s: no base image", command(l.spec.Command))
	}
	d, err := l.spec.Base.Digest()
	if err != nil {
		return "", fmt.Errorf("RUN %s: digest of the base image: %w", command(l.spec.Command), err)
	}
	mounts, err := mountKeys(l.spec.Mounts)
	if err != nil {
		return "", fmt.Errorf("RUN %s: %w", command(l.spec.Command), err)
	}
	k, err := json.Marshal(struct {
		Version string
		Base    string
		Command []string
		Env     []string
		User    string
		WorkDir string
		Network bool
		Mounts  []mountKey `json:",omitempty"`
	}{keyVersion, d.String(), l.spec.Command, l.spec.Env, l.spec.User, l.spec.WorkDir, l.spec.Network, mounts})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(k)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Describe implements layers.Spec.
func (l *Layer) Describe() string {
	d := "run " + describe(l.spec.Command)
	if i := strings.IndexByte(d, '\n'); i >= 0 {
		d = d[:i] + " ..."
	}
	if len(d) > 100 {
		d = d[:97] + "..."
	}
	return d
}

// Entries implements layers.Spec: it runs the command (once).
func (l *Layer) Entries(ctx context.Context) ([]layers.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.result != nil {
		return l.result.Entries, nil
	}
	res, err := Run(ctx, l.spec, l.opts...)
	if err != nil {
		return nil, err
	}
	l.result = res
	entries := make([]layers.Entry, len(res.Entries))
	copy(entries, res.Entries)
	for i := range entries {
		open := entries[i].Open
		if entries[i].Type != layers.TypeFile || entries[i].Size == 0 || open == nil {
			continue
		}
		l.open++
		entries[i].Open = func() (io.ReadCloser, error) {
			rc, err := open()
			if err != nil {
				return nil, err
			}
			return &doneCloser{ReadCloser: rc, done: l.fileDone}, nil
		}
	}
	if l.open == 0 {
		if err := res.Close(); err != nil {
			return nil, err
		}
	}
	res.Entries = entries
	return entries, nil
}

// fileDone removes the work directory once every content entry was read.
func (l *Layer) fileDone() {
	l.mu.Lock()
	l.open--
	last := l.open == 0
	l.mu.Unlock()
	if last {
		_ = l.Close()
	}
}

// Close removes the work directory of a run whose entries were not all read.
func (l *Layer) Close() error {
	if l.result == nil {
		return nil
	}
	return l.result.Close()
}

type doneCloser struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (d *doneCloser) Close() error {
	err := d.ReadCloser.Close()
	d.once.Do(d.done)
	return err
}

// tail keeps the last bytes written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// lines returns the last n lines.
func (t *tail) lines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	b = bytes.TrimRight(b, "\n")
	for i, cut := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if cut++; cut == n {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}
