//go:build linux

package run

import "golang.org/x/sys/unix"

const nativeArch = unix.AUDIT_ARCH_AARCH64

// archSyscalls: arm64 has no call of the list beyond linuxSyscalls.
var archSyscalls map[string]uint32

// compatSyscalls is empty: 32-bit Arm calls (which few arm64 kernels still
// run) are refused whole rather than checked against a second table.
var compatSyscalls syscallTable
