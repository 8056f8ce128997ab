package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
	ocisource "github.com/assemble-build/assemble/oci/source"
)

// testServices is the pipeline as the frontend sees it, over a real cache.
// Env records each translated install and, unless realEnv is set, stands
// in for it with a marker layer (/translated/<kind>-<n>) whose content
// lists what was asked.
type testServices struct {
	t     testing.TB
	cache *layers.Cache

	mu       sync.Mutex
	installs []plan.Layer
	layers   []string // descriptions of the layers built, in order
	// env, when set, builds real package layers.
	env func(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) ([]layers.Spec, error)
	// base, when set, opens references Base does not (deb:SUITE).
	base func(ctx context.Context, ref string, platform v1.Platform) (v1.Image, error)
}

func newServices(t testing.TB) *testServices {
	t.Helper()
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &testServices{t: t, cache: c}
}

func (s *testServices) Base(ctx context.Context, ref string, platform v1.Platform) (v1.Image, error) {
	if ref == "scratch" {
		return oci.Scratch(platform)
	}
	if strings.HasPrefix(ref, "deb:") && s.base != nil {
		return s.base(ctx, ref, platform)
	}
	b, err := ocisource.Parse(ref)
	if err != nil {
		return nil, err
	}
	return b.Image(ctx, platform)
}

func (s *testServices) Layer(ctx context.Context, spec layers.Spec) (v1.Layer, error) {
	res, err := s.cache.Build(ctx, spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.layers = append(s.layers, spec.Describe())
	s.mu.Unlock()
	return s.cache.Layer(res.Descriptor), nil
}

func (s *testServices) Env(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) ([]layers.Spec, error) {
	s.mu.Lock()
	s.installs = append(s.installs, l)
	n := len(s.installs)
	s.mu.Unlock()
	if s.env != nil {
		return s.env(ctx, l, img, platform)
	}
	var what string
	switch l.Kind {
	case plan.KindDeb:
		for _, p := range l.Deb.Packages {
			what += p.Name + "\n"
		}
	case plan.KindPython:
		what = strings.Join(append(append([]string(nil), l.Python.Requirements...), l.Python.Packages...), "\n") + "\n"
	}
	return []layers.Spec{&layers.Generated{Name: "translated " + l.Kind, Files: []layers.GeneratedFile{
		{Path: fmt.Sprintf("translated/%s-%d", l.Kind, n), Content: []byte(what), Mode: 0o644},
	}}}, nil
}

// repo writes files (path -> content; a trailing "/" makes a directory,
// "->target" a symlink) into a new directory.
func repo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// writeFiles writes files as repo does; a .sh file is executable.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	testtool.WriteFiles(t, dir, files, func(p string) bool { return strings.HasSuffix(p, ".sh") })
}

func amd64() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// build builds dir's Dockerfile (context ".").
func build(t testing.TB, svc Services, dir string, opts ...Option) v1.Image {
	t.Helper()
	img, err := Build(context.Background(), dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), svc, opts...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return img
}

func buildErr(t testing.TB, svc Services, dir string, opts ...Option) error {
	t.Helper()
	_, err := Build(context.Background(), dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), svc, opts...)
	if err == nil {
		t.Fatal("the build succeeded; want an error")
	}
	return err
}

// file is one path of a flattened image.
type file struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string
	content  string
	// nlink is a regular file's link count when it has other names (0: one).
	nlink int
}

func (f file) String() string {
	return fmt.Sprintf("type %c mode %04o owner %d:%d link %q content %q links %d", f.typ, f.mode, f.uid, f.gid, f.link, f.content, f.nlink)
}

// flatten applies an image's layers (whiteouts included) into a map of
// path -> file.
func flatten(t testing.TB, img v1.Image) map[string]file {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]file{}
	ids := map[string]int{} // regular file path -> inode number, shared by hard links
	inodes := 0
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var adds []struct {
			name string
			f    file
		}
		testtool.EachTarEntry(t, rc, func(h *tar.Header, body io.Reader) {
			name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
			dir, base := filepath.Split(name)
			if base == ".wh..wh..opq" {
				for k := range out {
					if strings.HasPrefix(k, dir) {
						delete(out, k)
						delete(ids, k)
					}
				}
				return
			}
			if strings.HasPrefix(base, ".wh.") {
				victim := dir + strings.TrimPrefix(base, ".wh.")
				for k := range out {
					if k == victim || strings.HasPrefix(k, victim+"/") {
						delete(out, k)
						delete(ids, k)
					}
				}
				return
			}
			f := file{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, link: h.Linkname}
			delete(ids, name)
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(body)
				f.content = string(b)
				inodes++
				ids[name] = inodes
			}
			if h.Typeflag == tar.TypeLink {
				target := strings.TrimPrefix(h.Linkname, "./")
				f = out[target]
				for _, a := range adds {
					if a.name == target {
						f = a.f
					}
				}
				ids[name] = ids[target]
			}
			adds = append(adds, struct {
				name string
				f    file
			}{name, f})
		})
		rc.Close()
		for _, a := range adds {
			out[a.name] = a.f
		}
	}
	// A regular file's link count: how many paths share its inode.
	count := map[int]int{}
	for _, id := range ids {
		count[id]++
	}
	for p, id := range ids {
		if f, ok := out[p]; ok && count[id] > 1 {
			f.nlink = count[id]
			out[p] = f
		}
	}
	return out
}

func configOf(t testing.TB, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func history(t testing.TB, img v1.Image) []string {
	var out []string
	for _, h := range configOf(t, img).History {
		s := h.CreatedBy
		if h.EmptyLayer {
			s += " (empty)"
		}
		out = append(out, s)
	}
	return out
}

func keys(m map[string]file) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// busyboxLayout writes an OCI layout holding a busybox image (Debian's
// static busybox and its applet links, /etc/passwd with a user "app"
// 1000:1000) under tag "busybox" and returns "oci:DIR:busybox".
func busyboxLayout(t testing.TB) string {
	t.Helper()
	bb := testtool.StaticBusybox(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1700000000, 0)
	dir := func(name string, mode int64) {
		tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: mt})
	}
	reg := func(name string, mode int64, uid int, body []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uid: uid, Gid: uid, Size: int64(len(body)), ModTime: mt})
		tw.Write(body)
	}
	for _, d := range []string{"bin", "etc", "home", "tmp", "usr", "usr/bin", "var", "var/lib", "var/lib/dpkg"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		dir(d, mode)
	}
	tw.WriteHeader(&tar.Header{Name: "home/app/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000, ModTime: mt})
	reg("bin/busybox", 0o755, 0, bb)
	for _, a := range []string{"sh", "ls", "cat", "echo", "rm", "mkdir", "touch", "chmod", "chown", "id", "test", "true", "false", "printf", "sleep", "env", "pwd", "grep", "wc", "stat"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: mt})
	}
	tw.WriteHeader(&tar.Header{Name: "usr/bin/env", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mt})
	reg("etc/passwd", 0o644, 0, []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"))
	reg("etc/group", 0o644, 0, []byte("root:x:0:\napp:x:1000:\nstaff:x:50:\n"))
	reg("etc/base-file", 0o644, 0, []byte("from the base\n"))
	reg("var/base.txt", 0o600, 0, []byte("delete me\n"))
	// A dpkg database, so that apt-get installs are translated here.
	reg("var/lib/dpkg/status", 0o644, 0, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	img := tarImage(t, buf.Bytes(), "busybox test base")
	var err error
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"PATH=/bin:/usr/bin", "BASE_VAR=base"}
	cf.Config.Cmd = []string{"sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "busybox")
	lp, err := layout.Write(p, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "busybox"})); err != nil {
		t.Fatal(err)
	}
	return "oci:" + p + ":busybox"
}

// writeLayout writes img into a new OCI layout under tag and returns its directory.
func writeLayout(t testing.TB, dir string, img v1.Image, tag string) string {
	t.Helper()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustContain(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

func configOfUser(u string) *v1.ConfigFile { return &v1.ConfigFile{Config: v1.Config{User: u}} }

// podmanRun runs an image of an OCI layout with podman (no daemon).
func podmanRun(t testing.TB, layoutDir, tag string, args ...string) string {
	t.Helper()
	return testtool.PodmanRun(t, shortDir(t), nil, "oci:"+layoutDir+":"+tag, args...)
}

// tarImage is a linux/amd64 image of one layer, the tar data.
func tarImage(t testing.TB, data []byte, createdBy string) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Scratch(amd64())
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: createdBy}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}
