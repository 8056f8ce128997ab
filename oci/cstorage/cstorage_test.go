//go:build cgo

package cstorage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/cstorage/internal/storage"
	"github.com/assemble-build/assemble/oci/sink"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	graphdriver "go.podman.io/storage/drivers"
)

func TestMain(m *testing.M) {
	// The storage library re-executes the test binary to extract layers.
	if Init() {
		return
	}
	if os.Getenv(rootlessHelperEnv) != "" {
		os.Exit(rootlessHelper())
	}
	os.Exit(m.Run())
}

type file struct {
	name, link string
	mode       int64
	body       []byte
}

func layer(files ...file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Format: tar.FormatPAX}
		switch {
		case f.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.link
		case strings.HasSuffix(f.name, "/"):
			h.Typeflag = tar.TypeDir
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func mustLayer(t *testing.T, files ...file) v1.Layer {
	t.Helper()
	l, err := layer(files...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// busyboxImage is a one-layer image with Debian's static busybox as
// /bin/busybox and /bin/sh.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	testtool.RequireFile(t, "/bin/busybox", "busybox-static")
	img, err := buildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func buildBusybox() (v1.Image, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	l, err := layer(
		file{name: "bin/", mode: 0o755},
		file{name: "bin/busybox", mode: 0o755, body: bb},
		file{name: "bin/sh", link: "busybox", mode: 0o777},
	)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	return mutate.ConfigFile(img, cf)
}

type podmanStore struct {
	t             *testing.T
	podman        string
	driver        string
	root, runRoot string
}

func (p *podmanStore) cmd(args ...string) (string, error) {
	p.t.Helper()
	full := append([]string{"--storage-driver", p.driver, "--root", p.root, "--runroot", p.runRoot,
		"--cgroup-manager", "cgroupfs", "--runtime", "runc"}, args...)
	out, err := exec.Command(p.podman, full...).CombinedOutput()
	return string(out), err
}

func (p *podmanStore) run(ref string, cmd ...string) string {
	p.t.Helper()
	args := append([]string{"run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ref}, cmd...)
	out, err := p.cmd(args...)
	testtool.AwaitProcesses(p.t, p.root)
	if err != nil {
		p.t.Fatalf("podman run %s: %v\n%s", ref, err, out)
	}
	return out
}

type podmanImage struct {
	ID     string   `json:"Id"`
	Digest string   `json:"Digest"`
	Names  []string `json:"Names"`
}

func (p *podmanStore) images() []podmanImage {
	p.t.Helper()
	out, err := p.cmd("images", "--format", "json")
	if err != nil {
		p.t.Fatalf("podman images: %v\n%s", err, out)
	}
	var imgs []podmanImage
	if err := json.Unmarshal([]byte(out), &imgs); err != nil {
		p.t.Fatalf("podman images output: %v\n%s", err, out)
	}
	return imgs
}

func (p *podmanStore) find(name string) *podmanImage {
	for _, im := range p.images() {
		for _, n := range im.Names {
			if n == name {
				return &im
			}
		}
	}
	return nil
}

func TestWritePodman(t *testing.T) {
	for _, driver := range []string{"vfs", "overlay"} {
		t.Run(driver, func(t *testing.T) { testWritePodman(t, driver) })
	}
}

func testWritePodman(t *testing.T, driver string) {
	podman := testtool.RequireTool(t, "podman")
	testtool.RequireTool(t, "runc")
	testtool.RequireRoot(t) // rootless needs EnterUserNamespace in a real program
	ctx := context.Background()
	p := &podmanStore{t: t, podman: podman, driver: driver, root: t.TempDir(), runRoot: t.TempDir()}
	opts := []Option{WithRoot(p.root), WithRunRoot(p.runRoot), WithDriver(driver)}

	base := busyboxImage(t)
	id, err := Write(ctx, "containers-storage:localhost/cstorage-test:v1", base, opts...)
	if driver == "overlay" && (errors.Is(err, graphdriver.ErrNotSupported) || errors.Is(err, graphdriver.ErrIncompatibleFS)) {
		t.Skipf("the kernel or filesystem has no overlay support here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := base.ConfigName()
	wantDigest, _ := base.Digest()
	if id != wantID {
		t.Errorf("Write returned %s, want the config digest %s", id, wantID)
	}
	if out := p.run("localhost/cstorage-test:v1", "/bin/busybox", "echo", "hello"); out != "hello\n" {
		t.Errorf("podman run printed %q, want \"hello\\n\"", out)
	}
	im := p.find("localhost/cstorage-test:v1")
	if im == nil {
		t.Fatalf("podman images does not list localhost/cstorage-test:v1: %+v", p.images())
	}
	if im.ID != wantID.Hex || im.Digest != wantDigest.String() {
		t.Errorf("podman lists ID %s digest %s, want %s %s", im.ID, im.Digest, wantID.Hex, wantDigest)
	}

	// An OCI image on top of the same base, under a short name: the base
	// layer is shared, the new one is added.
	top, err := mutate.AppendLayers(base, mustLayer(t, file{name: "hello.txt", mode: 0o644, body: []byte("from the second layer\n")}))
	if err != nil {
		t.Fatal(err)
	}
	top = mutate.ConfigMediaType(mutate.MediaType(top, types.OCIManifestSchema1), types.OCIConfigJSON)
	topID, err := Write(ctx, "shortname", top, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if out := p.run("docker.io/library/shortname:latest", "/bin/busybox", "cat", "/hello.txt"); out != "from the second layer\n" {
		t.Errorf("podman run cat printed %q", out)
	}
	topDigest, _ := top.Digest()
	if im := p.find("docker.io/library/shortname:latest"); im == nil || im.Digest != topDigest.String() || im.ID != topID.Hex {
		t.Errorf("podman lists %+v, want ID %s digest %s", im, topID.Hex, topDigest)
	}

	// Writing again is idempotent, and moving a tag takes it from the
	// image that had it.
	if _, err := Write(ctx, "localhost/cstorage-test:v1", base, opts...); err != nil {
		t.Fatalf("second write: %v", err)
	}
	if _, err := Write(ctx, "localhost/cstorage-test:v1", top, opts...); err != nil {
		t.Fatalf("retag: %v", err)
	}
	if im := p.find("localhost/cstorage-test:v1"); im == nil || im.ID != topID.Hex {
		t.Errorf("after retag, v1 is %+v, want ID %s", im, topID.Hex)
	}
	if n := len(p.images()); n != 2 {
		t.Errorf("podman lists %d images, want 2 (the base is now untagged)", n)
	}

	store := openTestStore(t, p)
	defer func() { _, _ = store.Shutdown(false) }()
	ls, err := store.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Errorf("store has %d layers, want 2 (shared base + one)", len(ls))
	}
}

// lyingLayer reports a diffID that its content does not have.
type lyingLayer struct{ v1.Layer }

func (l lyingLayer) DiffID() (v1.Hash, error) {
	return v1.NewHash("sha256:" + strings.Repeat("ab", 32))
}

func TestWriteRejectsWrongDiffID(t *testing.T) {
	testtool.RequireRoot(t) // or a user namespace
	root, runRoot := t.TempDir(), t.TempDir()
	img, err := mutate.AppendLayers(empty.Image, lyingLayer{mustLayer(t, file{name: "a", mode: 0o644, body: []byte("a")})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Write(context.Background(), "localhost/bad:1", img, WithRoot(root), WithRunRoot(runRoot), WithDriver("vfs"))
	if err == nil || !strings.Contains(err.Error(), "does not match its digests") {
		t.Fatalf("want a digest mismatch error, got %v", err)
	}
	store := openTestStore(t, &podmanStore{driver: "vfs", root: root, runRoot: runRoot})
	defer store.Shutdown(false)
	if ls, _ := store.Layers(); len(ls) != 0 {
		t.Errorf("the bad layer was left in the store: %d layers", len(ls))
	}
	if is, _ := store.Images(); len(is) != 0 {
		t.Errorf("an image was created: %+v", is)
	}
}

// TestBtrfsLeftOut: the store links no btrfs driver (its cgo needs the
// libbtrfs headers; cmd/assemble's TestBuildNeedsNoBtrfs checks the link),
// and a btrfs store gets an error that says what to do instead of the
// storage library's "driver not supported".
func TestBtrfsLeftOut(t *testing.T) {
	testtool.RequireRoot(t) // Write checks for root or a user namespace first
	_, err := Write(context.Background(), "localhost/app:1", busyboxImage(t), WithRoot(t.TempDir()), WithRunRoot(t.TempDir()), WithDriver("btrfs"))
	if err == nil || !strings.Contains(err.Error(), "uses the btrfs driver, which assemble leaves out: write to a store with the overlay or vfs driver") {
		t.Errorf("want the btrfs driver refused with advice, got %v", err)
	}
}

func openTestStore(t *testing.T, p *podmanStore) storage.Store {
	t.Helper()
	s, err := storage.GetStore(storage.StoreOptions{GraphRoot: p.root, RunRoot: p.runRoot, GraphDriverName: p.driver})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Reference
		err  string
	}{
		{in: "app", want: Reference{Name: "docker.io/library/app:latest"}},
		{in: "containers-storage:app:1", want: Reference{Name: "docker.io/library/app:1"}},
		{in: "team/app", want: Reference{Name: "docker.io/team/app:latest"}},
		{in: "localhost/app:v2", want: Reference{Name: "localhost/app:v2"}},
		{in: "quay.io/labnow/base:2025.0907.2134-588a32b", want: Reference{Name: "quay.io/labnow/base:2025.0907.2134-588a32b"}},
		{in: "reg:5000/a/b", want: Reference{Name: "reg:5000/a/b:latest"}},
		{in: "containers-storage:[vfs@/var/tmp/r+/run/rr]localhost/x", want: Reference{Name: "localhost/x:latest", Driver: "vfs", Root: "/var/tmp/r", RunRoot: "/run/rr"}},
		{in: "[/var/tmp/r]x", want: Reference{Name: "docker.io/library/x:latest", Root: "/var/tmp/r"}},
		{in: "[vfs@rel+/x]x", err: "absolute"},
		{in: "[vfs@/a+/b:opt=1]x", err: "driver options"},
		{in: "[vfs@/a+/b", err: "unclosed"},
		{in: "containers-storage:", err: "no image name"},
		{in: "app@sha256:" + strings.Repeat("0", 64), err: "not a digest"},
		{in: "App/x", want: Reference{Name: ""}, err: "App"},
		{in: "app:bad tag", err: "bad tag"},
	} {
		got, err := ParseReference(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseReference(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseReference(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestSink stores an index item (the machine's platform is picked) under
// its own name, and refuses two items for one fixed name.
func TestSink(t *testing.T) {
	podman := testtool.RequireTool(t, "podman")
	testtool.RequireTool(t, "runc")
	testtool.RequireRoot(t) // or a user namespace
	p := &podmanStore{t: t, podman: podman, driver: "vfs", root: t.TempDir(), runRoot: t.TempDir()}
	bb := busyboxImage(t)
	other := "s390x"
	if runtime.GOARCH == other {
		other = "arm64"
	}
	oi, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: other, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: oi, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: bb, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	s, err := NewSink("containers-storage:[vfs@"+p.root+"+"+p.runRoot+"]", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Write(context.Background(), []sink.Item{{Name: "localhost/multi:1", Index: idx}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := bb.Digest()
	if len(res) != 1 || res[0].Digest != want || res[0].Ref != "localhost/multi:1" {
		t.Fatalf("results %+v, want the %s image %s", res, runtime.GOARCH, want)
	}
	if im := p.find("localhost/multi:1"); im == nil || im.Digest != want.String() {
		t.Errorf("podman lists %+v, want digest %s", im, want)
	}
	if out := p.run("localhost/multi:1", "/bin/busybox", "echo", "hello"); out != "hello\n" {
		t.Errorf("podman run printed %q", out)
	}

	fixed, err := NewSink("containers-storage:[vfs@"+p.root+"+"+p.runRoot+"]localhost/one", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fixed.Write(context.Background(), []sink.Item{{Name: "a", Image: bb}, {Name: "b", Image: bb}})
	if err == nil || !strings.Contains(err.Error(), "names one image but 2 were given") {
		t.Errorf("want an error for two items under one name, got %v", err)
	}
	rv, err := NewSink("containers-storage:[vfs@"+p.root+"+"+p.runRoot+"]", &v1.Platform{OS: "linux", Architecture: "riscv64"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rv.Write(context.Background(), []sink.Item{{Name: "x", Index: idx}}); err == nil || !strings.Contains(err.Error(), "choose one with --platform") {
		t.Errorf("want a missing-platform error, got %v", err)
	}
}
