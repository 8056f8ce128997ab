//go:build linux

package run

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// childEnv marks the hidden entry point: the sandbox is this binary again.
const childEnv = "ASSEMBLE_SANDBOX_CHILD"

// Descriptors the child finds its pipes on.
const (
	fdConfig = 3 // childConfig, JSON, parent -> child
	fdResult = 4 // childResult, JSON, child -> parent
	fdLayers = 5 // the base's uncompressed layers, framed, parent -> child
	fdDir    = 6 // the work directory
)

// childConfig is everything the sandbox needs besides the layers.
type childConfig struct {
	Dir      string // work directory; the root is Dir/rootfs
	Layers   int
	Args     []string
	Env      []string
	User     string
	WorkDir  string
	Network  bool
	Hostname string
	// Rootless: only root is mapped in the user namespace, so other owners
	// cannot be set on disk; the sandbox records them instead.
	Rootless bool
	// MappedIDs is how many ids (0 up) the user namespace maps; 0 for all
	// (no user namespace).
	MappedIDs uint32
	// DirTree: descriptor fdDir is a detached copy of the work directory's
	// mount, for a sandbox whose root may not search the directories above
	// it; the sandbox attaches it (attachWorkDir).
	DirTree bool
	// Mounts are the RUN's --mounts (mount_linux.go).
	Mounts []childMount `json:",omitempty"`
}

type childResult struct {
	Error    string      `json:",omitempty"`
	ExitCode int         `json:",omitempty"`
	Entries  []wireEntry `json:",omitempty"`
}

type wireEntry struct {
	Path   string
	Type   layers.EntryType
	Mode   fs.FileMode       `json:",omitempty"`
	UID    int               `json:",omitempty"`
	GID    int               `json:",omitempty"`
	Size   int64             `json:",omitempty"`
	Link   string            `json:",omitempty"`
	Xattrs map[string]string `json:",omitempty"`
}

// Run materialises s.Base in a work directory, runs s.Command there in a
// sandbox and returns what changed. A command that exits non-zero gives an
// *ExitError with its status and last lines of output. The caller must Close
// the result.
func Run(ctx context.Context, s Spec, opts ...Option) (*Result, error) {
	o := options{tempDir: os.TempDir(), hostname: "assemble"}
	for _, opt := range opts {
		opt(&o)
	}
	if s.Base == nil {
		return nil, fmt.Errorf("RUN %s: no base image", command(s.Command))
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return nil, errors.New("RUN: empty command")
	}
	if s.WorkDir != "" && !filepath.IsAbs(s.WorkDir) {
		return nil, fmt.Errorf("RUN %s: working directory %q is not absolute", command(s.Command), s.WorkDir)
	}
	imgLayers, err := s.Base.Layers()
	if err != nil {
		return nil, fmt.Errorf("RUN %s: reading the base's layers: %w", command(s.Command), err)
	}
	dir, err := os.MkdirTemp(o.tempDir, "assemble-run-")
	if err != nil {
		return nil, fmt.Errorf("RUN: creating a work directory: %w", err)
	}
	res, err := runIn(ctx, dir, s, o, imgLayers, os.Geteuid() != 0)
	if err != nil {
		if cerr := removeTree(dir); cerr != nil {
			logctx.From(ctx).Warn("removing RUN work directory", "dir", dir, "err", cerr)
		}
		return nil, err
	}
	return res, nil
}

func runIn(ctx context.Context, dir string, s Spec, o options, imgLayers []v1.Layer, rootless bool) (*Result, error) {
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return nil, fmt.Errorf("RUN: %w", err)
	}
	if s.Network {
		if err := writeNetworkFiles(dir, o.hostname); err != nil {
			return nil, err
		}
	}
	cfg := childConfig{
		Dir: dir, Layers: len(imgLayers), Args: s.Command, Env: s.Env, User: s.User,
		WorkDir: s.WorkDir, Network: s.Network, Hostname: o.hostname, Rootless: rootless,
	}
	var ids idRange
	if !rootless {
		var err error
		if ids, err = rootIDRange(); err != nil {
			return nil, err
		}
	}
	mountLayers, stopMounts, err := prepareMounts(ctx, dir, s, &cfg)
	if err != nil {
		return nil, fmt.Errorf("RUN %s: %w", command(s.Command), err)
	}
	defer stopMounts()
	imgLayers = append(imgLayers[:len(imgLayers):len(imgLayers)], mountLayers...)
	if !rootless {
		// The sandbox's root is ids.UID on the host: it must own what it
		// writes into, and the ssh sockets it hands on.
		if err := ownWorkDir(dir, ids); err != nil {
			return nil, err
		}
	}
	out := &tail{max: 8 << 10}
	// One lock over both streams: callers often pass one writer for both.
	var mu sync.Mutex
	stdout, stderr := &lockedWriter{mu: &mu, w: out}, &lockedWriter{mu: &mu, w: out}
	if s.Stdout != nil {
		stdout.w = io.MultiWriter(s.Stdout, out)
	}
	if s.Stderr != nil {
		stderr.w = io.MultiWriter(s.Stderr, out)
	}

	result, sandboxErr, err := startSandbox(ctx, cfg, imgLayers, stdout, stderr, ids)
	if err != nil {
		return nil, err
	}
	if result.Error != "" {
		return nil, fmt.Errorf("RUN %s: %s", command(s.Command), result.Error)
	}
	if result.ExitCode != 0 {
		return nil, &ExitError{Command: s.Command, Code: result.ExitCode, Output: out.lines(20)}
	}
	if sandboxErr != nil {
		return nil, fmt.Errorf("RUN %s: %w", command(s.Command), sandboxErr)
	}
	root, err := os.Open(rootfs)
	if err != nil {
		return nil, fmt.Errorf("RUN: %w", err)
	}
	entries := make([]layers.Entry, 0, len(result.Entries))
	for _, w := range result.Entries {
		// The report crossed from the sandbox: hold it to the image root.
		if _, err := layers.CleanPath(w.Path); err != nil || w.Path == "" {
			root.Close()
			return nil, fmt.Errorf("RUN %s: the sandbox reported a bad path %q", command(s.Command), w.Path)
		}
		e := layers.Entry{Path: w.Path, Type: w.Type, Mode: w.Mode, UID: w.UID, GID: w.GID, Size: w.Size, Link: w.Link, Xattrs: w.Xattrs}
		if e.Type == layers.TypeFile {
			p := w.Path
			e.Open = func() (io.ReadCloser, error) { return openBeneath(root, p) }
		}
		entries = append(entries, e)
	}
	return &Result{Entries: entries, cleanup: func() error {
		root.Close()
		return removeTree(dir)
	}}, nil
}

// startSandbox runs the child and returns its report. sandboxErr is a
// failure of the sandbox process itself once it reported. ids is the host
// range of a root build (zero when rootless).
func startSandbox(ctx context.Context, cfg childConfig, imgLayers []v1.Layer, stdout, stderr io.Writer, ids idRange) (res childResult, sandboxErr, err error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return res, nil, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	resR, resW, err := os.Pipe()
	if err != nil {
		return res, nil, err
	}
	defer resR.Close()
	defer resW.Close()
	layR, layW, err := os.Pipe()
	if err != nil {
		return res, nil, err
	}
	defer layR.Close()
	defer layW.Close()
	dirF, err := workDirFile(&cfg)
	if err != nil {
		return res, nil, err
	}
	defer dirF.Close()

	// Pdeathsig fires when the thread that started the child exits, so the
	// goroutine keeps its thread until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	files := []*os.File{cfgR, resW, layR, dirF}
	cmd, err := startChild(ctx, &cfg, files, stdout, stderr, ids)
	if err != nil {
		return res, nil, err
	}
	cfgR.Close()
	resW.Close()
	layR.Close()

	go func() {
		_ = json.NewEncoder(cfgW).Encode(cfg)
		cfgW.Close()
	}()
	streamErr := make(chan error, 1)
	go func() {
		err := streamLayers(layW, imgLayers)
		layW.Close()
		streamErr <- err
	}()
	data, readErr := io.ReadAll(resR)
	waitErr := cmd.Wait()
	sErr := <-streamErr
	if ctx.Err() != nil {
		return res, nil, ctx.Err()
	}
	// A broken pipe means the sandbox stopped reading: its report says why.
	if sErr != nil && !errors.Is(sErr, syscall.EPIPE) {
		return res, nil, fmt.Errorf("materialising the base: %w", sErr)
	}
	if readErr != nil || len(data) == 0 {
		return res, nil, fmt.Errorf("the RUN sandbox failed without a report: %v", waitErr)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, nil, fmt.Errorf("reading the RUN sandbox's report: %w", err)
	}
	return res, waitErr, nil
}

// startChild starts the sandbox process in new namespaces, a user
// namespace included where the kernel allows one. It sets cfg.MappedIDs
// to what the namespace maps.
func startChild(ctx context.Context, cfg *childConfig, files []*os.File, stdout, stderr io.Writer, ids idRange) (*exec.Cmd, error) {
	newCmd := func(userns bool) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/proc/self/exe")
		cmd.Args = []string{"assemble-sandbox"}
		cmd.Env = []string{childEnv + "=1"}
		cmd.Dir = "/"
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.ExtraFiles = files
		flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC)
		if !cfg.Network {
			flags |= syscall.CLONE_NEWNET
		}
		attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		switch {
		case userns && cfg.Rootless:
			flags |= syscall.CLONE_NEWUSER
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		case userns:
			// Container root is an unprivileged host id: what the command
			// reaches on the host, it reaches as nobody in particular.
			// Owners inside are the image's (the sandbox sees ids 0 up).
			flags |= syscall.CLONE_NEWUSER
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(ids.UID), Size: int(ids.Size)}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(ids.GID), Size: int(ids.Size)}}
			attr.GidMappingsEnableSetgroups = true
			// The process is still host root until it takes the
			// namespace's root as its own.
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		}
		attr.Cloneflags = flags
		cmd.SysProcAttr = attr
		return cmd
	}
	cfg.MappedIDs = 1
	if !cfg.Rootless {
		cfg.MappedIDs = ids.Size
	}
	cmd := newCmd(true)
	err := cmd.Start()
	switch {
	case err == nil:
		return cmd, nil
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("starting the RUN sandbox: %w (the sandbox runs this program again as an unprivileged id: it must be executable by all, chmod a+rx)", err)
	case cfg.Rootless:
		return nil, fmt.Errorf("RUN needs unprivileged user namespaces when not run as root (check sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone, or AppArmor's restriction on them): %w", err)
	}
	// Real root in a place that forbids user namespaces (a container
	// without them): namespaces of every other kind, the capability limits,
	// the seccomp filter and the masks still hold, but root is host root.
	logctx.From(ctx).Warn("RUN sandbox: no user namespace; the command runs as the host's root with Docker's default capabilities", "err", err)
	cfg.MappedIDs = 0
	cmd = newCmd(false)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the RUN sandbox: %w", err)
	}
	return cmd, nil
}

// streamLayers sends each layer's tar as length-prefixed chunks ending with
// an empty chunk, so the child knows where one layer stops.
func streamLayers(w io.Writer, imgLayers []v1.Layer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, 256<<10)
	var hdr [binary.MaxVarintLen64]byte
	for i, l := range imgLayers {
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		for {
			n, rerr := rc.Read(buf)
			if n > 0 {
				k := binary.PutUvarint(hdr[:], uint64(n))
				if _, err := bw.Write(hdr[:k]); err != nil {
					rc.Close()
					return fmt.Errorf("sending layer %d: %w", i, err)
				}
				if _, err := bw.Write(buf[:n]); err != nil {
					rc.Close()
					return fmt.Errorf("sending layer %d: %w", i, err)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rc.Close()
				d, _ := l.Digest()
				return fmt.Errorf("reading layer %d (%s): %w", i, d, rerr)
			}
		}
		rc.Close()
		if err := bw.WriteByte(0); err != nil {
			return fmt.Errorf("sending layer %d: %w", i, err)
		}
	}
	return bw.Flush()
}

// writeNetworkFiles prepares the resolv.conf and hosts the command sees when
// it has the network: copies, so that nothing it writes reaches the host.
func writeNetworkFiles(dir, hostname string) error {
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading /etc/resolv.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), resolv, 0o644); err != nil {
		return err
	}
	hosts := "127.0.0.1\tlocalhost " + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	return os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644)
}

// openBeneath opens a regular file below root without following any
// symbolic link, so a tree left by the command cannot point the reader
// elsewhere.
func openBeneath(root *os.File, p string) (io.ReadCloser, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	}
	for {
		fd, err := unix.Openat2(int(root.Fd()), p, how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), filepath.Join(root.Name(), p)), nil
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOSYS):
			// Before Linux 5.6: the sandbox reported every parent as a real
			// directory and nothing runs in the tree any more.
			return os.OpenFile(filepath.Join(root.Name(), p), os.O_RDONLY|unix.O_NOFOLLOW, 0)
		default:
			return nil, fmt.Errorf("opening %s in the RUN result: %w", p, err)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// removeTree removes dir even where the command left directories without
// write permission (which stops a rootless remover).
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing RUN work directory: %w", err)
	}
	return nil
}
