package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/testtool"
)

// specialBase writes an image whose /tmp is 1777, /var/local 2775 and
// /opt/suid 4755 and returns its reference.
func specialBase(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1700000000, 0)
	for _, d := range []struct {
		name string
		mode int64
	}{{"tmp", 0o1777}, {"var", 0o755}, {"var/local", 0o2775}, {"opt", 0o755}, {"opt/suid", 0o4755}} {
		if err := tw.WriteHeader(&tar.Header{Name: d.name + "/", Typeflag: tar.TypeDir, Mode: d.mode, Gid: 50, ModTime: mt}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	img := tarImage(t, buf.Bytes(), "special base")
	return "oci:" + writeLayout(t, filepath.Join(t.TempDir(), "special"), img, "special") + ":special"
}

// layerEntries lists the entries of one layer: path -> mode (with the
// set-id and sticky bits) and owner.
func layerEntries(t *testing.T, l v1.Layer) map[string]file {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]file{}
	testtool.EachTarEntry(t, rc, func(h *tar.Header, _ io.Reader) {
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		out[name] = file{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, link: h.Linkname}
	})
	return out
}

// COPY and ADD into existing directories repeat them in the layer with their
// sticky, setgid and setuid bits.
func TestCopyKeepsSpecialBits(t *testing.T) {
	dir := repo(t, map[string]string{
		"Dockerfile": "FROM base\nCOPY a.txt /tmp/\nCOPY a.txt /var/local/sub/a.txt\nADD a.txt /opt/suid/\nWORKDIR /tmp/work\n",
		"a.txt":      "a\n",
	})
	img := build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": specialBase(t)}))
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 5 {
		t.Fatalf("%d layers, want 5", len(ls))
	}
	want := []map[string]int64{
		{"tmp": 0o1777, "tmp/a.txt": 0o644},
		{"var": 0o755, "var/local": 0o2775, "var/local/sub": 0o755, "var/local/sub/a.txt": 0o644},
		{"opt": 0o755, "opt/suid": 0o4755, "opt/suid/a.txt": 0o644},
		{"tmp": 0o1777, "tmp/work": 0o755},
	}
	for i, w := range want {
		got := layerEntries(t, ls[i+1])
		for p, mode := range w {
			if f, ok := got[p]; !ok || f.mode != mode {
				t.Errorf("layer %d: %s = %v, want mode %04o", i+1, p, f, mode)
			}
		}
		if len(got) != len(w) {
			t.Errorf("layer %d: entries %v, want %v", i+1, keys(got), w)
		}
	}
	files := flatten(t, img)
	if files["tmp"].mode != 0o1777 || files["var/local"].mode != 0o2775 || files["var/local"].gid != 50 {
		t.Errorf("image: tmp %v, var/local %v", files["tmp"], files["var/local"])
	}
}

// COPY of a directory to a new destination creates it as BuildKit does:
// 0755, --chmod applied, owned by --chown or root, whatever the source
// directory's own mode and owner.
func TestCopyDirNewDestination(t *testing.T) {
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": `FROM scratch
COPY --from=bb /home/app /plain
COPY --from=bb --chown=7:8 /home/app /owned
COPY --from=bb /tmp /tmpcopy
COPY --from=bb /home /homes
`})
	files := flatten(t, build(t, newServices(t), dir, WithBuildContexts(map[string]string{"bb": base})))
	for p, want := range map[string]file{
		"plain":     {typ: tar.TypeDir, mode: 0o755},
		"owned":     {typ: tar.TypeDir, mode: 0o755, uid: 7, gid: 8},
		"tmpcopy":   {typ: tar.TypeDir, mode: 0o755},
		"homes":     {typ: tar.TypeDir, mode: 0o755},
		"homes/app": {typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1000}, // below it: as in the source
	} {
		if f := files[p]; f != want {
			t.Errorf("%s = %v, want %v", p, f, want)
		}
	}
}

// VOLUME makes its missing directories (0755, root's, whatever USER is) in
// a layer of its own; existing ones leave it config only.
func TestVolumeCreatesDirectory(t *testing.T) {
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": `FROM base
USER app
VOLUME /data/one /data/two
WORKDIR /srv
VOLUME rel
VOLUME /tmp /etc
`})
	img := build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base}), WithNoRun(true))
	files := flatten(t, img)
	for _, p := range []string{"data", "data/one", "data/two", "srv/rel"} {
		if f := files[p]; f.typ != tar.TypeDir || f.mode != 0o755 || f.uid != 0 || f.gid != 0 {
			t.Errorf("%s = %v, want a 0755 root directory", p, f)
		}
	}
	if files["tmp"].mode != 0o1777 {
		t.Errorf("tmp = %v", files["tmp"])
	}
	vols := configOf(t, img).Config.Volumes
	for _, v := range []string{"/data/one", "/data/two", "rel", "/tmp", "/etc"} {
		if _, ok := vols[v]; !ok {
			t.Errorf("config volumes %v lack %s", vols, v)
		}
	}
	h := history(t, img)
	want := []string{"VOLUME [/data/one /data/two]", "WORKDIR /srv", "VOLUME [rel]", "VOLUME [/tmp /etc] (empty)"}
	if got := h[len(h)-len(want):]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history ends %q, want %q", got, want)
	}
	cf := configOf(t, img)
	checkLayersAgree(t, img, cf)

	// A file where the volume goes is refused.
	dir = repo(t, map[string]string{"Dockerfile": "FROM base\nVOLUME /etc/passwd\n"})
	mustContain(t, buildErr(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base})), "VOLUME /etc/passwd", "not a directory")
}

// A RUN after VOLUME writes into the directory VOLUME made.
func TestVolumeThenRun(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": "FROM base\nVOLUME /data\nRUN echo hi > /data/x && stat -c %a /data > /mode\n"})
	files := flatten(t, build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base})))
	if files["data/x"].content != "hi\n" || files["mode"].content != "755\n" {
		t.Errorf("data/x = %v, mode = %v", files["data/x"], files["mode"])
	}
}

// A wildcard's several matches are copied one after the other onto the
// destination, as BuildKit's file op does: into a directory, else each
// replacing the previous file; several named sources likewise.
func TestCopyGlobDestination(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY *.txt /dest\nCOPY a.txt /dir/\nCOPY *.txt /dir\n", "a.txt": "a\n", "b.txt": "b\n"})
	files := flatten(t, build(t, newServices(t), dir))
	if f := files["dest"]; f.typ != tar.TypeReg || f.content != "b\n" {
		t.Errorf("dest = %v", f)
	}
	if files["dir"].typ != tar.TypeDir || files["dir/a.txt"].content != "a\n" || files["dir/b.txt"].content != "b\n" {
		t.Errorf("files = %v", keys(files))
	}
	// Named sources too: BuildKit copies each on its own.
	dir = repo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a.txt b.txt /f\n", "a.txt": "a\n", "b.txt": "b\n"})
	if f := flatten(t, build(t, newServices(t), dir))["f"]; f.typ != tar.TypeReg || f.content != "b\n" {
		t.Errorf("f = %v", f)
	}
}

// Two stages of one name are a warning, as BuildKit's linter has it; the
// name then means the later stage, for FROM, COPY --from and the target.
func TestDuplicateStageNameWarns(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": `FROM scratch AS x
COPY a.txt /first
FROM scratch AS x
COPY a.txt /second
FROM x AS based
FROM scratch
COPY --from=x /second /copied
`, "a.txt": "a\n"})
	var logs bytes.Buffer
	ctx := logctx.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	img, err := Build(ctx, dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), newServices(t))
	if err != nil {
		t.Fatal(err)
	}
	if files := flatten(t, img); files["copied"].content != "a\n" {
		t.Errorf("files = %v", keys(files))
	}
	mustContain(t, errors.New(logs.String()), "level=WARN", `Dockerfile:3: stage name \"x\" is already used at line 1`)
	img, err = Build(context.Background(), dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), newServices(t), WithTarget("based"))
	if err != nil {
		t.Fatal(err)
	}
	if files := flatten(t, img); files["second"].content != "a\n" || len(files) != 1 {
		t.Errorf("FROM x: files = %v", keys(files))
	}
	img, err = Build(context.Background(), dir, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), newServices(t), WithTarget("x"))
	if err != nil {
		t.Fatal(err)
	}
	if files := flatten(t, img); files["second"].content != "a\n" || len(files) != 1 {
		t.Errorf("target x: files = %v", keys(files))
	}
}

// A RUN without a command is refused, naming its line.
func TestBareRun(t *testing.T) {
	for _, df := range []string{"FROM scratch\nRUN\n", "FROM scratch\nRUN   \n", "FROM scratch\nRUN []\n", "FROM scratch\nRUN --network=none\n"} {
		err := buildErr(t, newServices(t), repo(t, map[string]string{"Dockerfile": df}), WithNoRun(true))
		mustContain(t, err, "Dockerfile:2:", "RUN has no command")
	}
	// With running turned on too.
	mustContain(t, buildErr(t, newServices(t), repo(t, map[string]string{"Dockerfile": "FROM scratch\nRUN\n"})), "Dockerfile:2:", "RUN has no command")
}

// Directories COPY creates (missing parents, a new destination) get an
// octal --chmod's permission bits, as BuildKit's copy passes that mode to
// MkdirAll (BuildKit's testCopyChmod: /parent 0777, /parent/sub 0770); a
// symbolic --chmod leaves them 0755 and ADD's unpack makes its
// destination 0755. (buildah 1.28 makes them all 0755.)
func TestCopyChmodNewDirectories(t *testing.T) {
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM scratch
COPY --chmod=777 a.txt /parent/foo
COPY --chmod=770 a.txt /parent/sub/foo
COPY --chmod=4750 dir /newdir/
COPY --chmod=go-w dir /symdir/
`,
		"a.txt":         "a\n",
		"dir/sub/f.txt": "f\n",
	})
	files := flatten(t, build(t, newServices(t), dir))
	for p, mode := range map[string]int64{
		"parent": 0o777, "parent/foo": 0o777, "parent/sub": 0o770, "parent/sub/foo": 0o770,
		"newdir": 0o750, "newdir/sub": 0o4750, "newdir/sub/f.txt": 0o4750,
		"symdir": 0o755, "symdir/sub": 0o755, "symdir/sub/f.txt": 0o644,
	} {
		if f, ok := files[p]; !ok || f.mode != mode {
			t.Errorf("%s = %v, want mode %04o", p, f, mode)
		}
	}
}
