package oci

import "testing"

// HardLink tells which paths are one file: a hard link shares its target's
// key; a file replaced by a later layer leaves the group.
func TestFSHardLink(t *testing.T) {
	img := tfImage(t,
		tfLayer(t, tfFile("a", "x"), tfHardlink("b", "a"), tfHardlink("c", "a"), tfFile("solo", "s")),
		tfLayer(t, tfFile("c", "new")),
	)
	fsys, err := FS(img)
	if err != nil {
		t.Fatal(err)
	}
	ka, okA := fsys.HardLink("a")
	kb, okB := fsys.HardLink("b")
	kc, okC := fsys.HardLink("c")
	if !okA || !okB || ka != kb {
		t.Errorf("a and b: keys %v %v, linked %v %v", ka, kb, okA, okB)
	}
	if okC || kc == ka {
		t.Errorf("c was replaced: linked %v", okC)
	}
	if _, ok := fsys.HardLink("solo"); ok {
		t.Error("solo has no other name")
	}
	if _, ok := fsys.HardLink("missing"); ok {
		t.Error("missing path")
	}
}
