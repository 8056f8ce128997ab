package devfile_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/assemble-build/assemble/assembler/devfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/ocitest"
	"github.com/assemble-build/assemble/oci/sink"
)

func TestWithRegistryPrefix(t *testing.T) {
	dir := copyRegistry(t)
	_, arts, err := devfile.Load(dir, devfile.WithRegistry("localhost:5000/team/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		if !strings.HasPrefix(a.Name, "localhost:5000/team/devfile-catalog/") {
			t.Errorf("artifact name %q", a.Name)
		}
	}
	if _, _, err := devfile.Load(dir, devfile.WithRegistry("quay.io/Team")); err == nil || !strings.Contains(err.Error(), "registry prefix") {
		t.Errorf("upper-case namespace accepted: %v", err)
	}
}

func TestWriteMetadata(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(testRegistry, "expected-index.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, viaLoad := range []bool{true, false} {
		dir := copyRegistry(t)
		// The pipeline writes the plan's files for --write-metadata.
		var files []plan.File
		if viaLoad {
			var p *plan.Plan
			if p, _, err = devfile.Load(dir); err == nil {
				files = p.Files
			}
		} else {
			var idx []byte
			idx, err = devfile.Index(dir)
			files = []plan.File{{Path: devfile.IndexFile, Content: idx}}
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plan.WriteFiles(dir, files); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("load=%v: index.json in the repository: %v, equal to expected: %v", viaLoad, err, bytes.Equal(got, want))
		}
	}
}

func TestRegistryImage(t *testing.T) {
	dir := copyRegistry(t)
	out := filepath.Join(dir, ".assemble", "devfile-registry")
	opts := []devfile.Option{devfile.WithRegistryImage("quay.io/me/devfile-index:1.0"), devfile.WithOutputDir(out)}
	if _, _, err := devfile.Load(dir, opts...); err != nil {
		t.Fatal(err)
	}
	// A stale archive from a stack that no longer exists must not survive the next run.
	stale := filepath.Join(out, "stacks", "gone", "archive.tar")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("old"), 0o644)

	p, arts, err := devfile.Load(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Images) != 1 {
		t.Fatalf("%d images", len(p.Images))
	}
	img := p.Images[0]
	if img.Name != "quay.io/me/devfile-index" || strings.Join(img.Tags, ",") != "1.0" || img.Base != devfile.DefaultIndexBase {
		t.Errorf("image %s:%v base %s", img.Name, img.Tags, img.Base)
	}
	if len(img.Layers) != 2 || img.Layers[0].Files.Dir != "stacks" || img.Layers[0].Files.Dest != "/registry/stacks" ||
		img.Layers[1].Files.Dir != ".assemble/devfile-registry" || img.Layers[1].Files.Dest != "/registry" {
		t.Fatalf("layers %+v", img.Layers)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale archive.tar was left in the output directory")
	}

	checkRegistryImageFiles(t, p, img, arts, out)
	checkRegistryImageMistakes(t, dir, out)
}

// checkRegistryImageFiles checks what the files layers of the registry image
// would put in the image: /registry as the index server expects it
// (index.json, stacks/<stack>/<version>/<resource>).
func checkRegistryImageFiles(t *testing.T, p *plan.Plan, img plan.Image, arts []plan.Artifact, out string) {
	t.Helper()
	paths := map[string]bool{}
	for _, l := range img.Layers {
		f := &layers.Files{Root: p.Root, Dir: l.Files.Dir, Dest: l.Files.Dest, Exclude: l.Files.Exclude}
		ents, err := f.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			paths[e.Path] = true
		}
	}
	if paths["registry/.assemble-devfile-output"] {
		t.Error("the output directory's marker would be in the image")
	}
	for _, want := range []string{
		"registry/index.json",
		"registry/stacks/go/stack.yaml",
		"registry/stacks/go/2.1.0/devfile.yaml",
		"registry/stacks/go/2.1.0/archive.tar",
		"registry/stacks/go/1.10.0/archive.tar",
		"registry/stacks/nodejs/.devfile.yaml",
		"registry/stacks/java-maven/logo.svg",
	} {
		if !paths[want] {
			t.Errorf("the image would lack %s", want)
		}
	}
	idx, _ := os.ReadFile(filepath.Join(out, "index.json"))
	want, _ := os.ReadFile(filepath.Join(testRegistry, "expected-index.json"))
	if !bytes.Equal(idx, want) {
		t.Error("the output directory's index.json differs from expected-index.json")
	}
	written, _ := os.ReadFile(filepath.Join(out, "stacks/go/2.1.0/archive.tar"))
	for _, a := range arts {
		if a.Name+":"+a.Tags[0] == "devfile-catalog/go:2.1.0" {
			for _, l := range a.Layers {
				if l.Title == "archive.tar" && !bytes.Equal(l.Content, written) {
					t.Error("the image's archive.tar differs from the artifact's")
				}
			}
		}
	}
}

// checkRegistryImageMistakes checks the defaults of WithRegistryImage and the
// errors of its mistaken uses.
func checkRegistryImageMistakes(t *testing.T, dir, out string) {
	t.Helper()
	p, _, err := devfile.Load(dir, devfile.WithRegistryImage("registry.local:5000/devfile-index"), devfile.WithOutputDir(out), devfile.WithRegistryImageBase("oci:/base:1"))
	if err != nil || p.Images[0].Tags[0] != "latest" || p.Images[0].Base != "oci:/base:1" {
		t.Errorf("default tag or custom base: %v %+v", err, p)
	}
	foreign := filepath.Join(dir, "docs")
	write("docs/stacks/keep.md", "mine")(t, dir)
	bad := []struct {
		name string
		opts []devfile.Option
		msg  string
	}{
		{"no output directory", []devfile.Option{devfile.WithRegistryImage("me/idx")}, "WithOutputDir"},
		{"output outside the repository", []devfile.Option{devfile.WithRegistryImage("me/idx"), devfile.WithOutputDir(t.TempDir())}, "inside the repository"},
		{"output in stacks/", []devfile.Option{devfile.WithRegistryImage("me/idx"), devfile.WithOutputDir(filepath.Join(dir, "stacks", "out"))}, "must not be inside stacks/"},
		{"digest reference", []devfile.Option{devfile.WithRegistryImage("me/idx@sha256:0123"), devfile.WithOutputDir(out)}, "not a digest"},
		{"bad reference", []devfile.Option{devfile.WithRegistryImage("Me/Idx"), devfile.WithOutputDir(out)}, "not a valid image reference"},
		{"output directory with someone else's stacks/", []devfile.Option{devfile.WithRegistryImage("me/idx"), devfile.WithOutputDir(foreign)}, "did not write"},
	}
	for _, c := range bad {
		if _, _, err := devfile.Load(dir, c.opts...); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(foreign, "stacks", "keep.md")); err != nil {
		t.Errorf("a foreign stacks/ was touched: %v", err)
	}
}

// TestCheckIcons serves icons from a local server: 200 with an image type
// passes, HTML, 404, a missing icon and a non-URL fail, and a server that
// refuses HEAD is asked with GET.
func TestCheckIcons(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/ok.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
		case "/page.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		case "/nohead.png":
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "image/png")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	stack := func(name, icon string) {
		d := strings.Replace(minimalDevfile, "name: java-maven", "name: "+name, 1)
		if icon != "" {
			d = strings.Replace(d, "  language: Java\n", "  language: Java\n  icon: "+icon+"\n", 1)
		}
		write("stacks/"+name+"/devfile.yaml", d)(t, dir)
	}
	stack("a", srv.URL+"/ok.svg")
	stack("b", srv.URL+"/page.html")
	stack("c", srv.URL+"/missing.svg")
	stack("d", srv.URL+"/nohead.png")
	stack("e", "")
	stack("f", srv.URL+"/ok.svg")
	write("extraDevfileEntries.yaml", "samples:\n  - name: s\n    icon: relative.svg\n"+sampleGit)(t, dir)

	if _, err := devfile.Index(dir); err != nil {
		t.Fatalf("icons are checked without WithCheckIcons: %v", err)
	}
	if len(hits) != 0 {
		t.Fatalf("requests without WithCheckIcons: %v", hits)
	}
	_, err := devfile.Index(dir, devfile.WithCheckIcons(true), devfile.WithHTTPClient(srv.Client()))
	problems := checkProblems(t, err, []want{
		{"stacks/b/devfile.yaml", 0, `stack "b" has a broken icon ` + srv.URL + `/page.html: Content-Type "text/html; charset=utf-8" is not an image`},
		{"stacks/c/devfile.yaml", 0, "HTTP 404"},
		{"stacks/e/devfile.yaml", 0, `stack "e" has no icon`},
		{"extraDevfileEntries.yaml", 2, `sample "s" has a broken icon relative.svg: not an http(s) URL`},
	})
	if len(problems) != 4 {
		t.Errorf("%d problems, want 4 (a, d and f are fine): %v", len(problems), err)
	}
	if hits["HEAD /ok.svg"] != 1 || hits["GET /ok.svg"] != 0 {
		t.Errorf("ok.svg fetched %v: want one HEAD for two stacks", hits)
	}
	if hits["HEAD /nohead.png"] != 1 || hits["GET /nohead.png"] != 1 {
		t.Errorf("nohead.png: %v, want HEAD then GET", hits)
	}
}

// TestPushAndOrasPull pushes every stack version through the registry sink
// to an in-process registry and pulls it back with oras, which writes each
// layer to the file its title names: every file must come back as it is
// in the repository, and archive.tar must unpack to the packed files.
func TestPushAndOrasPull(t *testing.T) {
	oras := testtool.RequireTool(t, "oras")
	reg := ocitest.StartInProcess(t)
	dir := copyRegistry(t)
	_, arts, err := devfile.Load(dir, devfile.WithRegistry(reg.Host))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, a := range arts {
		ref := a.Name + ":" + a.Tags[0]
		spec, err := artifactSpec(t, dir, a)
		if err != nil {
			t.Fatal(err)
		}
		img, err := oci.Artifact(spec)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sink.Parse("docker://"+ref, sink.WithInsecureRegistries(reg.Host))
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Write(ctx, []sink.Item{{Name: ref, Image: img}})
		if err != nil {
			t.Fatalf("push %s: %v\n%s", ref, err, reg)
		}
		d, _ := img.Digest()
		if res[0].Digest != d {
			t.Errorf("%s: pushed %s, built %s", ref, res[0].Digest, d)
		}

		// The registry holds our manifest bytes: oras-go v1's form, no mediaType field.
		fetched, err := exec.Command(oras, "manifest", "fetch", "--plain-http", ref).Output()
		if err != nil {
			t.Fatalf("oras manifest fetch %s: %v", ref, err)
		}
		raw, _ := img.RawManifest()
		if !bytes.Equal(bytes.TrimSpace(fetched), raw) {
			t.Errorf("%s: oras fetched\n%s\nwant\n%s", ref, fetched, raw)
		}

		outDir := t.TempDir()
		pull := exec.Command(oras, "pull", "--plain-http", "-o", outDir, ref)
		if b, err := pull.CombinedOutput(); err != nil {
			t.Fatalf("oras pull %s: %v\n%s", ref, err, b)
		}
		checkPulled(t, dir, a, outDir)
	}
}

func checkPulled(t *testing.T, root string, a plan.Artifact, outDir string) {
	t.Helper()
	ents, _ := os.ReadDir(outDir)
	if len(ents) != len(a.Layers) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s: oras wrote %v for %d layers", a.Name, names, len(a.Layers))
	}
	for _, l := range a.Layers {
		got, err := os.ReadFile(filepath.Join(outDir, l.Title))
		if err != nil {
			t.Errorf("%s: %s not pulled: %v", a.Name, l.Title, err)
			continue
		}
		if l.Title != "archive.tar" {
			src, _ := os.ReadFile(filepath.Join(root, l.Path))
			if !bytes.Equal(got, src) {
				t.Errorf("%s: pulled %s differs from %s", a.Name, l.Title, l.Path)
			}
			continue
		}
		// archive.tar: unpack as the registry library does and compare with
		// the files that were packed.
		entries, _ := untar(t, got)
		versionDir := filepath.Dir(filepath.Join(root, a.Source))
		n := 0
		for name, e := range entries {
			if strings.HasSuffix(name, "/") {
				continue
			}
			n++
			src, err := os.ReadFile(filepath.Join(versionDir, strings.TrimPrefix(name, "./")))
			if err != nil || string(src) != e.content {
				t.Errorf("%s: archive.tar entry %s differs from the repository file (%v)", a.Name, name, err)
			}
		}
		if n == 0 {
			t.Errorf("%s: archive.tar holds no files", a.Name)
		}
	}
}

func TestArtifactSpecRefusesEscapes(t *testing.T) {
	dir := copyRegistry(t)
	outside := filepath.Join(filepath.Dir(dir), "secret")
	os.WriteFile(outside, []byte("x"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "link"))
	for _, p := range []string{"../secret", "/etc/hostname", "link"} {
		a := plan.Artifact{Name: "x", ConfigMediaType: devfile.ConfigMediaType, Packing: plan.PackingORASv1,
			Layers: []plan.ArtifactLayer{{Path: p, MediaType: devfile.DevfileMediaType, Title: "devfile.yaml"}}}
		if _, err := artifactSpec(t, dir, a); err == nil || !strings.Contains(err.Error(), "outside the repository") {
			t.Errorf("path %s: error %v", p, err)
		}
	}
	a := plan.Artifact{Name: "x", ConfigMediaType: devfile.ConfigMediaType, Packing: "zip"}
	if _, err := artifactSpec(t, dir, a); err == nil {
		t.Error("unknown packing accepted")
	}
}
