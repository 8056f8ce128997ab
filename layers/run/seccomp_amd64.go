//go:build linux

package run

import "golang.org/x/sys/unix"

const nativeArch = unix.AUDIT_ARCH_X86_64

// archSyscalls are the denied calls amd64 has and arm64 does not.
var archSyscalls = map[string]uint32{
	"create_module": unix.SYS_CREATE_MODULE, "query_module": unix.SYS_QUERY_MODULE,
	"get_kernel_syms": unix.SYS_GET_KERNEL_SYMS, "iopl": unix.SYS_IOPL, "ioperm": unix.SYS_IOPERM,
	"_sysctl": unix.SYS__SYSCTL, "sysfs": unix.SYS_SYSFS, "ustat": unix.SYS_USTAT, "uselib": unix.SYS_USELIB,
	"afs_syscall": unix.SYS_AFS_SYSCALL, "getpmsg": unix.SYS_GETPMSG, "putpmsg": unix.SYS_PUTPMSG,
	"tuxcall": unix.SYS_TUXCALL, "security": unix.SYS_SECURITY, "vserver": unix.SYS_VSERVER,
}

// compatSyscalls are the i386 numbers (golang.org/x/sys/unix's
// zsysnum_linux_386.go): 32-bit x86 programs run natively on amd64.
var compatSyscalls = syscallTable{arch: unix.AUDIT_ARCH_I386, calls: map[string]uint32{
	"mount": 21, "umount": 22, "umount2": 52, "pivot_root": 217,
	"fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
	"move_mount": 429, "open_tree": 428, "open_tree_attr": 467, "mount_setattr": 442, "unshare": 310, "setns": 346,
	"init_module": 128, "finit_module": 350, "delete_module": 129, "create_module": 127, "query_module": 167,
	"get_kernel_syms": 130, "kexec_load": 283, "reboot": 88,
	"keyctl": 288, "add_key": 286, "request_key": 287,
	"bpf": 357, "perf_event_open": 336, "fanotify_init": 338, "lookup_dcookie": 253, "quotactl": 131, "quotactl_fd": 443,
	"syslog": 103, "acct": 51,
	"sethostname": 74, "setdomainname": 121, "swapon": 87, "swapoff": 115, "settimeofday": 79, "stime": 25,
	"clock_settime": 264, "clock_settime64": 404,
	"iopl": 110, "ioperm": 101, "vhangup": 111,
	"kcmp": 349, "pidfd_getfd": 438, "process_madvise": 440,
	"get_mempolicy": 275, "mbind": 274, "set_mempolicy": 276, "set_mempolicy_home_node": 450,
	"migrate_pages": 294, "move_pages": 317, "open_by_handle_at": 342,
	"userfaultfd": 374, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
	"_sysctl": 149, "sysfs": 135, "ustat": 62, "uselib": 86, "nfsservctl": 169, "afs_syscall": 137,
	"getpmsg": 188, "putpmsg": 189, "vserver": 273, "vm86": 166, "vm86old": 113,
	"clone": 120, "clone3": 435, "socket": 359, "personality": 136,
}}
