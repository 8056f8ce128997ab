//go:build linux

package run

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// defaultPath is Docker's PATH for a command whose environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func init() { MaybeRunChild() }

// MaybeRunChild turns this process into the RUN sandbox when it was started
// as one, and never returns then; otherwise it does nothing. The package's
// init already calls it, so a program (or test binary) that imports this
// package needs nothing more; calling it first thing in main is harmless.
func MaybeRunChild() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(childMain())
}

func childMain() int {
	// The command inherits only 0, 1 and 2: not the sandbox's pipes, and
	// not whatever descriptors the invoking process had open without
	// close-on-exec (an inherited directory would lead out of the root).
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		fds, _ := readDirNames("/proc/self/fd")
		for _, name := range fds {
			if fd, err := strconv.Atoi(name); err == nil && fd > 2 {
				syscall.CloseOnExec(fd)
			}
		}
	}
	unix.Umask(0o022) // what the command and created directories get, as in Docker
	resF := os.NewFile(fdResult, "result")
	var cfg childConfig
	res := childResult{}
	if err := json.NewDecoder(os.NewFile(fdConfig, "config")).Decode(&cfg); err != nil {
		res.Error = "reading the sandbox configuration: " + err.Error()
	} else {
		res = sandbox(cfg, os.NewFile(fdLayers, "layers"))
	}
	if err := json.NewEncoder(resF).Encode(res); err != nil {
		return 1
	}
	return 0
}

// sandbox runs as root of new namespaces (pid 1 of its pid namespace):
// materialise, snapshot, mount, pivot, run, clean up, diff.
func sandbox(cfg childConfig, layerStream io.Reader) childResult {
	fail := func(format string, args ...any) childResult {
		return childResult{Error: fmt.Sprintf(format, args...)}
	}
	// Nothing mounted here may reach the host's mount table.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("making mounts private: %v", err)
	}
	if cfg.DirTree {
		dir, err := attachWorkDir()
		if err != nil {
			return fail("%v", err)
		}
		cfg.Dir = dir
	}
	rootfs := filepath.Join(cfg.Dir, "rootfs")
	m := newMaterialiser(rootfs, cfg.Rootless)
	br := bufio.NewReaderSize(layerStream, 1<<20)
	for i := 0; i < cfg.Layers; i++ {
		fr := &frameReader{r: br}
		if err := m.applyLayer(fr); err != nil {
			return fail("materialising base layer %d: %v", i, err)
		}
		if _, err := io.Copy(io.Discard, fr); err != nil {
			return fail("materialising base layer %d: %v", i, err)
		}
	}
	before, err := scanTree(rootfs)
	if err != nil {
		return fail("listing the base filesystem: %v", err)
	}
	created, err := setupMounts(cfg, rootfs)
	if err != nil {
		return fail("setting up the sandbox: %v", err)
	}
	more, err := setupRunMounts(cfg, rootfs, br)
	created = append(created, more...)
	if err != nil {
		return fail("%v", err)
	}
	if err := pivotRoot(rootfs); err != nil {
		return fail("entering the sandbox root: %v", err)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fail("setting the host name: %v", err)
	}
	if !cfg.Network {
		if err := loopbackUp(); err != nil {
			return fail("bringing up the loopback interface: %v", err)
		}
	}
	code, err := runCommand(cfg)
	killAll()
	if err != nil {
		return fail("%v", err)
	}
	// Take the tree back to what the command left on disk: no mounts, no
	// mount points the sandbox made.
	unmountAll()
	for _, p := range slices.Backward(created) {
		_ = os.Remove(strings.TrimPrefix(p, rootfs))
	}
	if code != 0 {
		return childResult{ExitCode: code}
	}
	after, err := scanTree("/")
	if err != nil {
		return fail("listing the changed filesystem: %v", err)
	}
	entries, err := diffTrees("/", before, after, m.base)
	if err != nil {
		return fail("comparing the filesystem: %v", err)
	}
	if cfg.Rootless {
		handOver(after)
	}
	return childResult{Entries: entries}
}

// setupMounts prepares /proc, /dev, /sys and, with the network, resolv.conf
// and hosts below rootfs. It returns the paths it had to create, which are
// removed again before the diff.
func setupMounts(cfg childConfig, rootfs string) ([]string, error) {
	var created []string
	add := func(p string) { created = append(created, p) }
	point := func(rel string, dir bool) (string, error) {
		p, err := mountPoint(rootfs, rel, dir, add)
		if err != nil {
			return "", fmt.Errorf("/%s: %w", rel, err)
		}
		return p, nil
	}
	// pivot_root needs the new root to be a mount point.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return nil, fmt.Errorf("bind-mounting the root: %w", err)
	}
	proc, err := point("proc", true)
	if err != nil {
		return nil, err
	}
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, fmt.Errorf("mounting /proc: %w", err)
	}
	dev, err := point("dev", true)
	if err != nil {
		return nil, err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return nil, fmt.Errorf("mounting /dev: %w", err)
	}
	// Device nodes cannot be made in a user namespace: bind the host's.
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := dev + "/" + d
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return nil, err
		}
		if err := unix.Mount("/dev/"+d, p, "", unix.MS_BIND, ""); err != nil {
			if d == "tty" {
				_ = os.Remove(p)
				continue
			}
			return nil, fmt.Errorf("binding /dev/%s: %w", d, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return nil, err
		}
	}
	// Optional comforts: a failure leaves them out.
	if os.Mkdir(dev+"/pts", 0o755) == nil {
		_ = unix.Mount("devpts", dev+"/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
	}
	if os.Mkdir(dev+"/shm", 0o1777) == nil {
		_ = unix.Mount("shm", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k")
	}
	if sys, err := point("sys", true); err == nil {
		_ = unix.Mount("sysfs", sys, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	if err := maskKernelFiles(rootfs); err != nil {
		return nil, err
	}
	if cfg.Network {
		for _, name := range []string{"resolv.conf", "hosts"} {
			p, err := point("etc/"+name, false)
			if err != nil {
				return nil, err
			}
			if err := unix.Mount(filepath.Join(cfg.Dir, name), p, "", unix.MS_BIND, ""); err != nil {
				return nil, fmt.Errorf("binding /etc/%s: %w", name, err)
			}
		}
	}
	return created, nil
}

// pivotRoot makes rootfs the root and drops every trace of the host's tree
// (chroot alone can be escaped by a root process).
func pivotRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	return unix.Chdir("/")
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// runCommand runs the command inside the new root as the configured user
// and returns its exit status (128+N for a signal).
func runCommand(cfg childConfig) (int, error) {
	passwd, _ := os.ReadFile("/etc/passwd")
	group, _ := os.ReadFile("/etc/group")
	u, err := lookupUser(cfg.User, passwd, group)
	if err != nil {
		return 0, err
	}
	if err := checkMapped(cfg, u); err != nil {
		return 0, err
	}
	env := slices.Clone(cfg.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH="+defaultPath)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	wd := cfg.WorkDir
	if wd == "" {
		wd = "/"
	}
	if err := mkdirAllOwned(wd, u.UID, u.GID); err != nil {
		return 0, fmt.Errorf("working directory %s: %w", wd, err)
	}
	argv0, err := lookPath(cfg.Args[0], getEnv(env, "PATH"), wd)
	if err != nil {
		return 0, err
	}
	cred := &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), NoSetGroups: cfg.Rootless}
	for _, g := range u.Groups {
		cred.Groups = append(cred.Groups, uint32(g))
	}
	if cred.Groups == nil {
		cred.Groups = []uint32{} // drop the sandbox's own
	}
	cmd := &exec.Cmd{
		Path:        argv0,
		Args:        cfg.Args,
		Env:         env,
		Dir:         wd,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Credential: cred},
	}
	err = startConfined(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return 0, fmt.Errorf("starting %s: %w", cfg.Args[0], err)
		}
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
	return 0, nil
}

// checkMapped refuses a user the sandbox's user namespace has no ids for.
func checkMapped(cfg childConfig, u execUser) error {
	if cfg.Rootless && (u.UID != 0 || u.GID != 0) {
		return fmt.Errorf("user %q (uid %d, gid %d): without root, assemble maps only root into the sandbox; run assemble as root to RUN as another user", cfg.User, u.UID, u.GID)
	}
	if cfg.MappedIDs == 0 {
		return nil
	}
	for _, id := range append([]int{u.UID, u.GID}, u.Groups...) {
		if id >= int(cfg.MappedIDs) {
			return fmt.Errorf("user %q: id %d is beyond the %d ids the sandbox maps (set a larger range for user %q in /etc/subuid and /etc/subgid)", cfg.User, id, cfg.MappedIDs, subIDUser)
		}
	}
	return nil
}

// mkdirAllOwned makes the missing directories of dir owned by uid:gid, as
// BuildKit makes a WORKDIR for the current USER.
func mkdirAllOwned(dir string, uid, gid int) error {
	cur := ""
	for _, part := range strings.Split(path.Clean(dir), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		err := os.Mkdir(cur, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Lchown(cur, uid, gid); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// lookPath finds argv0 as a shell would with the command's own PATH.
func lookPath(argv0, pathEnv, wd string) (string, error) {
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, argv0)
		if !path.IsAbs(p) {
			p = path.Join(wd, p)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in PATH (%s)", argv0, pathEnv)
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

func getEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, _ := strings.Cut(kv, "="); k == key {
			v = val
		}
	}
	return v
}

// killAll ends every process the command left behind (this is pid 1) and
// reaps them, so nothing writes to the tree while it is compared.
func killAll() {
	_ = unix.Kill(-1, unix.SIGKILL)
	for {
		_, err := unix.Wait4(-1, nil, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
	}
}

// unmountAll detaches every mount below the root, the sandbox's and any the
// command made, deepest first.
func unmountAll() {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[4] == "/" {
			continue
		}
		points = append(points, unescapeMountPath(f[4]))
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// handOver lets the unprivileged parent read the files and remove the tree
// once the namespace is gone: everything on disk is its own, but modes may
// shut it out. The entries already carry the real modes.
func handOver(after map[string]*fileState) {
	for rel, s := range after {
		var want uint32
		switch s.typ() {
		case unix.S_IFDIR:
			want = 0o700
		case unix.S_IFREG:
			want = 0o400
		default:
			continue
		}
		if s.mode&want != want {
			_ = unix.Fchmodat(unix.AT_FDCWD, "/"+rel, (s.mode&0o7777)|want, 0)
		}
	}
}
