//go:build linux

package run

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func regular(name string, mode int64, uid int, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uid: uid, Gid: uid, Size: int64(len(body))}, body: []byte(body)}
}

func directory(name string, mode int64, uid int) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: uid}}
}

func link(name, target string, typ byte) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o777}}
}

func layerOf(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	return testtool.TarLayer(t, tw, &buf)
}

// busyboxImage is a two-layer image around Debian's static busybox: the
// second layer deletes, hides and replaces things from the first, so every
// test also checks the materialisation.
func busyboxImage(t *testing.T, extra ...tarEntry) v1.Image {
	t.Helper()
	testtool.RequireFile(t, "/bin/busybox", "busybox-static")
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	base := []tarEntry{
		directory("bin/", 0o755, 0),
		{hdr: tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, body: bb},
		directory("etc/", 0o755, 0),
		regular("etc/passwd", 0o644, 0, "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"),
		regular("etc/group", 0o644, 0, "root:x:0:\nstaff:x:50:user\nuser:x:1000:\n"),
		regular("etc/modify.txt", 0o644, 0, "original\n"),
		regular("etc/delete.txt", 0o644, 0, "delete me\n"),
		regular("etc/chmod.txt", 0o644, 0, "same content\n"),
		regular("etc/owned.txt", 0o644, 1000, "owned by user\n"),
		regular("etc/gone.txt", 0o644, 0, "whited out by layer 2\n"),
		regular("etc/replaced.txt", 0o644, 0, "layer 1\n"),
		link("etc/passwd.link", "/etc/passwd", tar.TypeSymlink),
		regular("etc/hl1", 0o644, 0, "hard linked\n"),
		link("etc/hl2", "etc/hl1", tar.TypeLink),
		directory("opq/", 0o755, 0),
		regular("opq/lower", 0o644, 0, "hidden by the opaque marker\n"),
		directory("home/", 0o755, 0),
		directory("home/user/", 0o750, 1000),
		directory("root/", 0o700, 0),
		directory("tmp/", 0o1777, 0),
	}
	for _, name := range strings.Fields(string(out)) {
		if name != "busybox" && !strings.Contains(name, "/") {
			base = append(base, link("bin/"+name, "busybox", tar.TypeSymlink))
		}
	}
	top := append([]tarEntry{
		regular("etc/.wh.gone.txt", 0o644, 0, ""),
		regular("opq/.wh..wh..opq", 0o644, 0, ""),
		regular("opq/upper", 0o644, 0, "upper\n"),
		regular("etc/replaced.txt", 0o644, 0, "layer 2\n"),
	}, extra...)
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, base...), layerOf(t, top...))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func shell(script string) []string { return []string{"/bin/sh", "-c", script} }

func run(t *testing.T, s Spec) (*Result, string) {
	t.Helper()
	var out bytes.Buffer
	s.Stdout, s.Stderr = &out, &out
	res, err := Run(context.Background(), s, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	t.Cleanup(func() { res.Close() })
	return res, out.String()
}

func byPath(entries []layers.Entry) map[string]layers.Entry {
	m := map[string]layers.Entry{}
	for _, e := range entries {
		m[e.Path] = e
	}
	return m
}

func content(t *testing.T, e layers.Entry) string {
	t.Helper()
	if e.Type != layers.TypeFile {
		t.Fatalf("%s is a %s, not a file", e.Path, e.Type)
	}
	if e.Size == 0 {
		return ""
	}
	rc, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != e.Size {
		t.Errorf("%s: read %d bytes, entry says %d", e.Path, len(b), e.Size)
	}
	return string(b)
}

func TestRunChanges(t *testing.T) {
	testtool.RequireRoot(t)
	img := busyboxImage(t)
	res, out := run(t, Spec{Base: img, Env: []string{"GREETING=hi"}, Command: shell(`
set -e
echo "$GREETING" > /new.txt
echo modified >> /etc/modify.txt
rm /etc/delete.txt
mkdir -p /newdir/sub && echo deep > /newdir/sub/f
chmod 600 /etc/chmod.txt
echo mine > /chowned.txt && chown 1000:50 /chowned.txt
ln -s /etc/passwd /newlink
ln /etc/modify.txt /etc/modify.zlink
rm -r /opq && echo "now a file" > /opq
# what the materialised base looks like
echo "gone: $(cat /etc/gone.txt 2>&1 || echo absent)"
echo "opq: $(cat /opq/lower 2>/dev/null || echo hidden)"
echo "replaced: $(cat /etc/replaced.txt)"
echo "home: $(stat -c '%u:%g %a' /home/user)"
echo "links: $(stat -c %h /etc/hl1) $(cat /etc/hl2)"
echo "symlink: $(readlink /etc/passwd.link)"
echo "tmp: $(stat -c %a /tmp)"
echo "env: HOME=$HOME PATH=$PATH"
`)})
	for _, want := range []string{
		"gone: cat: can't open '/etc/gone.txt': No such file or directory",
		"opq: hidden",
		"replaced: layer 2",
		"home: 1000:1000 750",
		"links: 2 hard linked",
		"symlink: /etc/passwd",
		"tmp: 1777",
		"env: HOME=/root PATH=" + defaultPath,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got := byPath(res.Entries)
	check := func(p string, typ layers.EntryType, mode fs.FileMode, uid, gid int) layers.Entry {
		t.Helper()
		e, ok := got[p]
		if !ok {
			t.Errorf("no entry for %s", p)
			return e
		}
		if e.Type != typ || (typ != layers.TypeWhiteout && (e.Mode != mode || e.UID != uid || e.GID != gid)) {
			t.Errorf("%s: %s %v %d:%d, want %s %v %d:%d", p, e.Type, e.Mode, e.UID, e.GID, typ, mode, uid, gid)
		}
		return e
	}
	if c := content(t, check("new.txt", layers.TypeFile, 0o644, 0, 0)); c != "hi\n" {
		t.Errorf("new.txt = %q", c)
	}
	mod := check("etc/modify.txt", layers.TypeFile, 0o644, 0, 0)
	hl := check("etc/modify.zlink", layers.TypeHardlink, 0o644, 0, 0)
	if c := content(t, mod); c != "original\nmodified\n" {
		t.Errorf("etc/modify.txt = %q", c)
	}
	if hl.Link != "etc/modify.txt" {
		t.Errorf("hard link points at %q", hl.Link)
	}
	check("etc/delete.txt", layers.TypeWhiteout, 0, 0, 0)
	check("newdir", layers.TypeDir, 0o755, 0, 0)
	check("newdir/sub", layers.TypeDir, 0o755, 0, 0)
	check("newdir/sub/f", layers.TypeFile, 0o644, 0, 0)
	if c := content(t, check("etc/chmod.txt", layers.TypeFile, 0o600, 0, 0)); c != "same content\n" {
		t.Errorf("etc/chmod.txt = %q", c)
	}
	check("chowned.txt", layers.TypeFile, 0o644, 1000, 50)
	if e := check("newlink", layers.TypeSymlink, 0o777, 0, 0); e.Link != "/etc/passwd" {
		t.Errorf("newlink -> %q", e.Link)
	}
	if c := content(t, check("opq", layers.TypeFile, 0o644, 0, 0)); c != "now a file\n" {
		t.Errorf("opq = %q", c)
	}
	// Parents of changes come with their real metadata.
	check("etc", layers.TypeDir, 0o755, 0, 0)
	// A directory replaced by a file needs no whiteouts below it.
	if _, ok := got["opq/upper"]; ok {
		t.Error("whiteout under a path that is now a file")
	}
	// Untouched base files, the sandbox's mount points and its /dev are not changes.
	for _, p := range []string{"bin/busybox", "bin/sh", "etc/passwd", "etc/hl1", "etc/owned.txt", "home/user", "proc", "dev", "dev/null", "sys", "tmp", "etc/resolv.conf", "etc/hosts"} {
		if e, ok := got[p]; ok {
			t.Errorf("unexpected entry %s (%s)", p, e.Type)
		}
	}
	// The entries make a valid layer.
	if err := layers.WriteTar(io.Discard, res.Entries, time.Unix(0, 0)); err != nil {
		t.Errorf("writing the entries as a layer: %v", err)
	}
}

// TestRunSameContent: a file rewritten with the same bytes and mtime is not a
// change (decided by content hash); one with other bytes of the same size is.
func TestRunSameContent(t *testing.T) {
	testtool.RequireRoot(t)
	res, _ := run(t, Spec{Base: busyboxImage(t), Command: shell(`
set -e
cp -p /etc/modify.txt /tmp/x && rm /etc/modify.txt && cp -p /tmp/x /etc/modify.txt && rm /tmp/x
m=$(stat -c %Y /etc/chmod.txt)
echo "SAME CONTENT" > /etc/chmod.txt && touch -d "@$m" /etc/chmod.txt
`)})
	got := byPath(res.Entries)
	if _, ok := got["etc/modify.txt"]; ok {
		t.Error("etc/modify.txt rewritten identically was reported as changed")
	}
	e, ok := got["etc/chmod.txt"]
	if !ok {
		t.Fatal("etc/chmod.txt changed (same size, same mtime) but was not reported")
	}
	if c := content(t, e); c != "SAME CONTENT\n" {
		t.Errorf("etc/chmod.txt = %q", c)
	}
}

func TestRunAsUser(t *testing.T) {
	testtool.RequireRoot(t)
	img := busyboxImage(t)
	for _, user := range []string{"1000", "user"} {
		t.Run(user, func(t *testing.T) {
			res, out := run(t, Spec{Base: img, User: user, WorkDir: "/home/user/work", Command: shell(`
echo "whoami=$(whoami)"
echo "id=$(id)"
echo "pwd=$(pwd) home=$HOME"
echo hello > mine.txt
touch /etc/denied 2>/dev/null && echo "wrote /etc" || echo "no write to /etc"
`)})
			for _, want := range []string{
				"whoami=user",
				// Supplementary groups are the memberships /etc/group lists, as runc sets them.
				"id=uid=1000(user) gid=1000(user) groups=50(staff)",
				"pwd=/home/user/work home=/home/user",
				"no write to /etc",
			} {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			got := byPath(res.Entries)
			if e := got["home/user/work/mine.txt"]; e.Type != layers.TypeFile || e.UID != 1000 || e.GID != 1000 {
				t.Errorf("mine.txt: %+v, want a file owned by 1000:1000", e)
			}
			// The missing working directory is made for the user.
			if e := got["home/user/work"]; e.Type != layers.TypeDir || e.UID != 1000 || e.GID != 1000 {
				t.Errorf("home/user/work: %+v", e)
			}
			if e := got["home/user"]; e.Mode != 0o750 || e.UID != 1000 {
				t.Errorf("home/user as a parent: %+v, want 0750 owned by 1000", e)
			}
		})
	}
	_, err := Run(context.Background(), Spec{Base: img, User: "nosuchuser", Command: shell("true")}, WithTempDir(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "nosuchuser") {
		t.Errorf("unknown user: %v", err)
	}
}

func TestRunNetwork(t *testing.T) {
	testtool.RequireRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the host\n") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://%s/", ln.Addr())
	img := busyboxImage(t)
	script := "wget -q -O- " + url

	// Without the network the host's listener is out of reach.
	var out bytes.Buffer
	_, err = Run(context.Background(), Spec{Base: img, Command: shell(script), Stdout: &out, Stderr: &out}, WithTempDir(t.TempDir()))
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("wget without network: %v, want an exit error\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "hello from the host") {
		t.Errorf("reached the host without network:\n%s", out.String())
	}
	_, out2 := run(t, Spec{Base: img, Command: shell("ip -o link | cut -d: -f2 | tr -d ' '; ls /etc")})
	if strings.TrimSpace(strings.Split(out2, "\n")[0]) != "lo" || strings.Contains(out2, "resolv.conf") {
		t.Errorf("without network: want only lo and no resolv.conf:\n%s", out2)
	}

	// With it, the same command works and sees resolv.conf and hosts.
	res, out3 := run(t, Spec{Base: img, Network: true, Command: shell(script + "; grep -c localhost /etc/hosts; test -f /etc/resolv.conf && echo resolv")})
	if !strings.Contains(out3, "hello from the host\n") || !strings.Contains(out3, "resolv\n") {
		t.Errorf("with network:\n%s", out3)
	}
	for _, e := range res.Entries {
		t.Errorf("with network, nothing should change: %s %s", e.Type, e.Path)
	}
}

func TestRunExitStatus(t *testing.T) {
	testtool.RequireRoot(t)
	var out bytes.Buffer
	dir := t.TempDir()
	_, err := Run(context.Background(), Spec{Base: busyboxImage(t), Stdout: &out, Command: shell("echo step one; echo it broke >&2; exit 3")}, WithTempDir(dir))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v, want exit status 3", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "it broke") || !strings.Contains(msg, "step one") {
		t.Errorf("error lacks the status or the output: %q", msg)
	}
	if out.String() != "step one\n" {
		t.Errorf("stdout = %q", out.String())
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("work directory left behind: %v", left)
	}
	_, err = Run(context.Background(), Spec{Base: busyboxImage(t), Command: []string{"no-such-command"}}, WithTempDir(dir))
	if err == nil || !strings.Contains(err.Error(), "no-such-command") {
		t.Errorf("missing executable: %v", err)
	}
}

// TestRunBadBase: a base layer that tries to leave the root is refused.
func TestRunBadBase(t *testing.T) {
	testtool.RequireRoot(t)
	for _, bad := range []tarEntry{
		regular("../evil", 0o644, 0, "x"),
		regular("/abs", 0o644, 0, "x"),
		link("hl", "../../etc/shadow", tar.TypeLink),
	} {
		img := busyboxImage(t, bad)
		_, err := Run(context.Background(), Spec{Base: img, Command: shell("true")}, WithTempDir(t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), "layer 1") || !strings.Contains(err.Error(), strings.TrimPrefix(bad.hdr.Name, "/")) {
			t.Errorf("%s: %v, want an error naming the layer and the entry", bad.hdr.Name, err)
		}
		if testing.Verbose() {
			t.Log(err)
		}
	}
}

// TestRunIsolation: the command sees the image's root and nothing of the
// host, even through links in the base that point at host paths.
func TestRunIsolation(t *testing.T) {
	testtool.RequireRoot(t)
	hostDir := t.TempDir()
	secret := filepath.Join(hostDir, "secret.txt")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(hostDir, "/")
	img := busyboxImage(t,
		link("escape", hostDir, tar.TypeSymlink),
		link("up", "../../../../"+rel+"/secret.txt", tar.TypeSymlink),
		regular("escape/planted.txt", 0o644, 0, "must land inside the image\n"),
	)
	res, out := run(t, Spec{Base: img, Command: shell(`
cat ` + secret + ` 2>/dev/null && echo LEAK-direct
cat /up 2>/dev/null && echo LEAK-up
cat /escape/secret.txt 2>/dev/null && echo LEAK-escape
cd / && cd ../../.. && cat .` + secret + ` 2>/dev/null && echo LEAK-dotdot
cat /proc/1/root` + secret + ` 2>/dev/null && echo LEAK-proc
mkdir /jail && chroot /jail /bin/true 2>/dev/null; echo "root: $(ls / | tr '\n' ' ')"
echo "planted: $(cat /escape/planted.txt)"
echo "hostname: $(hostname)"
`)})
	if strings.Contains(out, "LEAK") || strings.Contains(out, "host secret") {
		t.Errorf("host file visible inside:\n%s", out)
	}
	for _, want := range []string{
		"root: bin dev escape etc home jail opq proc root sys tmp up ",
		"planted: must land inside the image",
		"hostname: assemble",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(hostDir, "planted.txt")); err == nil {
		t.Error("materialising a layer wrote through a symlink onto the host")
	}
	if e, ok := byPath(res.Entries)["jail"]; !ok || e.Type != layers.TypeDir {
		t.Errorf("jail: %+v", e)
	}
	// The sandbox's pipes are not inherited (ls has 3 open on the directory);
	// an exec-form command is found in PATH.
	_, out = run(t, Spec{Base: img, Command: []string{"ls", "/proc/self/fd"}})
	if strings.Fields(out) == nil || strings.Join(strings.Fields(out), " ") != "0 1 2 3" {
		t.Errorf("descriptors open in the command: %q, want 0 1 2 3", out)
	}
}

// TestRunCancel: cancelling the context stops the command and cleans up.
func TestRunCancel(t *testing.T) {
	testtool.RequireRoot(t)
	img := busyboxImage(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Spec{Base: img, Stdout: pw, Command: shell("echo started; sleep 1000 & sleep 1000")}, WithTempDir(dir))
		pw.Close()
		done <- err
	}()
	buf := make([]byte, 8)
	if n, err := io.ReadAtLeast(pr, buf, len("started")); err != nil || string(buf[:n]) != "started\n" {
		t.Fatalf("waiting for the command: %q, %v", buf[:n], err)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("work directory left behind: %v", left)
	}
}

func TestLayer(t *testing.T) {
	testtool.RequireRoot(t)
	img := busyboxImage(t)
	tmp := t.TempDir()
	spec := Spec{Base: img, Command: shell("mkdir -p /app && echo built > /app/out && rm /etc/delete.txt")}
	l := NewLayer(spec, WithTempDir(tmp))
	ctx := context.Background()
	k1, err := l.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []Spec{
		{Base: img, Command: shell("mkdir -p /app && echo built > /app/out")},
		{Base: img, Command: spec.Command, Env: []string{"A=1"}},
		{Base: img, Command: spec.Command, User: "1000"},
		{Base: img, Command: spec.Command, WorkDir: "/app"},
		{Base: img, Command: spec.Command, Network: true},
		{Base: busyboxImage(t, regular("extra", 0o644, 0, "x")), Command: spec.Command},
	} {
		k, err := NewLayer(other).Key(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if k == k1 {
			t.Errorf("key does not change with %+v", other)
		}
	}
	if k, _ := NewLayer(spec).Key(ctx); k != k1 {
		t.Error("key is not stable")
	}
	cache, err := layers.OpenCache(filepath.Join(tmp, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := cache.Build(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, cache.Layer(r.Descriptor))
	want := []string{"app/", "app/out", "etc/", "etc/.wh.delete.txt"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("layer holds %v, want %v", names, want)
	}
	// The work directory went once the layer was written.
	left, _ := filepath.Glob(filepath.Join(tmp, "assemble-run-*"))
	if len(left) != 0 {
		t.Errorf("work directory left behind: %v", left)
	}
	// A second build is a cache hit: the command does not run again.
	r2, err := cache.Build(ctx, NewLayer(spec, WithTempDir(tmp)))
	if err != nil || !r2.Hit || r2.Digest != r.Digest {
		t.Errorf("second build: %+v, %v", r2, err)
	}
}

func tarNames(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	testtool.EachTarEntry(t, rc, func(h *tar.Header, _ io.Reader) {
		names = append(names, h.Name)
	})
	return names
}

// TestRootless runs the sandbox as an unprivileged user (nobody, through
// setpriv): root in the namespace is that user, image owners are recorded
// rather than set, and running as another user is refused clearly.
func TestRootless(t *testing.T) {
	if os.Getenv("ASSEMBLE_ROOTLESS_HELPER") == "1" {
		rootlessHelper(t)
		return
	}
	testtool.RequireRoot(t)
	setpriv := testtool.RequireTool(t, "setpriv")
	// The test binary must be reachable by nobody.
	dir, err := os.MkdirTemp("", "assemble-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "run.test")
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "tmp")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	probe := buildProbe(t, dir)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run=^TestRootless$", "-test.v")
	cmd.Env = []string{"ASSEMBLE_ROOTLESS_HELPER=1", "ASSEMBLE_PROBE=" + probe, "TMPDIR=" + work, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	t.Logf("rootless run:\n%s", out)
	if err != nil {
		t.Fatalf("rootless helper failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestRootless") {
		t.Fatal("the rootless helper did not pass")
	}
}

func rootlessHelper(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("helper runs as root")
	}
	img := busyboxImage(t)
	res, out := run(t, Spec{Base: img, Command: shell(`
echo "id=$(id -u)"
echo "owned: $(stat -c %u /etc/owned.txt)"
echo more >> /etc/owned.txt
echo new > /new.txt
chmod 000 /new.txt
mkdir /locked && echo x > /locked/f && chmod 500 /locked
rm /etc/delete.txt
`)})
	if !strings.Contains(out, "id=0\n") {
		t.Errorf("not root in the namespace:\n%s", out)
	}
	got := byPath(res.Entries)
	// The image said 1000: the disk holds root, the layer keeps 1000.
	if e := got["etc/owned.txt"]; e.UID != 1000 || e.GID != 1000 || content(t, e) != "owned by user\nmore\n" {
		t.Errorf("etc/owned.txt: %+v", e)
	}
	if e := got["new.txt"]; e.Mode != 0 || content(t, e) != "new\n" {
		t.Errorf("new.txt (mode 000, still readable by the parent): %+v", e)
	}
	if e := got["locked"]; e.Mode != 0o500 {
		t.Errorf("locked: %+v", e)
	}
	if e := got["etc/delete.txt"]; e.Type != layers.TypeWhiteout {
		t.Errorf("etc/delete.txt: %+v", e)
	}
	if err := res.Close(); err != nil {
		t.Errorf("cleaning up: %v", err)
	}
	_, err := Run(context.Background(), Spec{Base: img, User: "1000", Command: shell("true")}, WithTempDir(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "run assemble as root") {
		t.Errorf("USER 1000 rootless: %v", err)
	}
	rootlessMounts(t)
	checkSandbox(t, probeImage(t, os.Getenv("ASSEMBLE_PROBE")), true)
}
