//go:build linux

package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// maskedPaths are hidden from the command as runc hides them for Docker: an
// empty read-only tmpfs over a directory, /dev/null over a file.
var maskedPaths = []string{
	"proc/acpi", "proc/asound", "proc/interrupts", "proc/kcore", "proc/keys", "proc/latency_stats",
	"proc/timer_list", "proc/timer_stats", "proc/sched_debug", "proc/scsi",
	"sys/firmware", "sys/devices/virtual/powercap",
}

// readonlyPaths are bound read-only over themselves: kernel settings the
// command may read but not change.
var readonlyPaths = []string{"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"}

// maskKernelFiles applies both lists below root (the sandbox's /proc and
// /sys are mounted). Paths this kernel lacks are skipped.
func maskKernelFiles(root string) error {
	for _, rel := range readonlyPaths {
		p := root + "/" + rel
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding /%s: %w", rel, err)
		}
		// The flags /proc was mounted with are locked in a user namespace:
		// a remount must repeat them.
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if err := unix.Mount("", p, "", flags, ""); err != nil {
			return fmt.Errorf("making /%s read-only: %w", rel, err)
		}
	}
	for _, rel := range maskedPaths {
		p := root + "/" + rel
		fi, err := os.Stat(p)
		if err != nil {
			continue // absent here, or /sys not mounted
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=555")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking /%s: %w", rel, err)
		}
	}
	return nil
}
