package dockerfile

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"testing"
)

// A memo shared by builds over one base applies the base's layers once;
// each build gets its own copy (a COPY does not reach the kept tree), and
// the images are those built without the memo.
func TestTreeMemoAppliesABaseOnce(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	tw.Write([]byte("root\n"))
	tw.WriteHeader(&tar.Header{Name: "opt", Typeflag: tar.TypeSymlink, Linkname: "etc", Mode: 0o777})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	base := tarImage(t, buf.Bytes(), "memo base")
	ref := "oci:" + writeLayout(t, filepath.Join(t.TempDir(), "base"), base, "base") + ":base"
	dir := repo(t, map[string]string{
		"Dockerfile": "FROM " + ref + "\nCOPY a.txt /opt/a.txt\nCOPY a.txt /etc/b/\n",
		"a.txt":      "a\n",
	})

	svc := newServices(t)
	want := build(t, svc, dir)
	memo := NewTreeMemo()
	for i := range 3 {
		got := build(t, svc, dir, WithTreeMemo(memo))
		if g, w := digestOf(t, got), digestOf(t, want); g != w {
			t.Fatalf("build %d with the memo: %s, without: %s", i, g, w)
		}
	}
	if memo.built != 1 {
		t.Errorf("the base's layers were applied %d times, want once", memo.built)
	}
	kept := memo.get(treeKey(base))
	if kept == nil {
		t.Fatal("the memo does not hold the base's tree")
	}
	for _, p := range []string{"etc/a.txt", "etc/b"} {
		if n, _, _ := kept.lookup(p, false); n != nil {
			t.Errorf("the kept tree has /%s, which a build's COPY wrote", p)
		}
	}
	if n, _, _ := kept.lookup("etc/passwd", false); n == nil {
		t.Error("the kept tree lacks the base's /etc/passwd")
	}
}
