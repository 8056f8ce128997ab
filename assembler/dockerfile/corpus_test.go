package dockerfile

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
)

// corpusDir holds one directory per case: a Dockerfile, its context and
// expect.json.
const corpusDir = "../../testdata/dockerfiles"

// expectation is a case's expect.json.
type expectation struct {
	BuildArgs map[string]string `json:"buildArgs"`
	Target    string            `json:"target"`
	// Busybox passes BASE=<a busybox OCI layout> as a build argument.
	Busybox bool `json:"busybox"`
	NoRun   bool `json:"noRun"`
	// Root marks cases that execute RUN (the sandbox keeps owners as root).
	Root bool `json:"root"`
	// Contexts are build contexts: "@busybox" is the busybox layout,
	// "@dir:NAME" a directory made from Dirs[NAME].
	Contexts map[string]string            `json:"contexts"`
	Dirs     map[string]map[string]string `json:"dirs"`
	// HTTP is served while the case builds; {{HTTP}} in the Dockerfile is its URL.
	HTTP map[string]string `json:"http"`

	Files  map[string]expFile `json:"files"`
	Absent []string           `json:"absent"`
	// Config lists config fields (as in the image config JSON) to compare.
	Config map[string]any `json:"config"`
	Author string         `json:"author"`
	// History is the end of the history, "(empty)" marking empty_layer.
	History []string `json:"history"`
	// Installs are the translated installs, "deb: a b" / "python: x y".
	Installs  []string `json:"installs"`
	NoOnBuild bool     `json:"noOnBuild"`
	Error     []string `json:"error"`
	Buildah   *struct {
		Compare bool `json:"compare"`
		// Format is buildah's image format ("oci" default, "docker" keeps SHELL, HEALTHCHECK, ONBUILD).
		Format string `json:"format"`
		// Ignore and IgnoreConfig are known differences: path or field -> why.
		Ignore       map[string]string `json:"ignore"`
		IgnoreConfig map[string]string `json:"ignoreConfig"`
	} `json:"buildah"`
}

type expFile struct {
	Type    string  `json:"type"` // file, dir, symlink
	Mode    string  `json:"mode"`
	Owner   string  `json:"owner"`
	Content *string `json:"content"`
	Link    string  `json:"link"`
	// Links is a regular file's link count (hard links), when above 1.
	Links int `json:"links"`
}

func TestCorpus(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var busybox string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			var exp expectation
			b, err := os.ReadFile(filepath.Join(corpusDir, name, "expect.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &exp); err != nil {
				t.Fatalf("expect.json: %v", err)
			}
			if exp.Root {
				testtool.RequireRoot(t)
			}
			if exp.Busybox && busybox == "" {
				busybox = busyboxLayout(t)
				// The layout must outlive this subtest.
				keep := filepath.Join(os.TempDir(), "assemble-corpus-busybox-"+strconv.Itoa(os.Getpid()))
				os.RemoveAll(keep)
				testtool.CopyTree(t, strings.TrimSuffix(strings.TrimPrefix(busybox, "oci:"), ":busybox"), keep, testtool.GitModes())
				busybox = "oci:" + keep + ":busybox"
				t.Cleanup(func() {})
			}
			runCase(t, name, exp, busybox)
		})
	}
	os.RemoveAll(filepath.Join(os.TempDir(), "assemble-corpus-busybox-"+strconv.Itoa(os.Getpid())))
}

func runCase(t *testing.T, name string, exp expectation, busybox string) {
	ctx := caseContext(t, name, exp)
	args := caseBuildArgs(exp, busybox)
	contexts := caseBuildContexts(t, exp, busybox)
	opts := []Option{WithBuildArgs(args), WithTarget(exp.Target), WithNoRun(exp.NoRun), WithBuildContexts(contexts)}
	svc := newServices(t)
	img, err := Build(context.Background(), ctx, plan.Dockerfile{Path: "Dockerfile", Context: "."}, amd64(), svc, opts...)
	if len(exp.Error) > 0 {
		mustContain(t, err, exp.Error...)
		return
	}
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	checkCaseFiles(t, exp, flatten(t, img))
	cf := configOf(t, img)
	checkCaseConfig(t, exp, img, cf)
	if len(exp.Installs) > 0 {
		checkCaseInstalls(t, exp, svc.installs)
	}
	// The history and the layers agree, as Docker requires.
	checkLayersAgree(t, img, cf)
	if exp.Buildah != nil && exp.Buildah.Compare {
		compareBuildah(t, ctx, exp, args, img)
	}
}

// caseContext copies the case to a fresh build context and, when the case
// has HTTP files, serves them for the rest of the test and puts the server's
// URL in the Dockerfile.
func caseContext(t *testing.T, name string, exp expectation) string {
	t.Helper()
	ctx := shortDir(t)
	testtool.CopyTree(t, filepath.Join(corpusDir, name), ctx, testtool.GitModes())
	os.Remove(filepath.Join(ctx, "expect.json"))
	if len(exp.HTTP) > 0 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, ok := exp.HTTP[strings.TrimPrefix(r.URL.Path, "/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		df := filepath.Join(ctx, "Dockerfile")
		b, _ := os.ReadFile(df)
		os.WriteFile(df, bytes.ReplaceAll(b, []byte("{{HTTP}}"), []byte(srv.URL)), 0o644)
	}
	return ctx
}

// caseBuildArgs is the case's build arguments, with BASE for busybox cases.
func caseBuildArgs(exp expectation, busybox string) map[string]string {
	args := map[string]string{}
	for k, v := range exp.BuildArgs {
		args[k] = v
	}
	if exp.Busybox {
		args["BASE"] = busybox
	}
	return args
}

// caseBuildContexts resolves the case's "@busybox" and "@dir:NAME" contexts.
func caseBuildContexts(t *testing.T, exp expectation, busybox string) map[string]string {
	t.Helper()
	contexts := map[string]string{}
	for k, v := range exp.Contexts {
		switch {
		case v == "@busybox":
			v = busybox
		case strings.HasPrefix(v, "@dir:"):
			d := t.TempDir()
			writeFiles(t, d, exp.Dirs[strings.TrimPrefix(v, "@dir:")])
			v = d
		}
		contexts[k] = v
	}
	return contexts
}

// checkCaseFiles checks the image's files against the case's files and absent paths.
func checkCaseFiles(t *testing.T, exp expectation, files map[string]file) {
	t.Helper()
	for p, want := range exp.Files {
		got, ok := files[p]
		if !ok {
			t.Errorf("%s is missing (have %v)", p, keys(files))
			continue
		}
		if msg := want.check(got); msg != "" {
			t.Errorf("%s: %s", p, msg)
		}
	}
	for _, p := range exp.Absent {
		for k := range files {
			if k == p || strings.HasPrefix(k, p+"/") {
				t.Errorf("%s should not be in the image", k)
			}
		}
	}
}

// checkCaseConfig checks the config, author, ONBUILD triggers and the end of
// the history against the case.
func checkCaseConfig(t *testing.T, exp expectation, img v1.Image, cf *v1.ConfigFile) {
	t.Helper()
	checkConfig(t, cf.Config, exp.Config, nil)
	if exp.Author != "" && cf.Author != exp.Author {
		t.Errorf("author = %q, want %q", cf.Author, exp.Author)
	}
	if exp.NoOnBuild && len(cf.Config.OnBuild) > 0 {
		t.Errorf("OnBuild = %q; triggers that ran are not kept", cf.Config.OnBuild)
	}
	if len(exp.History) > 0 {
		h := history(t, img)
		if len(h) < len(exp.History) || !reflect.DeepEqual(h[len(h)-len(exp.History):], exp.History) {
			t.Errorf("history ends\n%q\nwant\n%q", h, exp.History)
		}
	}
}

// checkCaseInstalls checks the translated installs against the case's
// "deb: a b" / "python: x y" lines.
func checkCaseInstalls(t *testing.T, exp expectation, installs []plan.Layer) {
	t.Helper()
	var got []string
	for _, in := range installs {
		switch in.Kind {
		case plan.KindDeb:
			var names []string
			for _, p := range in.Deb.Packages {
				names = append(names, p.Name)
			}
			got = append(got, "deb: "+strings.Join(names, " "))
		case plan.KindPython:
			w := append(append([]string(nil), prefixed("-r ", in.Python.Requirements)...), in.Python.Packages...)
			w = append(w, prefixed("--find-links ", in.Python.FindLinks)...)
			got = append(got, "python: "+strings.Join(w, " "))
		}
	}
	if !reflect.DeepEqual(got, exp.Installs) {
		t.Errorf("installs = %q, want %q", got, exp.Installs)
	}
}

// checkLayersAgree checks that the non-empty history entries, the diff_ids
// and the manifest's layers are as many.
func checkLayersAgree(t *testing.T, img v1.Image, cf *v1.ConfigFile) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	nonEmpty := 0
	for _, h := range cf.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(m.Layers) || len(cf.RootFS.DiffIDs) != len(m.Layers) {
		t.Errorf("%d layers, %d diff_ids, %d non-empty history entries", len(m.Layers), len(cf.RootFS.DiffIDs), nonEmpty)
	}
}

func prefixed(p string, s []string) []string {
	var out []string
	for _, x := range s {
		out = append(out, p+x)
	}
	return out
}

func (e expFile) check(f file) string {
	typ := map[string]byte{"file": tar.TypeReg, "dir": tar.TypeDir, "symlink": tar.TypeSymlink}[e.Type]
	if f.typ != typ {
		return fmt.Sprintf("type %c, want %s (%v)", f.typ, e.Type, f)
	}
	if e.Mode != "" {
		if m, _ := strconv.ParseInt(e.Mode, 8, 64); m != f.mode {
			return fmt.Sprintf("mode %04o, want %s", f.mode, e.Mode)
		}
	}
	if e.Owner != "" && e.Owner != fmt.Sprintf("%d:%d", f.uid, f.gid) {
		return fmt.Sprintf("owner %d:%d, want %s", f.uid, f.gid, e.Owner)
	}
	if e.Content != nil && *e.Content != f.content {
		return fmt.Sprintf("content %q, want %q", f.content, *e.Content)
	}
	if e.Link != "" && e.Link != f.link {
		return fmt.Sprintf("link %q, want %q", f.link, e.Link)
	}
	if e.Links != 0 && e.Links != max(f.nlink, 1) {
		return fmt.Sprintf("%d links, want %d", max(f.nlink, 1), e.Links)
	}
	return ""
}

// checkConfig compares the fields of want (as in the config JSON) with c.
func checkConfig(t *testing.T, c v1.Config, want map[string]any, skip map[string]string) {
	t.Helper()
	if len(want) == 0 {
		return
	}
	b, _ := json.Marshal(c)
	var got map[string]any
	json.Unmarshal(b, &got)
	for k, w := range want {
		if _, ok := skip[k]; ok {
			continue
		}
		if !reflect.DeepEqual(normalizeJSON(got[k]), normalizeJSON(w)) {
			t.Errorf("config %s = %v, want %v", k, got[k], w)
		}
	}
}

func normalizeJSON(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// compareBuildah builds the same case with buildah (no daemon) and compares
// the file trees (content, type, mode, owner) and the config.
func compareBuildah(t *testing.T, ctx string, exp expectation, args map[string]string, img v1.Image) {
	theirs := buildahImage(t, ctx, exp, args)
	compareTrees(t, exp, flatten(t, img), flatten(t, theirs))
	compareBuildahConfig(t, exp, img, theirs)
}

// buildahImage builds the case with buildah bud in a throwaway vfs store
// and reads the result back from a docker-archive.
func buildahImage(t *testing.T, ctx string, exp expectation, args map[string]string) v1.Image {
	t.Helper()
	buildah := testtool.RequireTool(t, "buildah")
	testtool.RequireRoot(t) // the buildah comparison runs as root
	root := shortDir(t)
	base := []string{"--storage-driver", "vfs", "--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run")}
	format := "oci"
	if exp.Buildah.Format != "" {
		format = exp.Buildah.Format
	}
	bud := append(append([]string(nil), base...), "bud", "--isolation", "chroot", "--format", format, "-t", "localhost/corpus:latest")
	var argKeys []string
	for k := range args {
		argKeys = append(argKeys, k)
	}
	sort.Strings(argKeys)
	for _, k := range argKeys {
		bud = append(bud, "--build-arg", k+"="+args[k])
	}
	if exp.Target != "" {
		bud = append(bud, "--target", exp.Target)
	}
	bud = append(bud, ctx)
	if out, err := exec.Command(buildah, bud...).CombinedOutput(); err != nil {
		t.Fatalf("buildah bud: %v\n%s", err, out)
	}
	archive := filepath.Join(root, "image.tar")
	push := append(append([]string(nil), base...), "push", "localhost/corpus:latest", "docker-archive:"+archive+":corpus:latest")
	if out, err := exec.Command(buildah, push...).CombinedOutput(); err != nil {
		t.Fatalf("buildah push: %v\n%s", err, out)
	}
	theirs, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(buildah, append(append([]string(nil), base...), "rmi", "--all", "--force")...).Run()
		// vfs layers are plain directories; make sure they can be removed.
		exec.Command("chmod", "-R", "u+rwx", root).Run()
	})
	return theirs
}

// compareTrees compares assemble's and buildah's files, path by path,
// leaving out the case's known differences.
func compareTrees(t *testing.T, exp expectation, ours, other map[string]file) {
	t.Helper()
	ignored := func(p string) bool {
		for k := range exp.Buildah.Ignore {
			if p == k || strings.HasPrefix(p, k+"/") {
				return true
			}
		}
		return false
	}
	union := map[string]bool{}
	for k := range ours {
		union[k] = true
	}
	for k := range other {
		union[k] = true
	}
	var paths []string
	for k := range union {
		if !ignored(k) {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	diffs := 0
	for _, p := range paths {
		a, okA := ours[p]
		b, okB := other[p]
		switch {
		case !okA:
			t.Errorf("buildah has %s (%v), assemble does not", p, b)
		case !okB:
			t.Errorf("assemble has %s (%v), buildah does not", p, a)
		case a != b:
			t.Errorf("%s differs:\n  assemble %v\n  buildah  %v", p, a, b)
		default:
			continue
		}
		if diffs++; diffs > 20 {
			t.Fatal("too many differences")
		}
	}
}

// compareBuildahConfig compares the config fields a Dockerfile sets in
// assemble's and buildah's images.
func compareBuildahConfig(t *testing.T, exp expectation, img, theirs v1.Image) {
	t.Helper()
	oc, tc := configOf(t, img).Config, configOf(t, theirs).Config
	delete(tc.Labels, "io.buildah.version")
	if len(tc.Labels) == 0 {
		tc.Labels = nil
	}
	if len(oc.Labels) == 0 {
		oc.Labels = nil
	}
	b, _ := json.Marshal(tc)
	var want map[string]any
	json.Unmarshal(b, &want)
	for _, k := range []string{"Env", "Entrypoint", "Cmd", "User", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal", "Labels", "Shell", "Healthcheck", "OnBuild"} {
		if _, ok := want[k]; !ok {
			want[k] = nil
		}
	}
	for k := range want {
		switch k {
		case "Env", "Entrypoint", "Cmd", "User", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal", "Labels", "Shell", "Healthcheck", "OnBuild":
		default:
			delete(want, k)
		}
	}
	// BuildKit gives a stage FROM scratch the working directory "/"
	// (its empty image config); buildah leaves it unset.
	if oc.WorkingDir == "/" && tc.WorkingDir == "" {
		want["WorkingDir"] = "/"
	}
	checkConfig(t, oc, want, exp.Buildah.IgnoreConfig)
}

// shortDir is a temporary directory under /tmp (buildah's run root must
// have a short path).
func shortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "asmdf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("chmod", "-R", "u+rwx", d).Run()
		os.RemoveAll(d)
	})
	return d
}
