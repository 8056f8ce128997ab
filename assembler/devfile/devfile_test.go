package devfile_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/assemble-build/assemble/assembler/devfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci"
)

const testRegistry = "testdata/devfile-registry"

// copyRegistry copies the test registry into a temporary directory, so a
// test can change it, and makes sure deploy.sh is executable whatever the
// checkout did with modes.
func copyRegistry(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "registry")
	err := filepath.WalkDir(testRegistry, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(testRegistry, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == "expected-index.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dst, "stacks/go/1.10.0/deploy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestDetect(t *testing.T) {
	ok, why := devfile.Detect(testRegistry)
	if !ok || !strings.Contains(why, "go, java-maven, nodejs") {
		t.Errorf("Detect = %v %q, want true naming the stacks", ok, why)
	}
	empty := t.TempDir()
	if ok, _ := devfile.Detect(empty); ok {
		t.Error("an empty directory detected as a devfile registry")
	}
	// stacks/ with only a plain file and a directory without a devfile is not a registry.
	os.MkdirAll(filepath.Join(empty, "stacks", "notes"), 0o755)
	os.WriteFile(filepath.Join(empty, "stacks", "README.md"), []byte("x"), 0o644)
	if ok, _ := devfile.Detect(empty); ok {
		t.Error("stacks/ without devfiles detected as a devfile registry")
	}
}

// TestIndexMatchesExpected compares index.json with expected-index.json,
// which was checked by hand against registry-support's index generator
// (and the reference notes); the assertions after the byte comparison
// spell out each rule so a regression says which one broke.
func TestIndexMatchesExpected(t *testing.T) {
	got, err := devfile.Index(testRegistry)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(testRegistry, "expected-index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("index.json differs from expected-index.json:\n%s", got)
	}

	var index []indexEntry
	if err := json.Unmarshal(got, &index); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range index {
		names = append(names, e.str("name")+"/"+e.str("type"))
	}
	// Rule: stacks in directory order (os.ReadDir sorts), then samples, then
	// extra stacks, each with "type".
	if strings.Join(names, " ") != "go/stack java-maven/stack nodejs/stack nodejs-basic/sample code-with-quarkus/sample" {
		t.Fatalf("entries %v", names)
	}
	// Rule: json.MarshalIndent(index, "", "  ") with keys in the Go struct
	// order of schema.Schema, and no trailing newline.
	if !bytes.HasPrefix(got, []byte("[\n  {\n    \"name\": \"go\",\n    \"displayName\"")) || got[len(got)-1] != ']' {
		t.Errorf("layout: %.60q ... %q", got, got[len(got)-1:])
	}
	checkGoVersionRules(t, index[0], index[2])
	checkStackFieldRules(t, index[0], index[1])
	// Rule: samples are kept as written, with an unversioned date under "undefined".
	if quarkus := index[4]; quarkus.str("lastModified") != "2024-04-19T11:45:48+01:00" || !strings.Contains(string(quarkus["deploymentScopes"]), `"innerloop": true`) {
		t.Errorf("quarkus sample %v", quarkus)
	}
}

// indexEntry is one entry (or version) of index.json, decoded lazily.
type indexEntry map[string]json.RawMessage

func (e indexEntry) str(k string) string {
	var s string
	_ = json.Unmarshal(e[k], &s)
	return s
}

func (e indexEntry) list(k string) []string {
	var s []string
	_ = json.Unmarshal(e[k], &s)
	return s
}

func (e indexEntry) versions() []indexEntry {
	var v []indexEntry
	_ = json.Unmarshal(e["versions"], &v)
	return v
}

// checkGoVersionRules checks the rules of a stack's versions.
func checkGoVersionRules(t *testing.T, goStack, node indexEntry) {
	t.Helper()
	// Rule: versions sorted newest first by numbers (1.10.0 above 1.2.0),
	// the git-referenced 3.0.0 of stack.yaml skipped.
	var order []string
	for _, v := range goStack.versions() {
		order = append(order, v.str("version"))
	}
	if strings.Join(order, " ") != "2.1.0 1.10.0 1.2.0" {
		t.Fatalf("go versions %v", order)
	}
	v210 := goStack.versions()[0]
	// Rule: links.self = devfile-catalog/<stack directory>:<metadata.version>.
	if !strings.Contains(string(v210["links"]), `"self": "devfile-catalog/go:2.1.0"`) {
		t.Errorf("links %s", v210["links"])
	}
	// Rule: resources = the files left after the build (OWNERS excluded),
	// with everything else packed into archive.tar.
	if r := v210.list("resources"); strings.Join(r, ",") != "archive.tar,devfile.yaml,logo.svg" {
		t.Errorf("go 2.1.0 resources %v", r)
	}
	if r := node.versions()[0].list("resources"); strings.Join(r, ",") != ".devfile.yaml,logo.png" {
		t.Errorf("nodejs resources %v (a .devfile.yaml is the devfile)", r)
	}
	// Rule: commandGroups has all five kinds, true for kinds used by an
	// exec, apply or composite command's group.
	if cg := string(v210["commandGroups"]); !strings.Contains(cg, `"deploy": true`) || !strings.Contains(cg, `"test": false`) || strings.Count(cg, ":") != 5 {
		t.Errorf("commandGroups %s", cg)
	}
}

// checkStackFieldRules checks where a stack's own fields come from.
func checkStackFieldRules(t *testing.T, goStack, java indexEntry) {
	t.Helper()
	// Rule: name, displayName, description and icon from stack.yaml.
	if !strings.HasPrefix(goStack.str("description"), "Go is an open source") {
		t.Errorf("go description %q, want stack.yaml's", goStack.str("description"))
	}
	// Rule: projectType, language, provider, supportUrl from the first
	// version (newest first) that sets them.
	if goStack.str("projectType") != "Go" || goStack.str("provider") != "Red Hat" || !strings.Contains(goStack.str("supportUrl"), "devfile-support") {
		t.Errorf("go common fields: projectType %q provider %q supportUrl %q", goStack.str("projectType"), goStack.str("provider"), goStack.str("supportUrl"))
	}
	// Rule: top-level tags are the default version's only ("Legacy" is 1.10.0's).
	if tags := goStack.list("tags"); strings.Join(tags, ",") != "Go" {
		t.Errorf("go tags %v", tags)
	}
	// Rule: top-level architectures are the union, or none at all when a
	// version (1.2.0) has none.
	if _, ok := goStack["architectures"]; ok {
		t.Errorf("go architectures %s, want none because 1.2.0 supports all", goStack["architectures"])
	}
	if a := java.list("architectures"); strings.Join(a, ",") != "amd64,arm64,s390x" {
		t.Errorf("java-maven architectures %v", a)
	}
	// Rule: a single-version stack gets one version with default: true.
	if vs := java.versions(); len(vs) != 1 || string(vs[0]["default"]) != "true" {
		t.Errorf("java-maven versions %v", vs)
	}
	// Rule: lastModified per version from last_modified.json (offset kept),
	// zero when missing, the item's = its newest version's.
	if goStack.str("lastModified") != "2024-05-13T12:32:02+02:00" || goStack.versions()[1].str("lastModified") != "0001-01-01T00:00:00Z" {
		t.Errorf("go lastModified %s / 1.10.0 %s", goStack["lastModified"], goStack.versions()[1]["lastModified"])
	}
}

func TestLoadPlansArtifacts(t *testing.T) {
	dir := copyRegistry(t)
	p, arts, err := devfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Convention != devfile.Name || !strings.Contains(p.Reason, "3 stacks, 5 versions") || len(p.Images) != 0 {
		t.Errorf("plan: %q %q, %d images", p.Convention, p.Reason, len(p.Images))
	}
	want, _ := os.ReadFile(filepath.Join(testRegistry, "expected-index.json"))
	if len(p.Files) != 1 || p.Files[0].Path != "index.json" || !bytes.Equal(p.Files[0].Content, want) {
		t.Errorf("plan files %v", p.Files)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load wrote index.json into the repository (%v)", err)
	}

	type layer struct{ title, mt, path string }
	want2 := map[string][]layer{
		"devfile-catalog/go:2.1.0": {
			{"devfile.yaml", devfile.DevfileMediaType, "stacks/go/2.1.0/devfile.yaml"},
			{"archive.tar", devfile.ArchiveMediaType, ""},
			{"logo.svg", devfile.SVGMediaType, "stacks/go/2.1.0/logo.svg"},
		},
		"devfile-catalog/go:1.10.0": {
			{"devfile.yaml", devfile.DevfileMediaType, "stacks/go/1.10.0/devfile.yaml"},
			{"archive.tar", devfile.ArchiveMediaType, ""},
		},
		"devfile-catalog/go:1.2.0": {{"devfile.yaml", devfile.DevfileMediaType, "stacks/go/1.2.0/devfile.yaml"}},
		"devfile-catalog/java-maven:1.1.0": {
			{"devfile.yaml", devfile.DevfileMediaType, "stacks/java-maven/devfile.yaml"},
			{"logo.svg", devfile.SVGMediaType, "stacks/java-maven/logo.svg"},
		},
		"devfile-catalog/nodejs:2.0.0": {
			{".devfile.yaml", devfile.DevfileMediaType, "stacks/nodejs/.devfile.yaml"},
			{"logo.png", devfile.PNGMediaType, "stacks/nodejs/logo.png"},
		},
	}
	if len(arts) != len(want2) {
		t.Fatalf("%d artifacts, want %d", len(arts), len(want2))
	}
	for _, a := range arts {
		ref := a.Name + ":" + strings.Join(a.Tags, ",")
		w, ok := want2[ref]
		if !ok {
			t.Errorf("unexpected artifact %s", ref)
			continue
		}
		if a.ConfigMediaType != devfile.ConfigMediaType || string(a.Config) != "{}" || a.Packing != plan.PackingORASv1 {
			t.Errorf("%s: config %s %q packing %q", ref, a.ConfigMediaType, a.Config, a.Packing)
		}
		var got []layer
		for _, l := range a.Layers {
			got = append(got, layer{l.Title, l.MediaType, l.Path})
			if l.Title == "archive.tar" && len(l.Content) == 0 {
				t.Errorf("%s: archive.tar has no content", ref)
			}
		}
		sortLayers := func(ls []layer) { sort.Slice(ls, func(i, j int) bool { return ls[i].title < ls[j].title }) }
		sortLayers(got)
		sortLayers(w)
		if len(got) != len(w) {
			t.Errorf("%s: layers %v, want %v", ref, got, w)
			continue
		}
		for i := range got {
			if got[i] != w[i] {
				t.Errorf("%s: layers %v, want %v", ref, got, w)
				break
			}
		}
	}

	// The same repository gives the same artifacts, byte for byte.
	_, again, err := devfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range arts {
		d1 := artifactDigest(t, dir, arts[i])
		d2 := artifactDigest(t, dir, again[i])
		if d1 != d2 {
			t.Errorf("%s: digests %s and %s from two loads", arts[i].Name, d1, d2)
		}
	}
}

func artifactDigest(t *testing.T, root string, a plan.Artifact) string {
	t.Helper()
	s, err := artifactSpec(t, root, a)
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Artifact(s)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

type tarEntry struct {
	typ     byte
	mode    int64
	content string
	link    string
}

// untar reads a gzip-compressed tar as the devfile registry library does.
func untar(t *testing.T, b []byte) (map[string]tarEntry, []string) {
	t.Helper()
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("archive.tar does not start with the gzip magic 1f8b: %x", b[:min(len(b), 4)])
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header has name %q time %v", zr.Name, zr.ModTime)
	}
	out := map[string]tarEntry{}
	var order []string
	testtool.EachTarEntry(t, zr, func(h *tar.Header, body io.Reader) {
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: time %v owner %d:%d %q:%q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		c, _ := io.ReadAll(body)
		out[h.Name] = tarEntry{typ: h.Typeflag, mode: h.Mode, content: string(c), link: h.Linkname}
		order = append(order, h.Name)
	})
	return out, order
}

func TestArchiveTar(t *testing.T) {
	dir := copyRegistry(t)
	_, arts, err := devfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	archive := func(ref string) []byte {
		for _, a := range arts {
			if a.Name+":"+a.Tags[0] == ref {
				for _, l := range a.Layers {
					if l.Title == "archive.tar" {
						return l.Content
					}
				}
			}
		}
		t.Fatalf("no archive.tar in %s", ref)
		return nil
	}
	entries, order := untar(t, archive("devfile-catalog/go:2.1.0"))
	// As `tar -czvf archive.tar ./README.md ./docker ./kubernetes`, sorted,
	// each directory before its files; devfile.yaml, logo.svg and OWNERS stay out.
	wantOrder := "./README.md ./docker/ ./docker/Dockerfile ./kubernetes/ ./kubernetes/deploy.yaml"
	if strings.Join(order, " ") != wantOrder {
		t.Errorf("entries %v, want %s", order, wantOrder)
	}
	for name, e := range entries {
		if strings.HasSuffix(name, "/") {
			if e.typ != tar.TypeDir || e.mode != 0o755 {
				t.Errorf("%s: type %c mode %o", name, e.typ, e.mode)
			}
			continue
		}
		src, _ := os.ReadFile(filepath.Join(dir, "stacks/go/2.1.0", strings.TrimPrefix(name, "./")))
		if e.typ != tar.TypeReg || e.mode != 0o644 || e.content != string(src) {
			t.Errorf("%s: type %c mode %o, content matches: %v", name, e.typ, e.mode, e.content == string(src))
		}
	}
	entries, _ = untar(t, archive("devfile-catalog/go:1.10.0"))
	if e := entries["./deploy.sh"]; e.mode != 0o755 || !strings.HasPrefix(e.content, "#!/bin/sh") || len(entries) != 1 {
		t.Errorf("1.10.0 archive: %v", entries)
	}

	// A symlink inside the stack is kept as a link; the bytes do not depend
	// on file times.
	if err := os.Symlink("docker/Dockerfile", filepath.Join(dir, "stacks/go/2.1.0/Containerfile")); err != nil {
		t.Fatal(err)
	}
	_, arts, err = devfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := archive("devfile-catalog/go:2.1.0")
	readme := filepath.Join(dir, "stacks/go/2.1.0/README.md")
	later := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(readme, later, later); err != nil {
		t.Fatal(err)
	}
	_, arts, err = devfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, archive("devfile-catalog/go:2.1.0")) {
		t.Error("archive.tar changed with a file's modification time")
	}
	entries, _ = untar(t, archive("devfile-catalog/go:2.1.0"))
	if e := entries["./Containerfile"]; e.typ != tar.TypeSymlink || e.link != "docker/Dockerfile" {
		t.Errorf("symlink entry %+v", e)
	}
}

func TestMain(m *testing.M) {
	// The index generator's FYIs (no provider, ...) are logged; keep test output readable.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// artifactSpec builds a's spec as the pipeline does, reading the repository
// at root through an os.Root.
func artifactSpec(t testing.TB, root string, a plan.Artifact) (oci.Spec, error) {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return a.Spec(r.FS())
}

// Every archive.tar is the gzip stream a new writer makes of its tar,
// whichever archives its (reused) compressor packed before.
func TestArchivesAsFromANewWriter(t *testing.T) {
	_, arts, err := devfile.Load(copyRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range arts {
		for _, l := range a.Layers {
			if l.Title != "archive.tar" {
				continue
			}
			zr, err := kgzip.NewReader(bytes.NewReader(l.Content))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			zw, _ := kgzip.NewWriterLevel(&want, kgzip.DefaultCompression)
			zw.ModTime, zw.OS = time.Unix(0, 0), 255
			zw.Write(raw)
			zw.Close()
			if !bytes.Equal(l.Content, want.Bytes()) {
				t.Errorf("%s:%s: archive.tar differs from a new writer's", a.Name, a.Tags[0])
			}
			n++
		}
	}
	if n < 2 {
		t.Fatalf("%d archives: the test needs two or more", n)
	}
}
