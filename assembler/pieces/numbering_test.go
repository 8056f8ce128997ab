package pieces

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func reqPiece(files map[string]string, name, req string) {
	files["dependencies/"+req] = "requests\n"
	files["pieces/"+name+"/models.py"] = ""
	files["pieces/"+name+"/piece.py"] = ""
	files["pieces/"+name+"/metadata.json"] = `{"name": "` + name + `", "description": "d", "dependency": {"requirements_file": "` + req + `"}}`
}

// groupImages maps each group's requirements file to its name and image.
func groupsByReq(t *testing.T, root string) map[string][2]string {
	t.Helper()
	_, res, err := Load(context.Background(), root, Input{Settings: Settings{NoSchemas: true}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, g := range res.Groups {
		out[g.RequirementsFile] = [2]string{g.Name, g.Image}
	}
	if err := os.MkdirAll(filepath.Join(root, ".domino"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, DependenciesMapFile), string(res.DependenciesMap))
	return out
}

// A piece with a new dependency that sorts before existing ones renumbers
// no group: the committed dependencies map keeps every number (and so every
// source_image tag), and the new group takes the next free number.
func TestGroupNumbersStable(t *testing.T) {
	files := map[string]string{"config.toml": goodConfig}
	reqPiece(files, "APiece", "a.txt")
	reqPiece(files, "CPiece", "c.txt")
	root := miniRepo(t, files)
	before := groupsByReq(t, root)
	if before["a.txt"][0] != "group0" || before["c.txt"][0] != "group1" {
		t.Fatalf("without a map, groups are numbered in sorted order: %v", before)
	}

	more := map[string]string{}
	reqPiece(more, "BPiece", "b.txt")
	for p, c := range more {
		writeFile(t, filepath.Join(root, p), c)
	}
	after := groupsByReq(t, root)
	for _, req := range []string{"a.txt", "c.txt"} {
		if after[req] != before[req] {
			t.Errorf("%s group changed from %v to %v", req, before[req], after[req])
		}
	}
	if after["b.txt"][0] != "group2" || after["b.txt"][1] != "ghcr.io/owner/repo:0.1.0-group2" {
		t.Errorf("new group: got %v, want group2 with tag 0.1.0-group2", after["b.txt"])
	}

	// Without the map, today's sorted order.
	if err := os.Remove(filepath.Join(root, DependenciesMapFile)); err != nil {
		t.Fatal(err)
	}
	if got := groupsByReq(t, root); got["b.txt"][0] != "group1" || got["c.txt"][0] != "group2" {
		t.Errorf("without a map: %v", got)
	}
}

// A map that lists groups in another order than sorted keeps its numbers; a
// number it lists for a dependency now gone is not reused; the map is
// written in number order.
func TestGroupNumbersFromMap(t *testing.T) {
	files := map[string]string{"config.toml": goodConfig}
	reqPiece(files, "APiece", "a.txt")
	reqPiece(files, "BPiece", "b.txt")
	reqPiece(files, "CPiece", "c.txt")
	files[DependenciesMapFile] = `{
    "group0": {"dependency": {"dockerfile": null, "requirements_file": "c.txt"}, "pieces": ["CPiece"]},
    "group1": {"dependency": {"dockerfile": null, "requirements_file": "gone.txt"}, "pieces": ["GonePiece"]},
    "group2": {"dependency": {"dockerfile": null, "requirements_file": "a.txt"}, "pieces": ["APiece"]}
}`
	root := miniRepo(t, files)
	_, res, err := Load(context.Background(), root, Input{Settings: Settings{NoSchemas: true}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range res.Groups {
		got = append(got, g.Name+":"+g.RequirementsFile)
	}
	want := []string{"group0:c.txt", "group2:a.txt", "group3:b.txt"}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("groups %v, want %v", got, want)
			break
		}
	}
}
