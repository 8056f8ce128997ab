// Command sandboxprobe is built by layers/run's tests and run inside the RUN
// sandbox: it makes the system calls a hostile build step would and prints
// "name: errno" for each, then does ordinary work a compiler would. Every
// argument is one the kernel rejects or ignores, so a call that slipped
// through the filter still changes nothing on the host.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

func errName(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	default:
		return err.Error()
	}
}

func raw(nr uintptr, args ...uintptr) error {
	var a [6]uintptr
	copy(a[:], args)
	_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if e != 0 {
		return e
	}
	return nil
}

func main() {
	// Never on a host by mistake: the test sets this in the RUN's env.
	if os.Getenv("SANDBOXPROBE") != "1" {
		fmt.Fprintln(os.Stderr, "sandboxprobe: runs only inside the RUN sandbox (SANDBOXPROBE=1)")
		os.Exit(2)
	}
	bad := uintptr(1<<32 - 1) // an id no kernel object has
	host, _ := os.Hostname()
	calls := []struct {
		name string
		err  error
	}{
		{"mount", unix.Mount("none", "/nonexistent", "tmpfs", 0, "")},
		{"umount2", unix.Unmount("/nonexistent", 0)},
		{"unshare", unix.Unshare(unix.CLONE_NEWUSER)},
		{"setns", unix.Setns(-1, 0)},
		{"pivot_root", unix.PivotRoot("/nonexistent", "/nonexistent")},
		{"init_module", raw(unix.SYS_INIT_MODULE, 0, 0, 0)},
		{"finit_module", raw(unix.SYS_FINIT_MODULE, bad, 0, 0)},
		{"delete_module", unix.DeleteModule("nonexistent", 0)},
		{"keyctl", raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, bad-1000, 0)},
		{"add_key", raw(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0)},
		{"request_key", raw(unix.SYS_REQUEST_KEY, 0, 0, 0, 0)},
		{"bpf", raw(unix.SYS_BPF, bad, 0, 0)},
		{"perf_event_open", raw(unix.SYS_PERF_EVENT_OPEN, 0, 0, 0, 0, 0)},
		{"open_by_handle_at", raw(unix.SYS_OPEN_BY_HANDLE_AT, bad, 0, 0)},
		{"sethostname", unix.Sethostname([]byte(host))}, // the same name: no change if allowed
		{"clock_settime", raw(unix.SYS_CLOCK_SETTIME, bad, 0)},
		{"settimeofday", raw(unix.SYS_SETTIMEOFDAY, 0, 0)}, // both NULL: a no-op if allowed
		{"swapon", raw(unix.SYS_SWAPON, 0, 0)},
		{"io_uring_setup", raw(unix.SYS_IO_URING_SETUP, 0, 0)},
		{"clone3", raw(unix.SYS_CLONE3, 0, 0)},
		{"socket_vsock", raw(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0)},
		{"personality_exec", raw(unix.SYS_PERSONALITY, 0x0400000)}, // READ_IMPLIES_EXEC
		{"clone_newuser", cloneNewUser()},
		// Allowed, as in Docker.
		{"personality_query", raw(unix.SYS_PERSONALITY, 0xffffffff)},
		{"fork_exec", exec.Command("/bin/true").Run()},
	}
	for _, c := range calls {
		fmt.Printf("%s: %s\n", c.name, errName(c.err))
	}
	fmt.Printf("work: %s\n", errName(work()))
}

// cloneNewUser forks a child into a new user namespace (Go's clone with
// namespace flags).
func cloneNewUser() error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
	return cmd.Run()
}

// work is what a build step does: files, a child process, a loopback socket.
func work() error {
	if err := os.MkdirAll("/out/sub", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile("/out/sub/result.txt", []byte("built\n"), 0o644); err != nil {
		return err
	}
	if err := exec.Command("/bin/sh", "-c", "echo child >> /out/sub/result.txt").Run(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("pong"))
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 4)
	if _, err := c.Read(buf); err != nil || string(buf) != "pong" {
		return fmt.Errorf("loopback: %q %v", buf, err)
	}
	return nil
}
