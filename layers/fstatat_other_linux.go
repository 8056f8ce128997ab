//go:build linux && !(amd64 || arm64 || riscv64 || ppc64 || ppc64le || s390x)

package layers

import "golang.org/x/sys/unix"

// fstatat is unix.Fstatat(fd, name, &fi.st, AT_SYMLINK_NOFOLLOW) where the
// system call does not fill unix.Stat_t as it is (see fstatat_linux.go).
func fstatat(fd int, name string, fi *statInfo) error {
	return unix.Fstatat(fd, name, &fi.st, unix.AT_SYMLINK_NOFOLLOW)
}
