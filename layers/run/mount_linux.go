//go:build linux

package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/assemble-build/assemble/internal/logctx"
)

// maxSocketPath is the longest path a unix socket can be bound to
// (sun_path, less its terminating NUL).
const maxSocketPath = 107

// childMount is a Mount as the sandbox child receives it.
type childMount struct {
	Type     MountType
	Target   string `json:",omitempty"`
	ReadOnly bool   `json:",omitempty"`
	Size     int64  `json:",omitempty"`
	// Data is a secret's value: it crosses the config pipe only.
	Data []byte `json:",omitempty"`
	// Socket is the ssh mount's forwarding socket, by its name in the work
	// directory (which the sandbox may see at another path).
	Socket string `json:",omitempty"`
	Mode   uint32 `json:",omitempty"`
	UID    int    `json:",omitempty"`
	GID    int    `json:",omitempty"`
}

// prepareMounts turns s.Mounts into the child's (cfg.Mounts): it returns
// the layers of the bind sources, streamed after the base's, adds secret
// variables to the command's environment (never to s.Env, which the key
// reads), and starts a forwarding socket per ssh mount; stop ends them.
func prepareMounts(ctx context.Context, dir string, s Spec, cfg *childConfig) (extra []v1.Layer, stop func(), err error) {
	var fwds []*sshForward
	stop = func() {
		for _, f := range fwds {
			f.close()
		}
	}
	env := append([]string(nil), cfg.Env...)
	for i, m := range s.Mounts {
		if err := m.check(); err != nil {
			stop()
			return nil, nil, err
		}
		cm := childMount{Type: m.Type, Target: m.Target, Size: m.Size, Mode: uint32(m.Mode.Perm()), UID: m.UID, GID: m.GID}
		switch m.Type {
		case MountBind:
			extra = append(extra, m.Source)
			cm.ReadOnly = !m.ReadWrite
		case MountSecret:
			cm.Data = m.Secret
			if m.Env != "" {
				env = append(env, m.Env+"="+string(m.Secret))
			}
		case MountSSH:
			f, err := forwardSSH(ctx, filepath.Join(dir, "ssh-"+strconv.Itoa(i)), m.Socket, m.Mode.Perm())
			if err != nil {
				stop()
				return nil, nil, fmt.Errorf("ssh mount at %s: %w", m.Target, err)
			}
			fwds = append(fwds, f)
			cm.Socket = filepath.Base(f.path)
		}
		cfg.Mounts = append(cfg.Mounts, cm)
	}
	cfg.Env = env
	return extra, stop, nil
}

// sshForward is a socket in the work directory whose connections are
// passed to an SSH agent on the host: the sandbox sees a socket of its own
// (mode and owner as the mount asks), and the agent's own path, directory
// and owner stay out of its reach.
type sshForward struct {
	path  string
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

func forwardSSH(ctx context.Context, p, agent string, mode fs.FileMode) (*sshForward, error) {
	if len(p) > maxSocketPath {
		return nil, fmt.Errorf("the work directory's path is too long for a socket (%s): give a shorter temporary directory", p)
	}
	if fi, err := os.Stat(agent); err != nil {
		return nil, fmt.Errorf("the SSH agent socket: %w", err)
	} else if fi.Mode().Type() != fs.ModeSocket {
		return nil, fmt.Errorf("the SSH agent socket %s is not a socket", agent)
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(p, mode); err != nil {
		ln.Close()
		return nil, err
	}
	f := &sshForward{path: p, ln: ln, conns: map[net.Conn]struct{}{}}
	log := logctx.From(ctx)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c, agent, log.Debug)
		}
	}()
	return f, nil
}

// serve passes one connection to the agent and back.
func (f *sshForward) serve(c net.Conn, agent string, debug func(string, ...any)) {
	a, err := net.Dial("unix", agent)
	if err != nil {
		debug("RUN --mount=type=ssh: connecting to the agent", "socket", agent, "err", err)
		c.Close()
		return
	}
	if !f.track(c, a) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	go pipe(a, c)
	go pipe(c, a)
	wg.Wait()
	f.untrack(c, a)
}

func (f *sshForward) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *sshForward) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(f.conns, c)
	}
}

// close stops accepting and cuts the connections the command left open.
func (f *sshForward) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	for c := range f.conns {
		c.Close()
	}
}

// setupRunMounts is the child's side, before pivot_root: it materialises
// the bind sources from the layer stream (after the base's layers) outside
// the root, then mounts every --mount below rootfs in target order, and
// makes the read-only ones so last (a later mount may need a mount point
// inside an earlier one). It returns the mount points it created, which
// are removed again before the diff.
func setupRunMounts(cfg childConfig, rootfs string, stream *bufio.Reader) ([]string, error) {
	if len(cfg.Mounts) == 0 {
		return nil, nil
	}
	srcs := map[int]string{}
	for i, m := range cfg.Mounts {
		if m.Type != MountBind {
			continue
		}
		d := filepath.Join(cfg.Dir, "mount-"+strconv.Itoa(i))
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		fr := &frameReader{r: stream}
		if err := newMaterialiser(d, cfg.Rootless).applyLayer(fr); err != nil {
			return nil, fmt.Errorf("materialising the source of the bind mount at %s: %w", m.Target, err)
		}
		if _, err := io.Copy(io.Discard, fr); err != nil {
			return nil, err
		}
		srcs[i] = filepath.Join(d, BindSource)
	}
	order := make([]int, 0, len(cfg.Mounts))
	for i, m := range cfg.Mounts {
		if m.Target != "" {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return cfg.Mounts[order[a]].Target < cfg.Mounts[order[b]].Target })
	var created, readonly []string
	add := func(p string) { created = append(created, p) }
	for _, i := range order {
		m := cfg.Mounts[i]
		p, err := mountOne(cfg, i, m, rootfs, srcs[i], add)
		if err != nil {
			return created, fmt.Errorf("RUN --mount=type=%s,target=%s: %w", m.Type, m.Target, err)
		}
		if m.ReadOnly || m.Type == MountSecret {
			readonly = append(readonly, p)
		}
	}
	for _, p := range readonly {
		if err := remountReadOnly(p); err != nil {
			return created, fmt.Errorf("making %s read-only: %w", strings.TrimPrefix(p, rootfs), err)
		}
	}
	return created, nil
}

// mountOne mounts m at its target below rootfs and returns the mount point.
func mountOne(cfg childConfig, i int, m childMount, rootfs, src string, add func(string)) (string, error) {
	switch m.Type {
	case MountBind:
		fi, err := os.Lstat(src)
		if err != nil {
			return "", fmt.Errorf("its source: %w", err)
		}
		p, err := mountPoint(rootfs, m.Target, fi.IsDir(), add)
		if err != nil {
			return "", err
		}
		return p, unix.Mount(src, p, "", unix.MS_BIND|unix.MS_REC, "")
	case MountTmpfs:
		p, err := mountPoint(rootfs, m.Target, true, add)
		if err != nil {
			return "", err
		}
		opts := ""
		if m.Size > 0 {
			opts = "size=" + strconv.FormatInt(m.Size, 10)
		}
		return p, unix.Mount("tmpfs", p, "tmpfs", unix.MS_NOSUID, opts)
	case MountSecret:
		f, err := writeSecret(cfg.Dir, i, m)
		if err != nil {
			return "", err
		}
		p, err := mountPoint(rootfs, m.Target, false, add)
		if err != nil {
			return "", err
		}
		return p, unix.Mount(f, p, "", unix.MS_BIND, "")
	case MountSSH:
		p, err := mountPoint(rootfs, m.Target, false, add)
		if err != nil {
			return "", err
		}
		if err := unix.Mount(filepath.Join(cfg.Dir, m.Socket), p, "", unix.MS_BIND, ""); err != nil {
			return "", err
		}
		return p, os.Lchown(p, m.UID, m.GID)
	}
	return "", fmt.Errorf("mount type %q is not supported", m.Type)
}

// writeSecret puts a secret in a file on a tmpfs of the sandbox's own mount
// namespace: never on disk, gone with the namespace.
func writeSecret(dir string, i int, m childMount) (string, error) {
	sd := filepath.Join(dir, "secrets")
	if _, err := os.Stat(sd); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(sd, 0o700); err != nil {
			return "", err
		}
		if err := unix.Mount("tmpfs", sd, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
			return "", fmt.Errorf("mounting a tmpfs for secrets: %w", err)
		}
	}
	f := filepath.Join(sd, strconv.Itoa(i))
	if err := os.WriteFile(f, m.Data, 0o600); err != nil {
		return "", err
	}
	if err := os.Chown(f, m.UID, m.GID); err != nil {
		return "", err
	}
	return f, os.Chmod(f, fs.FileMode(m.Mode))
}

// mountPoint resolves target below rootfs (links followed inside it) and
// creates it, a directory or an empty file, when the image lacks it.
func mountPoint(rootfs, target string, dir bool, add func(string)) (string, error) {
	rel := strings.TrimPrefix(path.Clean(target), "/")
	p, err := resolveIn(rootfs, rel, true, add)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if dir {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			return "", err
		}
		add(p)
	case err != nil:
		return "", err
	case fi.IsDir() && !dir:
		return "", errors.New("the image has a directory there and the mount is a file")
	case !fi.IsDir() && dir:
		return "", errors.New("the image has a file there and the mount is a directory")
	}
	return p, nil
}

// remountReadOnly makes a bind mount read-only, keeping the flags the
// mount it came from has (a user namespace may not clear them).
func remountReadOnly(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for st_, ms := range map[int64]uintptr{
		unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV, unix.ST_NOEXEC: unix.MS_NOEXEC,
		unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME, unix.ST_RELATIME: unix.MS_RELATIME,
	} {
		if st.Flags&st_ != 0 {
			flags |= ms
		}
	}
	return unix.Mount("", p, "", flags, "")
}
