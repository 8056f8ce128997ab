//go:build linux

package run

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// TestMounts runs one command with a read-only and a read-write bind, a
// tmpfs, a secret (file and variable) and an ssh socket: each is there while
// it runs, and none of them, nor the mount points the image lacked, is in
// the result.
func TestMounts(t *testing.T) {
	testtool.RequireRoot(t)
	img := busyboxImage(t)
	dirSrc := layerOf(t, directory(BindSource+"/", 0o755, 0), regular(BindSource+"/data.txt", 0o644, 0, "from the stage\n"))
	fileSrc := layerOf(t, regular(BindSource, 0o644, 0, "one file\n"))
	sock, accepted := listenUnix(t)
	dialer, err := os.ReadFile(testtool.UnixDialer(t))
	if err != nil {
		t.Fatal(err)
	}
	dialSrc := layerOf(t, regular(BindSource, 0o755, 0, string(dialer)))
	res, out := run(t, Spec{Base: img, Command: shell(`
set -e
cat /mnt/ro/data.txt
if echo x > /mnt/ro/new.txt 2>/dev/null; then echo "ro bind is writable"; exit 1; fi
echo scratch > /mnt/rw/written.txt
cat /mnt/rw/written.txt
cat /etc/one.txt
echo tmp > /cache/t.txt
test "$(stat -c %a:%u /run/secrets/token)" = 400:0
echo "secret=$(cat /run/secrets/token) env=$TOKEN"
test -S /run/buildkit/ssh_agent.0
test "$(stat -c %a /run/buildkit/ssh_agent.0)" = 600
/usr/local/bin/dial /run/buildkit/ssh_agent.0
echo done > /done.txt
`), Mounts: []Mount{
		{Type: MountBind, Target: "/mnt/ro", Source: dirSrc},
		{Type: MountBind, Target: "/mnt/rw", Source: dirSrc, ReadWrite: true},
		{Type: MountBind, Target: "/etc/one.txt", Source: fileSrc},
		{Type: MountTmpfs, Target: "/cache", Size: 1 << 20},
		{Type: MountSecret, Target: "/run/secrets/token", Secret: []byte("s3cr3t"), Env: "TOKEN", Mode: 0o400},
		{Type: MountSSH, Target: "/run/buildkit/ssh_agent.0", Socket: sock, Mode: 0o600},
		{Type: MountBind, Target: "/usr/local/bin/dial", Source: dialSrc},
	}})
	for _, want := range []string{"from the stage\n", "scratch\n", "one file\n", "secret=s3cr3t env=s3cr3t\n", "agent says hello\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	select {
	case <-accepted:
	default:
		t.Error("the agent socket saw no connection")
	}
	got := byPath(res.Entries)
	if _, ok := got["done.txt"]; !ok {
		t.Errorf("done.txt missing: %v", keysOf(got))
	}
	for p := range got {
		if p == "mnt" || strings.HasPrefix(p, "mnt/") || strings.HasPrefix(p, "cache") || strings.HasPrefix(p, "run") || strings.HasPrefix(p, "usr") || p == "etc/one.txt" {
			t.Errorf("%s is in the layer: %v", p, keysOf(got))
		}
	}
	for _, e := range res.Entries {
		if e.Type == layers.TypeFile && e.Size > 0 && strings.Contains(content(t, e), "s3cr3t") {
			t.Errorf("%s holds the secret", e.Path)
		}
	}
}

// A mount target that is a file in the image cannot take a directory.
func TestMountTargetType(t *testing.T) {
	testtool.RequireRoot(t)
	img := busyboxImage(t)
	_, err := Run(context.Background(), Spec{Base: img, Command: shell("true"), Mounts: []Mount{{Type: MountTmpfs, Target: "/etc/passwd"}}}, WithTempDir(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "target=/etc/passwd") {
		t.Errorf("tmpfs over a file: %v", err)
	}
}

// The key covers a mount's shape and a bind's source, never a secret's value.
func TestMountKey(t *testing.T) {
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, directory("etc/", 0o755, 0)))
	if err != nil {
		t.Fatal(err)
	}
	key := func(ms ...Mount) string {
		k, err := NewLayer(Spec{Base: img, Command: shell("true"), Mounts: ms}).Key(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	plain := key()
	s1 := key(Mount{Type: MountSecret, Target: "/run/secrets/a", Secret: []byte("one"), Mode: 0o400})
	s2 := key(Mount{Type: MountSecret, Target: "/run/secrets/a", Secret: []byte("two"), Mode: 0o400})
	if s1 != s2 || s1 == plain {
		t.Errorf("secret keys: %s %s (plain %s)", s1, s2, plain)
	}
	b1 := key(Mount{Type: MountBind, Target: "/m", Source: layerOf(t, regular(BindSource, 0o644, 0, "a"))})
	b2 := key(Mount{Type: MountBind, Target: "/m", Source: layerOf(t, regular(BindSource, 0o644, 0, "b"))})
	if b1 == b2 {
		t.Error("a bind's source does not change the key")
	}
}

// listenUnix is an agent stand-in: a socket that greets and hangs up;
// accepted receives a value per connection.
func listenUnix(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Write([]byte("agent says hello\n"))
			c.Close()
		}
	}()
	return p, accepted
}

func keysOf(m map[string]layers.Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rootlessMounts is TestRootless's check of mounts: root in the namespace
// is the invoking user, and bind, tmpfs, secret and ssh mounts still work.
func rootlessMounts(t *testing.T) {
	img := busyboxImage(t)
	sock, _ := listenUnix(t)
	src := layerOf(t, directory(BindSource+"/", 0o755, 0), regular(BindSource+"/data.txt", 0o644, 0, "bound\n"))
	res, out := run(t, Spec{Base: img, Command: shell(`
set -e
cat /mnt/data.txt
if touch /mnt/x 2>/dev/null; then echo "ro bind is writable"; exit 1; fi
echo x > /scratch/f
test "$(stat -c %a:%u /run/secrets/s)" = 400:0
echo "secret=$(cat /run/secrets/s)"
test -S /run/buildkit/ssh_agent.0
echo done > /done.txt
`), Mounts: []Mount{
		{Type: MountBind, Target: "/mnt", Source: src},
		{Type: MountTmpfs, Target: "/scratch"},
		{Type: MountSecret, Target: "/run/secrets/s", Secret: []byte("rootless-secret"), Mode: 0o400},
		{Type: MountSSH, Target: "/run/buildkit/ssh_agent.0", Socket: sock, Mode: 0o600},
	}})
	if !strings.Contains(out, "bound\n") || !strings.Contains(out, "secret=rootless-secret\n") {
		t.Errorf("rootless mounts:\n%s", out)
	}
	got := byPath(res.Entries)
	if _, ok := got["done.txt"]; !ok || len(got) != 1 {
		t.Errorf("rootless mounts: the layer holds %v, want done.txt only", keysOf(got))
	}
}
