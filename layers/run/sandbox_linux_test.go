//go:build linux

package run

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// buildProbe compiles testdata/sandboxprobe statically into dir: the
// system calls a hostile step makes, and the ordinary work a compiler does.
func buildProbe(t *testing.T, dir string) string {
	t.Helper()
	goTool := testtool.RequireTool(t, "go")
	out := filepath.Join(dir, "sandboxprobe")
	cmd := exec.Command(goTool, "build", "-o", out, "./testdata/sandboxprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, b)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// probeImage is the busybox image with the probe as /bin/sandboxprobe.
func probeImage(t *testing.T, probe string) v1.Image {
	t.Helper()
	b, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	return busyboxImage(t, tarEntry{hdr: tar.Header{Name: "bin/sandboxprobe", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(b))}, body: b})
}

// hostState is what a RUN must not change on the host.
type hostState struct {
	hostname string
	sysctls  map[string]string
}

var watchedSysctls = []string{"kernel/printk_ratelimit", "vm/swappiness"}

func readHost(t *testing.T) hostState {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := hostState{hostname: h, sysctls: map[string]string{}}
	for _, k := range watchedSysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatal(err)
		}
		s.sysctls[k] = strings.TrimSpace(string(b))
	}
	return s
}

// restoreHost puts back what a failed sandbox let a RUN change (root only).
func restoreHost(t *testing.T, was hostState) {
	now := readHost(t)
	if now.hostname != was.hostname {
		t.Errorf("the host's name changed from %q to %q", was.hostname, now.hostname)
		if os.Geteuid() == 0 {
			_ = exec.Command("hostname", was.hostname).Run()
		}
	}
	for k, v := range was.sysctls {
		if now.sysctls[k] != v {
			t.Errorf("the host's /proc/sys/%s changed from %s to %s", k, v, now.sysctls[k])
			if os.Geteuid() == 0 {
				_ = os.WriteFile("/proc/sys/"+k, []byte(v), 0o644)
			}
		}
	}
}

// hostListener serves on the host's loopback for the network check.
func hostListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the host\n") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fmt.Sprintf("http://%s/", ln.Addr())
}

// checkSandbox runs hostile commands and ordinary work in the sandbox and
// checks that each hostile one fails, the work succeeds and the host is as
// before. rootless says how root in the sandbox is mapped.
func checkSandbox(t *testing.T, img v1.Image, rootless bool) {
	was := readHost(t)
	t.Cleanup(func() { restoreHost(t, was) })
	t.Setenv("ASSEMBLE_HOST_MARKER", "host-environment-leaked")
	url := hostListener(t)
	bump := func(k string) string { n, _ := strconv.Atoi(was.sysctls[k]); return strconv.Itoa(n + 1) }
	res, out := run(t, Spec{Base: img, Command: shell(`
try() { if "$@" 2>/dev/null; then echo "ALLOWED: $*"; else echo "refused: $*"; fi; }
try sh -c 'echo ` + bump("kernel/printk_ratelimit") + ` > /proc/sys/kernel/printk_ratelimit'
try sh -c 'echo ` + bump("vm/swappiness") + ` > /proc/sys/vm/swappiness'
try sysctl -w kernel.printk_ratelimit=` + bump("kernel/printk_ratelimit") + `
echo garbage > /tmp/x.ko; try insmod /tmp/x.ko
try mount -t tmpfs none /tmp
try mount -o remount,rw /proc/sys
try umount /proc/sys
try hostname evil
try unshare -r true
chroot / true && echo chroot: ok
try wget -q -O- ` + url + `
cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -c ASSEMBLE_HOST_MARKER
echo "hostname: $(hostname)"
echo "uid_map: $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t'
echo "links: $(ip -o link | cut -d: -f2 | tr -d ' ' | tr '\n' ' ')"
echo "dev: $(ls /dev | tr '\n' ' ')"
echo "masked: $(cat /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/sched_debug 2>/dev/null | wc -c) $(find /proc/acpi /proc/scsi /sys/firmware -mindepth 1 2>/dev/null | wc -l)"
echo "readonly: $(grep -cE ' /proc/(sys|bus|fs|irq|sysrq-trigger) ro,' /proc/self/mountinfo)"
SANDBOXPROBE=1 /bin/sandboxprobe
`)})
	if strings.Contains(out, "ALLOWED") {
		t.Errorf("a hostile command succeeded:\n%s", out)
	}
	wantRO := 0
	for _, p := range readonlyPaths {
		if _, err := os.Stat("/" + p); err == nil {
			wantRO++
		}
	}
	want := []string{
		"0", // no process shows the host's environment
		"hostname: assemble",
		"chroot: ok",              // CAP_SYS_CHROOT is in Docker's set
		"CapEff:00000000a80425fb", // Docker's default set, rootless too
		"CapBnd:00000000a80425fb",
		"CapAmb:0000000000000000",
		"NoNewPrivs:1",
		"Seccomp:2",
		"links: lo ",
		"masked: 0 0",
		"readonly: " + strconv.Itoa(wantRO),
		"work: ok",
		"personality_query: ok",
		"fork_exec: ok",
		"clone3: ENOSYS",
	}
	for _, call := range []string{"mount", "umount2", "unshare", "setns", "pivot_root", "init_module", "finit_module",
		"delete_module", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "open_by_handle_at",
		"sethostname", "clock_settime", "settimeofday", "swapon", "io_uring_setup", "socket_vsock",
		"personality_exec", "clone_newuser"} {
		want = append(want, call+": EPERM")
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("output lacks %q", w)
		}
	}
	// tty is bound only where the host has one to bind.
	if dev := strings.Replace(lineOf(out, "dev: "), " tty ", " ", 1); dev != "dev: fd full null ptmx pts random shm stderr stdin stdout urandom zero " {
		t.Errorf("devices: %q", dev)
	}
	if strings.Contains(out, "hello from the host") {
		t.Error("reached the host's network")
	}
	// Root in the sandbox is never the host's root.
	var ns, host, size int
	if _, err := fmt.Sscanf(lineOf(out, "uid_map: "), "uid_map: %d %d %d", &ns, &host, &size); err != nil {
		t.Errorf("uid_map: %v", err)
	}
	wantHost, wantSize := os.Geteuid(), 1
	if !rootless {
		r, err := rootIDRange()
		if err != nil {
			t.Fatal(err)
		}
		wantHost, wantSize = int(r.UID), int(r.Size)
	}
	if ns != 0 || host != wantHost || size != wantSize || host == 0 {
		t.Errorf("sandbox ids 0-%d are host ids from %d, want 0-%d from %d", size-1, host, wantSize-1, wantHost)
	}
	// Only the probe's work is a change: no mount point, no masks.
	got := byPath(res.Entries)
	for _, p := range []string{"out", "out/sub", "out/sub/result.txt"} {
		if _, ok := got[p]; !ok {
			t.Errorf("no entry for %s", p)
		}
	}
	if c := content(t, got["out/sub/result.txt"]); c != "built\nchild\n" {
		t.Errorf("out/sub/result.txt = %q", c)
	}
	for p := range got {
		if !strings.HasPrefix(p, "out") && p != "tmp" && !strings.HasPrefix(p, "tmp/x.ko") {
			t.Errorf("unexpected entry %s", p)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("sandbox output:\n%s", out)
	}
}

// lineOf returns the first line of out that starts with prefix.
func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestSandbox: as root, a RUN cannot change the host (kernel settings,
// modules, mounts, host name, other processes, network) and ordinary work
// still runs. TestRootless runs the same checks without root.
func TestSandbox(t *testing.T) {
	testtool.RequireRoot(t)
	checkSandbox(t, probeImage(t, buildProbe(t, t.TempDir())), false)
}

// minimalImage has no /etc, /proc, /dev or /sys: only busybox in /bin.
func minimalImage(t *testing.T) v1.Image {
	t.Helper()
	testtool.RequireFile(t, "/bin/busybox", "busybox-static")
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	entries := []tarEntry{directory("bin/", 0o755, 0), {hdr: tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, body: bb}}
	for _, name := range []string{"sh", "cat", "ls", "echo", "test"} {
		entries = append(entries, link("bin/"+name, "busybox", tar.TypeSymlink))
	}
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, entries...))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestSandboxMountPoints: the sandbox makes /etc/hosts, /etc/resolv.conf,
// /proc, /dev and /sys in an image without /etc and leaves none of them in
// the layer.
func TestSandboxMountPoints(t *testing.T) {
	testtool.RequireRoot(t)
	img := minimalImage(t)
	res, out := run(t, Spec{Base: img, Network: true, Command: shell("cat /etc/hosts /etc/resolv.conf > /dev/null && ls /proc/self/fd /dev/null > /dev/null && echo ok")})
	if out != "ok\n" {
		t.Errorf("output %q", out)
	}
	for _, e := range res.Entries {
		t.Errorf("unexpected entry %s %s", e.Type, e.Path)
	}
	res, _ = run(t, Spec{Base: img, Network: true, Command: shell("echo made > /etc/new")})
	var paths []string
	for _, e := range res.Entries {
		paths = append(paths, e.Path)
	}
	if strings.Join(paths, " ") != "etc etc/new" {
		t.Errorf("entries %v, want etc and etc/new only", paths)
	}
	if e := byPath(res.Entries)["etc"]; e.Type != layers.TypeDir || e.Mode != 0o755 || e.UID != 0 {
		t.Errorf("etc: %+v", e)
	}
}

// TestRootIDRange: the range comes from user "containers" in /etc/subuid
// and /etc/subgid, else is the fixed one, refused when the host uses it.
func TestRootIDRange(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, v := range []*string{&subUIDFile, &subGIDFile, &passwdFile, &groupFile} {
		old := *v
		t.Cleanup(func() { *v = old })
	}
	subUIDFile = write("subuid", "alice:100000:65536\n")
	subGIDFile = write("subgid", "alice:100000:65536\n")
	passwdFile = write("passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
	groupFile = write("group", "root:x:0:\n")
	r, err := rootIDRange()
	if err != nil || r.UID != defaultBase || r.GID != defaultBase || r.Size != defaultSize {
		t.Errorf("default: %+v, %v", r, err)
	}
	subUIDFile = write("subuid", "alice:100000:65536\ncontainers:2147483647:2147483648\n")
	subGIDFile = write("subgid", "containers:3000000:65536\n")
	if r, err := rootIDRange(); err != nil || r.UID != 2147483647 || r.GID != 3000000 || r.Size != 65536 {
		t.Errorf("containers: %+v, %v", r, err)
	}
	subGIDFile = write("subgid", "")
	if _, err := rootIDRange(); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("containers in subuid only: %v", err)
	}
	subUIDFile = write("subuid", "bob:1879000000:1000000\n")
	if _, err := rootIDRange(); err == nil || !strings.Contains(err.Error(), `"bob"`) || !strings.Contains(err.Error(), "containers:START:COUNT") {
		t.Errorf("overlapping subordinate range: %v", err)
	}
	subUIDFile = write("subuid", "")
	passwdFile = write("passwd", "big:x:1879048200:1879048200::/:/bin/sh\n")
	if _, err := rootIDRange(); err == nil || !strings.Contains(err.Error(), `"big"`) {
		t.Errorf("login user in the range: %v", err)
	}
	subUIDFile = write("subuid", "containers:0:65536\n")
	subGIDFile = write("subgid", "containers:0:65536\n")
	if _, err := rootIDRange(); err == nil || !strings.Contains(err.Error(), "host root") {
		t.Errorf("range at 0: %v", err)
	}
}

// TestRunOwnerBeyondRange: an image owner the sandbox's range does not map
// is kept in the layer as the image has it; a RUN as such a user is refused
// with the fix.
func TestRunOwnerBeyondRange(t *testing.T) {
	testtool.RequireRoot(t)
	r, err := rootIDRange()
	if err != nil {
		t.Fatal(err)
	}
	big := int(r.Size) + 5
	img := busyboxImage(t, regular("etc/big.txt", 0o644, big, "owned beyond the range\n"))
	res, out := run(t, Spec{Base: img, Command: shell("echo more >> /etc/big.txt; stat -c %u /etc/big.txt")})
	if e := byPath(res.Entries)["etc/big.txt"]; e.UID != big || e.GID != big || content(t, e) != "owned beyond the range\nmore\n" {
		t.Errorf("etc/big.txt: %+v (sandbox saw owner %s)", e, out)
	}
	var buf bytes.Buffer
	_, err = Run(context.Background(), Spec{Base: img, User: strconv.Itoa(big), Command: shell("true"), Stderr: &buf}, WithTempDir(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "/etc/subuid") {
		t.Errorf("USER %d: %v", big, err)
	}
}

// TestSandboxNeedsExecutableBinary: as root the sandbox runs this program
// again as an unprivileged id; a binary only root may run is refused with
// the fix, not run as root instead.
func TestSandboxNeedsExecutableBinary(t *testing.T) {
	if os.Getenv("ASSEMBLE_NOEXEC_HELPER") == "1" {
		_, err := Run(context.Background(), Spec{Base: busyboxImage(t), Command: shell("true")}, WithTempDir(t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), "chmod a+rx") {
			t.Errorf("a binary only root may execute: %v", err)
		}
		t.Log(err)
		return
	}
	testtool.RequireRoot(t)
	bin := filepath.Join(t.TempDir(), "run.test")
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestSandboxNeedsExecutableBinary$", "-test.v")
	cmd.Env = append(os.Environ(), "ASSEMBLE_NOEXEC_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSandboxNeedsExecutableBinary") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("helper:\n%s", out)
	}
}
