//go:build cgo

package cstorage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

const rootlessHelperEnv = "CSTORAGE_TEST_ROOTLESS_HELPER"

// rootlessHelper runs as an unprivileged user: it enters a user namespace
// as the assemble CLI does and writes the busybox image to the store named
// by the environment.
func rootlessHelper() int {
	EnterUserNamespace() // re-executes this binary in a user namespace; returns in the child
	img, err := buildBusybox()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// No root or runroot: the user's default store under $HOME.
	id, err := Write(context.Background(), "localhost/rootless:1", img, WithDriver("vfs"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(id.Hex)
	return 0
}

// TestWriteRootless writes as the unprivileged user "nobody" to its default
// store through EnterUserNamespace (with no /etc/subuid range, only nobody's
// own ID is mapped, to root in the namespace), then reads the store with
// podman as root.
func TestWriteRootless(t *testing.T) {
	podman := testtool.RequireTool(t, "podman")
	testtool.RequireTool(t, "newuidmap")
	testtool.RequireRoot(t) // to start the unprivileged helper
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // let nobody reach its directories
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "cstorage.test")
	copyFile(t, os.Args[0], bin, 0o755)
	runRoot, home := filepath.Join(dir, "run"), filepath.Join(dir, "home")
	root := filepath.Join(home, ".local", "share", "containers", "storage")
	for _, d := range []string{runRoot, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Dir = home
	cmd.Env = []string{
		rootlessHelperEnv + "=1", "HOME=" + home, "XDG_RUNTIME_DIR=" + runRoot, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("rootless write: %v\n%s%s", err, out, stderr)
	}
	img := busyboxImage(t)
	wantID, _ := img.ConfigName()
	if got := string(out); got != wantID.Hex+"\n" {
		t.Fatalf("helper printed %q, want the image ID %s", got, wantID.Hex)
	}
	// The files belong to nobody on the host (root in the namespace).
	var st syscall.Stat_t
	matches, _ := filepath.Glob(filepath.Join(root, "vfs", "dir", "*", "bin", "busybox"))
	if len(matches) != 1 {
		t.Fatalf("want one extracted busybox, found %v", matches)
	}
	if err := syscall.Lstat(matches[0], &st); err != nil || int(st.Uid) != uid {
		t.Errorf("busybox is owned by %d (%v), want %d", st.Uid, err, uid)
	}
	p := &podmanStore{t: t, podman: podman, driver: "vfs", root: root, runRoot: t.TempDir()}
	im := p.find("localhost/rootless:1")
	if im == nil || im.ID != wantID.Hex {
		t.Fatalf("podman lists %+v, want ID %s", im, wantID.Hex)
	}
	if out := p.run("localhost/rootless:1", "/bin/busybox", "echo", "hello"); out != "hello\n" {
		t.Errorf("podman run printed %q", out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
