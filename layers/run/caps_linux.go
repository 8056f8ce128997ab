//go:build linux

package run

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultCaps is Docker's default capability set: all a RUN's root gets.
var defaultCaps = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER,
	unix.CAP_MKNOD, unix.CAP_NET_RAW, unix.CAP_SETGID, unix.CAP_SETUID,
	unix.CAP_SETFCAP, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE,
	unix.CAP_SYS_CHROOT, unix.CAP_KILL, unix.CAP_AUDIT_WRITE,
}

// startConfined starts cmd with Docker's default capabilities, no_new_privs
// and the seccomp filter. The sandbox itself keeps its privileges (it still
// unmounts and compares afterwards), so the limits go on one OS thread only
// (capabilities, the bounding set, no_new_privs and a seccomp filter without
// TSYNC are all per thread) and the command is forked from that thread,
// which inherits them. The thread is never unlocked, so it dies with the
// goroutine and the Go runtime never schedules other work on it; threads it
// would spawn come from the runtime's clean template thread instead.
func startConfined(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := confineThread(); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

func confineThread() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	keep := map[uintptr]bool{}
	var mask [2]uint32
	for _, c := range defaultCaps {
		keep[c] = true
		mask[c/32] |= 1 << (c % 32)
	}
	for c := uintptr(0); c <= lastCap(); c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	// Effective and permitted as Docker's root has them (setuid to another
	// user clears them, as it does there); nothing inheritable.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: mask[0], Permitted: mask[0]},
		{Effective: mask[1], Permitted: mask[1]},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting capabilities: %w", err)
	}
	return installSeccomp()
}

// lastCap is the highest capability the kernel knows.
func lastCap() uintptr {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return uintptr(n)
		}
	}
	return unix.CAP_LAST_CAP
}
