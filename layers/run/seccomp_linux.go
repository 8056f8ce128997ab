//go:build linux && (amd64 || arm64)

package run

import (
	"fmt"
	"maps"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// linuxSyscalls are the numbers of the denied calls both amd64 and arm64
// have (golang.org/x/sys/unix gives each GOARCH its own); the architecture
// files add the calls only they have (archSyscalls).
var linuxSyscalls = map[string]uint32{
	"mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2, "pivot_root": unix.SYS_PIVOT_ROOT,
	"fsopen": unix.SYS_FSOPEN, "fsconfig": unix.SYS_FSCONFIG, "fsmount": unix.SYS_FSMOUNT,
	"fspick": unix.SYS_FSPICK, "move_mount": unix.SYS_MOVE_MOUNT, "open_tree": unix.SYS_OPEN_TREE,
	"open_tree_attr": unix.SYS_OPEN_TREE_ATTR, "mount_setattr": unix.SYS_MOUNT_SETATTR,
	"unshare": unix.SYS_UNSHARE, "setns": unix.SYS_SETNS, "init_module": unix.SYS_INIT_MODULE,
	"finit_module": unix.SYS_FINIT_MODULE, "delete_module": unix.SYS_DELETE_MODULE,
	"kexec_load": unix.SYS_KEXEC_LOAD, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD, "reboot": unix.SYS_REBOOT,
	"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
	"bpf": unix.SYS_BPF, "perf_event_open": unix.SYS_PERF_EVENT_OPEN, "fanotify_init": unix.SYS_FANOTIFY_INIT,
	"lookup_dcookie": unix.SYS_LOOKUP_DCOOKIE, "quotactl": unix.SYS_QUOTACTL,
	"quotactl_fd": unix.SYS_QUOTACTL_FD, "syslog": unix.SYS_SYSLOG, "acct": unix.SYS_ACCT,
	"sethostname": unix.SYS_SETHOSTNAME, "setdomainname": unix.SYS_SETDOMAINNAME, "swapon": unix.SYS_SWAPON,
	"swapoff": unix.SYS_SWAPOFF, "settimeofday": unix.SYS_SETTIMEOFDAY, "clock_settime": unix.SYS_CLOCK_SETTIME,
	"vhangup": unix.SYS_VHANGUP, "kcmp": unix.SYS_KCMP, "pidfd_getfd": unix.SYS_PIDFD_GETFD,
	"process_madvise": unix.SYS_PROCESS_MADVISE, "get_mempolicy": unix.SYS_GET_MEMPOLICY,
	"mbind": unix.SYS_MBIND, "set_mempolicy": unix.SYS_SET_MEMPOLICY,
	"set_mempolicy_home_node": unix.SYS_SET_MEMPOLICY_HOME_NODE, "migrate_pages": unix.SYS_MIGRATE_PAGES,
	"move_pages": unix.SYS_MOVE_PAGES, "open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT,
	"userfaultfd": unix.SYS_USERFAULTFD, "io_uring_setup": unix.SYS_IO_URING_SETUP,
	"io_uring_enter": unix.SYS_IO_URING_ENTER, "io_uring_register": unix.SYS_IO_URING_REGISTER,
	"nfsservctl": unix.SYS_NFSSERVCTL, "clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3,
	"socket": unix.SYS_SOCKET, "personality": unix.SYS_PERSONALITY,
}

// nativeSyscalls is this architecture's table.
var nativeSyscalls = syscallTable{arch: nativeArch, calls: withCalls(linuxSyscalls, archSyscalls)}

func withCalls(a, b map[string]uint32) map[string]uint32 {
	out := make(map[string]uint32, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// deniedSyscalls are the calls Docker's default seccomp profile refuses a
// container that holds only the default capabilities, plus io_uring (which
// newer Docker profiles refuse too). Docker's profile is an allow list;
// this filter is the equivalent deny list, so a call newer than the list is
// allowed (the kernel's own capability checks still apply). Each returns
// EPERM. Names a platform lacks are skipped.
var deniedSyscalls = []string{
	// Mounting and namespaces: the sandbox's mounts and masks stay.
	"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "open_tree_attr", "mount_setattr", "unshare", "setns",
	// Kernel modules, kexec, reboot.
	"init_module", "finit_module", "delete_module", "create_module", "query_module",
	"get_kernel_syms", "kexec_load", "kexec_file_load", "reboot",
	// Kernel keyrings (not namespaced).
	"keyctl", "add_key", "request_key",
	// Kernel tracing, BPF, accounting, logs, quotas.
	"bpf", "perf_event_open", "fanotify_init", "lookup_dcookie", "quotactl", "quotactl_fd",
	"syslog", "acct",
	// Host name (Docker refuses it without CAP_SYS_ADMIN), swap, clocks.
	"sethostname", "setdomainname", "swapon", "swapoff", "settimeofday", "stime",
	"clock_settime", "clock_settime64",
	// Hardware and terminals.
	"iopl", "ioperm", "vhangup",
	// Other processes' memory and descriptors beyond ptrace (CAP_SYS_PTRACE).
	"kcmp", "pidfd_getfd", "process_madvise",
	// NUMA policy (CAP_SYS_NICE).
	"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages",
	// File handles bypass the mount a path lives in (CAP_DAC_READ_SEARCH).
	"open_by_handle_at",
	// Not on Docker's allow list.
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"_sysctl", "sysfs", "ustat", "uselib", "nfsservctl", "afs_syscall", "getpmsg", "putpmsg",
	"tuxcall", "security", "vserver", "vm86", "vm86old",
}

// Argument rules, as Docker's profile has them.
const (
	// clone with any namespace flag (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
	// NEWUSER, NEWPID, NEWNET) is refused.
	cloneNSFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	afVsock = 40 // socket(AF_VSOCK, ...) is refused
)

// personalities Docker allows: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE (with
// and without UNAME26) and the query 0xffffffff.
var personalities = []uint32{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// syscallTable is one architecture's calls by name.
type syscallTable struct {
	arch  uint32
	calls map[string]uint32
}

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	// Offsets in struct seccomp_data; arguments are read by their low
	// 32 bits (little-endian platforms only).
	offNr   = 0
	offArch = 4
	offArg0 = 16
)

// seccompFilter is the filter: calls of the native architecture and of its
// compat one (i386 on amd64) are checked against their own numbers;
// anything else (x32, AArch32, unknown) is refused.
func seccompFilter() []bpf.Instruction {
	prog := []bpf.Instruction{bpf.LoadAbsolute{Off: offArch, Size: 4}}
	tables := []syscallTable{nativeSyscalls}
	if compatSyscalls.calls != nil {
		tables = append(tables, compatSyscalls)
	}
	for _, t := range tables {
		body := archRules(t)
		// The body is too long for a conditional jump's 8-bit skip: another
		// architecture takes the unconditional jump over it.
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: t.arch, SkipTrue: 1},
			bpf.Jump{Skip: uint32(len(body))})
		prog = append(prog, body...)
	}
	return append(prog, bpf.RetConstant{Val: retEPERM})
}

// archRules checks the call number (reloaded first) and returns from every
// path: deny list, argument rules, then allow.
func archRules(t syscallTable) []bpf.Instruction {
	p := []bpf.Instruction{bpf.LoadAbsolute{Off: offNr, Size: 4}}
	if t.arch == unix.AUDIT_ARCH_X86_64 {
		// x32 calls carry bit 30 under the x86_64 audit arch.
		p = append(p, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 0x40000000, SkipFalse: 1}, bpf.RetConstant{Val: retEPERM})
	}
	for _, name := range deniedSyscalls {
		if nr, ok := t.calls[name]; ok {
			p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1}, bpf.RetConstant{Val: retEPERM})
		}
	}
	if nr, ok := t.calls["clone3"]; ok {
		// Its flags are behind a pointer: ENOSYS makes libc fall back to clone.
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1}, bpf.RetConstant{Val: retENOSYS})
	}
	argRule := func(name string, deny []bpf.Instruction) {
		nr, ok := t.calls[name]
		if !ok {
			return
		}
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: uint8(len(deny) + 1)},
			bpf.LoadAbsolute{Off: offArg0, Size: 4})
		p = append(p, deny...)
	}
	argRule("clone", []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: cloneNSFlags, SkipFalse: 1},
		bpf.RetConstant{Val: retEPERM},
		bpf.RetConstant{Val: retAllow},
	})
	argRule("socket", []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: afVsock, SkipFalse: 1},
		bpf.RetConstant{Val: retEPERM},
		bpf.RetConstant{Val: retAllow},
	})
	var pers []bpf.Instruction
	for i, v := range personalities {
		pers = append(pers, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipTrue: uint8(len(personalities) - i)})
	}
	argRule("personality", append(pers, bpf.RetConstant{Val: retEPERM}, bpf.RetConstant{Val: retAllow}))
	return append(p, bpf.RetConstant{Val: retAllow})
}

// installSeccomp loads the filter on the calling thread (no TSYNC: the
// sandbox's other threads stay unfiltered). no_new_privs must be set.
func installSeccomp() error {
	raw, err := bpf.Assemble(seccompFilter())
	if err != nil {
		return fmt.Errorf("assembling the seccomp filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(prog))); errno != 0 {
		return fmt.Errorf("installing the seccomp filter: %w", errno)
	}
	return nil
}
