package dockerfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// COPY as Docker has it: a directory's contents, a file into an existing
// or slash-ended directory, globs, .dockerignore, modes kept, owners root
// unless --chown, --chmod, parents of new directories.
func TestCopySemantics(t *testing.T) {
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM base
COPY src /app
COPY one.txt /etc
COPY one.txt two.txt /multi/
COPY *.md /docs/
COPY one.txt /renamed.txt
COPY --chown=app one.txt /home/app/owned.txt
COPY --chown=1234:staff one.txt /deep/new/dir/
COPY --chmod=0700 run.sh /bin/
COPY --chmod=u+x,go-r one.txt /sym.txt
COPY linkdir /linked/
COPY one.txt /bin/viabinlink/
`,
		"src/a.txt":         "a\n",
		"src/sub/b.txt":     "b\n",
		"src/tool.sh":       "#!/bin/sh\n",
		"src/ignored.log":   "no\n",
		"src/keep.log":      "yes\n",
		"one.txt":           "one\n",
		"two.txt":           "two\n",
		"x.md":              "x\n",
		"y.md":              "y\n",
		"run.sh":            "#!/bin/sh\necho run\n",
		"linkdir/real.txt":  "real\n",
		"linkdir/alias":     "->real.txt",
		".dockerignore":     "**/*.log\n!src/keep.log\n",
		"secret/ignored.md": "no\n",
	})
	svc := newServices(t)
	img := build(t, svc, dir, WithBuildContexts(map[string]string{"base": base}))
	files := flatten(t, img)
	check := func(p string, typ byte, mode int64, uid, gid int, content string) {
		t.Helper()
		f, ok := files[p]
		if !ok {
			t.Errorf("%s is missing", p)
			return
		}
		if f.typ != typ || f.mode != mode || f.uid != uid || f.gid != gid || (typ == tar.TypeReg && f.content != content) || (typ == tar.TypeSymlink && f.link != content) {
			t.Errorf("%s = %v; want type %c mode %04o owner %d:%d content %q", p, f, typ, mode, uid, gid, content)
		}
	}
	check("app", tar.TypeDir, 0o755, 0, 0, "")
	check("app/a.txt", tar.TypeReg, 0o644, 0, 0, "a\n")
	check("app/sub/b.txt", tar.TypeReg, 0o644, 0, 0, "b\n")
	check("app/tool.sh", tar.TypeReg, 0o755, 0, 0, "#!/bin/sh\n")
	check("app/keep.log", tar.TypeReg, 0o644, 0, 0, "yes\n")
	check("etc/one.txt", tar.TypeReg, 0o644, 0, 0, "one\n") // into an existing directory
	check("etc/base-file", tar.TypeReg, 0o644, 0, 0, "from the base\n")
	check("multi/one.txt", tar.TypeReg, 0o644, 0, 0, "one\n")
	check("multi/two.txt", tar.TypeReg, 0o644, 0, 0, "two\n")
	check("docs/x.md", tar.TypeReg, 0o644, 0, 0, "x\n")
	check("docs/y.md", tar.TypeReg, 0o644, 0, 0, "y\n")
	check("renamed.txt", tar.TypeReg, 0o644, 0, 0, "one\n")
	check("home/app", tar.TypeDir, 0o750, 1000, 1000, "") // an existing parent keeps owner and mode
	check("home/app/owned.txt", tar.TypeReg, 0o644, 1000, 1000, "one\n")
	check("deep", tar.TypeDir, 0o755, 1234, 50, "")
	check("deep/new/dir/one.txt", tar.TypeReg, 0o644, 1234, 50, "one\n")
	check("bin/run.sh", tar.TypeReg, 0o700, 0, 0, "#!/bin/sh\necho run\n")
	check("sym.txt", tar.TypeReg, 0o700, 0, 0, "one\n")
	check("linked/real.txt", tar.TypeReg, 0o644, 0, 0, "real\n")
	check("linked/alias", tar.TypeSymlink, 0o777, 0, 0, "real.txt")
	check("bin/viabinlink/one.txt", tar.TypeReg, 0o644, 0, 0, "one\n")
	for _, p := range []string{"app/ignored.log", "docs/ignored.md", "Dockerfile", "app/src"} {
		if _, ok := files[p]; ok {
			t.Errorf("%s should not be in the image", p)
		}
	}
	// Layers carry the existing parents with their metadata, not root's.
	h := history(t, img)
	if !strings.HasPrefix(h[1], "COPY src /app") || !strings.HasPrefix(h[7], "COPY --chown=1234:staff one.txt /deep/new/dir/") {
		t.Errorf("history = %q", h)
	}
}

// COPY through a symbolic link in the image: usr-merged /bin.
func TestCopyThroughImageSymlink(t *testing.T) {
	dir := repo(t, map[string]string{
		"Dockerfile":           "FROM scratch\nCOPY rootfs/ /\nCOPY tool /bin/\nCOPY tools/ /lib/x/\n",
		"rootfs/usr/bin/.keep": "",
		"rootfs/usr/lib/.keep": "",
		"rootfs/bin":           "->usr/bin",
		"rootfs/lib":           "->/usr/lib",
		"tool":                 "t\n",
		"tools/a":              "a\n",
	})
	files := flatten(t, build(t, newServices(t), dir))
	if f := files["bin"]; f.typ != tar.TypeSymlink || f.link != "usr/bin" {
		t.Errorf("bin = %v (the link must stay)", f)
	}
	if f := files["usr/bin/tool"]; f.content != "t\n" {
		t.Errorf("usr/bin/tool = %v; files %v", f, keys(files))
	}
	if f := files["usr/lib/x/a"]; f.content != "a\n" {
		t.Errorf("usr/lib/x/a = %v; files %v", f, keys(files))
	}
}

// COPY --from an image (an OCI layout) and a build-context directory.
func TestCopyFromImageAndContexts(t *testing.T) {
	base := busyboxLayout(t)
	other := repo(t, map[string]string{"data/x.txt": "x\n"})
	dir := repo(t, map[string]string{"Dockerfile": `FROM scratch
COPY --from=bb /home/app /copied-home
COPY --from=` + base + ` /etc/passwd /passwd
COPY --from=files data/x.txt /x.txt
COPY --from=files / /all/
`})
	files := flatten(t, build(t, newServices(t), dir, WithBuildContexts(map[string]string{"bb": base, "files": other})))
	// A new destination directory is BuildKit's (0755, root's), not the
	// source's (0750, 1000): see TestCopyDirNewDestination.
	if f := files["copied-home"]; f.typ != tar.TypeDir || f.uid != 0 || f.mode != 0o755 {
		t.Errorf("copied-home = %v", f)
	}
	if !strings.Contains(files["passwd"].content, "app:x:1000") {
		t.Errorf("passwd = %v", files["passwd"])
	}
	if files["x.txt"].content != "x\n" || files["all/data/x.txt"].content != "x\n" {
		t.Errorf("files = %v", keys(files))
	}

	// A directory as a FROM base: its files on an empty image.
	dir = repo(t, map[string]string{"Dockerfile": "FROM rootfs\nCOPY add.txt /data/\n", "add.txt": "added\n"})
	files = flatten(t, build(t, newServices(t), dir, WithBuildContexts(map[string]string{"rootfs": other})))
	if files["data/x.txt"].content != "x\n" || files["data/add.txt"].content != "added\n" || len(files) != 3 {
		t.Errorf("FROM a directory: files = %v", keys(files))
	}
}

// --link, --parents, --exclude.
func TestCopyFlags(t *testing.T) {
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM base
COPY --link --chown=7:7 one.txt /home/app/linked.txt
COPY --parents a/b/c.txt a/d/e.txt /p/
COPY --parents ./a/./b/c.txt /q/
COPY --exclude=*.tmp --exclude=skip dir/ /ex/
`,
		"one.txt":      "1\n",
		"a/b/c.txt":    "c\n",
		"a/d/e.txt":    "e\n",
		"dir/keep.txt": "k\n",
		"dir/drop.tmp": "d\n",
		"dir/skip/s":   "s\n",
	})
	img := build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base}))
	files := flatten(t, img)
	// A linked layer is made on an empty root: its parents are new (0755, root).
	if f := files["home/app"]; f.mode != 0o755 || f.uid != 7 {
		t.Errorf("home/app after --link = %v (parents are created in the linked layer, owned by --chown)", f)
	}
	if f := files["home/app/linked.txt"]; f.uid != 7 || f.content != "1\n" {
		t.Errorf("linked.txt = %v", f)
	}
	for _, p := range []string{"p/a/b/c.txt", "p/a/d/e.txt", "q/b/c.txt", "ex/keep.txt"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing; files %v", p, keys(files))
		}
	}
	for _, p := range []string{"ex/drop.tmp", "ex/skip/s", "ex/skip"} {
		if _, ok := files[p]; ok {
			t.Errorf("%s should be excluded", p)
		}
	}
	err := buildErr(t, newServices(t), repo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY --link --chown=app x /x\n", "x": ""}))
	mustContain(t, err, "Dockerfile:2:", "--link", "numeric")
}

// ADD: a local tar is unpacked (gzip detected by content), a URL is
// downloaded (0600) and checked against --checksum.
func TestAdd(t *testing.T) {
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	add := func(h tar.Header, body string) {
		h.Size = int64(len(body))
		h.ModTime = time.Unix(1, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	add(tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o711, Uid: 5, Gid: 6}, "")
	add(tar.Header{Name: "pkg/bin/tool", Typeflag: tar.TypeReg, Mode: 0o755, Uid: 5, Gid: 6}, "tool\n")
	add(tar.Header{Name: "pkg/link", Typeflag: tar.TypeSymlink, Linkname: "/usr/bin/tool", Mode: 0o777}, "")
	add(tar.Header{Name: "pkg/hard", Typeflag: tar.TypeLink, Linkname: "pkg/bin/tool"}, "")
	tw.Close()
	zw.Close()
	payload := "downloaded\n"
	sum := sha256.Sum256([]byte(payload))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(payload)) }))
	defer srv.Close()
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM scratch
ADD archive.bin /opt/
ADD --chown=1:2 archive.bin /owned
ADD ` + srv.URL + `/file.txt /dl/
ADD --checksum=sha256:` + hex.EncodeToString(sum[:]) + ` --chmod=644 ` + srv.URL + `/file.txt /dl/checked
ADD plain.txt /plain.txt
`,
		"plain.txt": "plain\n",
	})
	if err := os.WriteFile(filepath.Join(dir, "archive.bin"), tgz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	files := flatten(t, build(t, newServices(t), dir))
	if f := files["opt/pkg"]; f.mode != 0o711 || f.uid != 5 || f.gid != 6 {
		t.Errorf("opt/pkg = %v", f)
	}
	if f := files["opt/pkg/bin/tool"]; f.content != "tool\n" || f.mode != 0o755 || f.uid != 5 {
		t.Errorf("opt/pkg/bin/tool = %v", f)
	}
	if f := files["opt/pkg/link"]; f.typ != tar.TypeSymlink || f.link != "/usr/bin/tool" {
		t.Errorf("opt/pkg/link = %v", f)
	}
	if f := files["opt/pkg/hard"]; f.content != "tool\n" {
		t.Errorf("opt/pkg/hard = %v", f)
	}
	if f := files["owned/pkg/bin/tool"]; f.uid != 1 || f.gid != 2 {
		t.Errorf("owned/pkg/bin/tool = %v", f)
	}
	if f := files["dl/file.txt"]; f.content != payload || f.mode != 0o600 {
		t.Errorf("dl/file.txt = %v", f)
	}
	if f := files["dl/checked"]; f.content != payload || f.mode != 0o644 {
		t.Errorf("dl/checked = %v", f)
	}
	if f := files["plain.txt"]; f.content != "plain\n" {
		t.Errorf("plain.txt = %v", f)
	}
	// A wrong checksum is an error naming the line.
	bad := repo(t, map[string]string{"Dockerfile": "FROM scratch\n\nADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + srv.URL + "/f /f\n"})
	mustContain(t, buildErr(t, newServices(t), bad), "Dockerfile:3:", "checksum mismatch")
}

// Archives that would write outside where they are unpacked are refused.
func TestAddRefusesEscapes(t *testing.T) {
	cases := map[string][]tar.Header{
		"dotdot":   {{Name: "../evil", Typeflag: tar.TypeReg}},
		"absolute": {{Name: "/etc/evil", Typeflag: tar.TypeReg}},
		"through":  {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, {Name: "l/passwd", Typeflag: tar.TypeReg}},
		"hardlink": {{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}},
	}
	for name, hdrs := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range hdrs {
				h.Mode = 0o644
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			dir := repo(t, map[string]string{"Dockerfile": "FROM scratch\nADD evil.tar /x/\n"})
			os.WriteFile(filepath.Join(dir, "evil.tar"), buf.Bytes(), 0o644)
			mustContain(t, buildErr(t, newServices(t), dir), "Dockerfile:2:", "evil.tar")
		})
	}
}

// Sources outside the context, missing ones, and symlinks that lead out.
func TestCopyErrors(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	cases := []struct {
		df    string
		files map[string]string
		want  []string
	}{
		{"FROM scratch\nCOPY ../secret /x\n", nil, []string{"Dockerfile:2:", "outside the build context"}},
		{"FROM scratch\nCOPY link /x\n", map[string]string{"link": "->" + filepath.Join(outside, "secret")}, []string{"Dockerfile:2:", "outside the build context"}},
		{"FROM scratch\nCOPY rel /x\n", map[string]string{"rel": "->../../../../../../../../etc/passwd"}, []string{"Dockerfile:2:", "outside the build context"}},
		{"FROM scratch\nCOPY d/up /x\n", map[string]string{"d": "->sub", "sub/up": "->../../secret"}, []string{"Dockerfile:2:", "sub/up is a symbolic link to ../../secret, outside the build context"}},
		{"FROM scratch\nCOPY loop /x\n", map[string]string{"loop": "->loop"}, []string{"Dockerfile:2:", "too many levels of symbolic links"}},
		{"FROM scratch\n\nCOPY nothere /x\n", nil, []string{"Dockerfile:3:", "nothere", "not found in the build context"}},
		{"FROM scratch AS a\nCOPY --from=later /x /x\nFROM scratch AS later\nCOPY --from=a /x /y\n", nil, []string{"Dockerfile:2:", `"later" is defined after this one`}},
		{"FROM scratch\nCOPY --from=nosuchstage /x /x\n", nil, []string{"Dockerfile:2:", "nosuchstage"}},
		{"FROM scratch\nCOPY --from=5 /x /x\n", nil, []string{"Dockerfile:2:", "stage 5 is not defined"}},
		{"FROM scratch\nCOPY --chown=nobody x /x\n", map[string]string{"x": ""}, []string{"Dockerfile:2:", `user "nobody"`}},
		{"FROM scratch\nCOPY --chmod=9999 x /x\n", map[string]string{"x": ""}, []string{"Dockerfile:2:", "--chmod"}},
		{"FROM scratch\nCOPY http://example.com/x /x\n", nil, []string{"Dockerfile:2:", "COPY takes no URLs"}},
		{"FROM scratch\nCOPY .wh.x /x/\n", map[string]string{".wh.x": ""}, []string{"Dockerfile:2:", "whiteout"}},
	}
	for _, c := range cases {
		t.Run(strings.Split(c.df, "\n")[1], func(t *testing.T) {
			files := map[string]string{"Dockerfile": c.df}
			for k, v := range c.files {
				files[k] = v
			}
			err := buildErr(t, newServices(t), repo(t, files))
			mustContain(t, err, c.want...)
		})
	}
}
