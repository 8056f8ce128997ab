//go:build linux && (amd64 || arm64 || riscv64 || ppc64 || ppc64le || s390x)

package layers

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fstatat is unix.Fstatat(fd, name, &fi.st, AT_SYMLINK_NOFOLLOW) with the
// name made NUL-terminated in fi's buffer rather than a new one: a walk
// stats every file of the tree, and an allocation each was a few percent
// of a no-op rebuild's CPU. On these architectures the system call fills
// unix.Stat_t as it is, as x/sys/unix's own Fstatat has it do.
func fstatat(fd int, name string, fi *statInfo) error {
	if strings.IndexByte(name, 0) >= 0 {
		return unix.EINVAL // as unix.Fstatat has it
	}
	fi.cname = append(append(fi.cname[:0], name...), 0)
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(fd), uintptr(unsafe.Pointer(&fi.cname[0])),
		uintptr(unsafe.Pointer(&fi.st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
