//go:build linux && (amd64 || arm64)

package run

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// filterResult runs the seccomp filter in x/net/bpf's VM. The VM loads
// words big-endian where the kernel loads them in host order, so the
// seccomp_data is laid out big-endian here.
func filterResult(t *testing.T, vm *bpf.VM, arch, nr, arg0 uint32) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[offNr:], nr)
	binary.BigEndian.PutUint32(data[offArch:], arch)
	binary.BigEndian.PutUint32(data[offArg0:], arg0)
	v, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

func TestSeccompFilter(t *testing.T) {
	vm, err := bpf.NewVM(seccompFilter())
	if err != nil {
		t.Fatalf("the filter does not validate: %v", err)
	}
	if _, err := bpf.Assemble(seccompFilter()); err != nil {
		t.Fatal(err)
	}
	tables := []syscallTable{nativeSyscalls}
	if compatSyscalls.calls != nil {
		tables = append(tables, compatSyscalls)
	}
	// Every listed name is a call of some architecture (no typos).
	for _, name := range deniedSyscalls {
		if _, ok := nativeSyscalls.calls[name]; !ok {
			if _, ok := compatSyscalls.calls[name]; !ok && !slices.Contains(legacyOnly, name) {
				t.Errorf("%s: in no syscall table", name)
			}
		}
	}
	for _, tab := range tables {
		for _, name := range deniedSyscalls {
			if nr, ok := tab.calls[name]; ok {
				if got := filterResult(t, vm, tab.arch, nr, 0); got != retEPERM {
					t.Errorf("arch %#x %s (%d): %#x, want EPERM", tab.arch, name, nr, got)
				}
			}
		}
		for _, c := range []struct {
			name string
			arg0 uint32
			want uint32
		}{
			{"clone", uint32(unix.SIGCHLD), retAllow},
			{"clone", unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM, retAllow},
			{"clone", unix.CLONE_NEWUSER | uint32(unix.SIGCHLD), retEPERM},
			{"clone", unix.CLONE_NEWNS, retEPERM},
			{"clone", unix.CLONE_NEWNET, retEPERM},
			{"clone3", 0, retENOSYS},
			{"socket", unix.AF_INET, retAllow},
			{"socket", unix.AF_UNIX, retAllow},
			{"socket", unix.AF_VSOCK, retEPERM},
			{"personality", 0xffffffff, retAllow},
			{"personality", 0x20008, retAllow},
			{"personality", 0x0400000, retEPERM}, // READ_IMPLIES_EXEC
		} {
			if got := filterResult(t, vm, tab.arch, tab.calls[c.name], c.arg0); got != c.want {
				t.Errorf("arch %#x %s(%#x): %#x, want %#x", tab.arch, c.name, c.arg0, got, c.want)
			}
		}
	}
	for _, nr := range []uint32{unix.SYS_READ, unix.SYS_WRITE, unix.SYS_OPENAT, unix.SYS_EXECVE, unix.SYS_CHROOT, unix.SYS_PTRACE, unix.SYS_SECCOMP, unix.SYS_MKNODAT} {
		if got := filterResult(t, vm, nativeSyscalls.arch, nr, 0); got != retAllow {
			t.Errorf("native call %d: %#x, want allowed", nr, got)
		}
	}
	if got := filterResult(t, vm, 0x12345678, unix.SYS_READ, 0); got != retEPERM {
		t.Errorf("unknown architecture: %#x, want EPERM", got)
	}
	if nativeSyscalls.arch == unix.AUDIT_ARCH_X86_64 {
		if got := filterResult(t, vm, unix.AUDIT_ARCH_X86_64, 0x40000000|unix.SYS_READ, 0); got != retEPERM {
			t.Errorf("x32 read: %#x, want EPERM", got)
		}
		if got := filterResult(t, vm, unix.AUDIT_ARCH_I386, 3, 0); got != retAllow { // read
			t.Errorf("i386 read: %#x, want allowed", got)
		}
	}
}

// legacyOnly are listed calls neither table of this platform has.
var legacyOnly = []string{
	"umount", "create_module", "query_module", "get_kernel_syms", "stime", "clock_settime64",
	"iopl", "ioperm", "_sysctl", "sysfs", "ustat", "uselib", "afs_syscall", "getpmsg", "putpmsg",
	"tuxcall", "security", "vserver", "vm86", "vm86old",
}
