package dockerfile

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
)

// Hard links stay hard links: files hard-linked in the context, in a
// COPY --from source and made by RUN are one inode in the image, with
// their link count (as BuildKit's copy and differ keep them).
func TestHardLinksKept(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM base AS src
COPY ctx/ /ctx/
RUN mkdir /r && echo r > /r/x && ln /r/x /r/y
FROM base
COPY --from=src /ctx /from/
COPY --from=src /r /r/
COPY ctx/ /pair/
COPY ctx/a ctx/b /apart/
`,
		"ctx/a":     "linked\n",
		"ctx/other": "other\n",
	})
	if err := os.Link(filepath.Join(dir, "ctx/a"), filepath.Join(dir, "ctx/b")); err != nil {
		t.Fatal(err)
	}
	img := build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base}))
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	// Three layers hold one file and one hard link to it.
	for i, pair := range [][2]string{{"from/a", "from/b"}, {"r/x", "r/y"}, {"pair/a", "pair/b"}} {
		got := layerEntries(t, ls[len(ls)-4+i])
		if f := got[pair[0]]; f.typ != tar.TypeReg {
			t.Errorf("%s: %v, want a file", pair[0], f)
		}
		if f := got[pair[1]]; f.typ != tar.TypeLink || f.link != pair[0] {
			t.Errorf("%s: %v, want a hard link to %s", pair[1], f, pair[0])
		}
	}
	files := flatten(t, img)
	if f := files["from/other"]; f.typ != tar.TypeReg || f.content != "other\n" || f.nlink != 0 {
		t.Errorf("from/other: %v", f)
	}
	// Two sources are two copies (BuildKit copies each on its own).
	if a, b := files["apart/a"], files["apart/b"]; a.nlink != 0 || b.nlink != 0 || a.content != "linked\n" {
		t.Errorf("apart: %v, %v", a, b)
	}
	layoutDir := writeLayout(t, filepath.Join(shortDir(t), "img"), img, "links")
	out := podmanRun(t, layoutDir, "links", "/bin/sh", "-c", "for p in /from /r /pair; do stat -c '%i %h' $p/* | sort | uniq -c; done")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// from: a and b share an inode with 2 links, other has 1; r and pair: one shared inode.
	want := map[string]bool{"2 2": true, "1 1": true}
	n2 := 0
	for _, l := range lines {
		f := strings.Fields(l) // count, inode, links
		if len(f) != 3 || !want[f[0]+" "+f[2]] {
			t.Errorf("stat in the container: %q", out)
			break
		}
		if f[0] == "2" {
			n2++
		}
	}
	if n2 != 3 {
		t.Errorf("want three hard-linked pairs, stat says:\n%s", out)
	}
}

// linkBase writes an image with /tempest -> /var/lib/tempest/ (dangling),
// /dangling.txt -> /opt/target.txt (dangling), /dirlink -> real (a
// directory), /filelink -> /old.txt (a file) and /rel -> ../../var/lib/x
// (dangling, climbing above the root), and returns its reference.
func linkBase(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []tar.Header{
		{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/lib/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "real/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 7},
		{Name: "old.txt", Typeflag: tar.TypeReg, Mode: 0o600},
		{Name: "tempest", Typeflag: tar.TypeSymlink, Linkname: "/var/lib/tempest/", Mode: 0o777},
		{Name: "dangling.txt", Typeflag: tar.TypeSymlink, Linkname: "/opt/target.txt", Mode: 0o777},
		{Name: "dirlink", Typeflag: tar.TypeSymlink, Linkname: "real", Mode: 0o777},
		{Name: "filelink", Typeflag: tar.TypeSymlink, Linkname: "/old.txt", Mode: 0o777},
		{Name: "rel", Typeflag: tar.TypeSymlink, Linkname: "../../var/lib/x", Mode: 0o777},
	} {
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	img := tarImage(t, buf.Bytes(), "link base")
	return "oci:" + writeLayout(t, filepath.Join(t.TempDir(), "links"), img, "links") + ":links"
}

// Links in a destination are followed, the last component's included and
// dangling ones too: WORKDIR and COPY make the target, the link stays.
func TestDestinationLinksFollowed(t *testing.T) {
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM base
WORKDIR /tempest
COPY a.txt .
COPY a.txt /dangling.txt
COPY a.txt /dirlink/
COPY a.txt /dirlink/sub/
COPY a.txt /filelink
COPY a.txt /rel
COPY dir /tempest/d
`,
		"a.txt":     "a\n",
		"dir/f.txt": "f\n",
	})
	img := build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": linkBase(t)}))
	files := flatten(t, img)
	for p, want := range map[string]file{
		"tempest":                 {typ: tar.TypeSymlink, mode: 0o777, link: "/var/lib/tempest/"},
		"var/lib/tempest":         {typ: tar.TypeDir, mode: 0o755},
		"var/lib/tempest/a.txt":   {typ: tar.TypeReg, mode: 0o644, content: "a\n"},
		"var/lib/tempest/d/f.txt": {typ: tar.TypeReg, mode: 0o644, content: "f\n"},
		"dangling.txt":            {typ: tar.TypeSymlink, mode: 0o777, link: "/opt/target.txt"},
		"opt":                     {typ: tar.TypeDir, mode: 0o755},
		"opt/target.txt":          {typ: tar.TypeReg, mode: 0o644, content: "a\n"},
		"dirlink":                 {typ: tar.TypeSymlink, mode: 0o777, link: "real"},
		"real":                    {typ: tar.TypeDir, mode: 0o750, uid: 7},
		"real/a.txt":              {typ: tar.TypeReg, mode: 0o644, content: "a\n"},
		"real/sub/a.txt":          {typ: tar.TypeReg, mode: 0o644, content: "a\n"},
		"filelink":                {typ: tar.TypeSymlink, mode: 0o777, link: "/old.txt"},
		"old.txt":                 {typ: tar.TypeReg, mode: 0o644, content: "a\n"},
		"rel":                     {typ: tar.TypeSymlink, mode: 0o777, link: "../../var/lib/x"},
		"var/lib/x":               {typ: tar.TypeReg, mode: 0o644, content: "a\n"},
	} {
		if f := files[p]; f != want {
			t.Errorf("%s = %v, want %v", p, f, want)
		}
	}
	if wd := configOf(t, img).Config.WorkingDir; wd != "/tempest" {
		t.Errorf("WorkingDir = %q, want /tempest", wd)
	}
}
