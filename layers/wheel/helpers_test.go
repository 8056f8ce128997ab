package wheel

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// wheelSpec describes a wheel the tests generate.
type wheelSpec struct {
	Name, Version  string
	Tag            string // "py3-none-any" by default
	Build          string
	Requires       []string
	RequiresPython string
	Extras         []string
	Files          map[string]string // member path -> content (module files, .data/…)
	Exec           map[string]bool   // members with the executable bit
	EntryPoints    string
	Platlib        bool   // Root-Is-Purelib: false
	Metadata       string // replaces the generated METADATA when set
	Tamper         string // member whose content is changed after RECORD is written
}

func (w wheelSpec) distName() string { return strings.ReplaceAll(w.Name, "-", "_") }

func (w wheelSpec) filename() string {
	tag := w.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	if w.Build != "" {
		return fmt.Sprintf("%s-%s-%s-%s.whl", w.distName(), w.Version, w.Build, tag)
	}
	return fmt.Sprintf("%s-%s-%s.whl", w.distName(), w.Version, tag)
}

func (w wheelSpec) metadata() string {
	if w.Metadata != "" {
		return w.Metadata
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", w.Name, w.Version)
	if w.RequiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", w.RequiresPython)
	}
	for _, e := range w.Extras {
		fmt.Fprintf(&b, "Provides-Extra: %s\n", e)
	}
	for _, r := range w.Requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	b.WriteString("\nA test package.\n")
	return b.String()
}

func recHash(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(h[:])
}

// build writes a valid wheel (zip with METADATA, WHEEL, RECORD and entry points).
func (w wheelSpec) build(t testing.TB) []byte {
	t.Helper()
	di := w.distName() + "-" + w.Version + ".dist-info"
	tag := w.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	files := map[string]string{}
	for k, v := range w.Files {
		files[k] = v
	}
	if len(w.Files) == 0 {
		files[strings.ToLower(w.distName())+"/__init__.py"] = fmt.Sprintf("__version__ = %q\n", w.Version)
	}
	files[di+"/METADATA"] = w.metadata()
	var wheel strings.Builder
	fmt.Fprintf(&wheel, "Wheel-Version: 1.0\nGenerator: assemble-test\nRoot-Is-Purelib: %v\n", !w.Platlib)
	for _, tg := range expandTag(tag) {
		fmt.Fprintf(&wheel, "Tag: %s\n", tg)
	}
	files[di+"/WHEEL"] = wheel.String()
	if w.EntryPoints != "" {
		files[di+"/entry_points.txt"] = w.EntryPoints
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	var rec strings.Builder
	for _, n := range names {
		fmt.Fprintf(&rec, "%s,%s,%d\n", n, recHash([]byte(files[n])), len(files[n]))
	}
	fmt.Fprintf(&rec, "%s/RECORD,,\n", di)
	if w.Tamper != "" {
		files[w.Tamper] += "# tampered\n"
	}
	files[di+"/RECORD"] = rec.String()
	names = append(names, di+"/RECORD")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		hdr := &zip.FileHeader{Name: n, Method: zip.Deflate}
		mode := os.FileMode(0o644)
		if w.Exec[n] {
			mode = 0o755
		}
		hdr.SetMode(mode)
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func expandTag(tag string) []string {
	p := strings.SplitN(tag, "-", 3)
	var out []string
	for _, a := range strings.Split(p[0], ".") {
		for _, b := range strings.Split(p[1], ".") {
			for _, c := range strings.Split(p[2], ".") {
				out = append(out, a+"-"+b+"-"+c)
			}
		}
	}
	return out
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// indexFile is one file the test index serves.
type indexFile struct {
	project  string // normalized
	filename string
	data     []byte
	sha256   string // advertised hash; "" means the real one, "-" none
	yanked   string // reason; "" not yanked
	yank     bool
	reqPy    string
	noMeta   bool // do not offer PEP 658 metadata for this file
}

// testIndex is a PEP 503/691 index on loopback.
type testIndex struct {
	srv      *httptest.Server
	mu       sync.Mutex
	files    map[string][]*indexFile // project -> files
	byName   map[string]*indexFile
	html     bool // answer HTML even when JSON is accepted
	pep658   bool
	requests []string
	auth     string // "user:pass" required when set
}

func newTestIndex(t testing.TB) *testIndex {
	ix := &testIndex{files: map[string][]*indexFile{}, byName: map[string]*indexFile{}, pep658: true}
	ix.srv = httptest.NewServer(http.HandlerFunc(ix.serve))
	t.Cleanup(ix.srv.Close)
	return ix
}

func (ix *testIndex) URL() string { return ix.srv.URL + "/simple/" }

func (ix *testIndex) add(t testing.TB, w wheelSpec) *indexFile {
	t.Helper()
	f := &indexFile{project: NormalizeName(w.Name), filename: w.filename(), data: w.build(t), reqPy: w.RequiresPython}
	ix.put(f)
	return f
}

func (ix *testIndex) put(f *indexFile) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.files[f.project] = append(ix.files[f.project], f)
	ix.byName[f.filename] = f
}

func (ix *testIndex) requested(prefix string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for _, r := range ix.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (ix *testIndex) serve(w http.ResponseWriter, r *http.Request) {
	ix.mu.Lock()
	ix.requests = append(ix.requests, r.URL.Path)
	ix.mu.Unlock()
	if ix.auth != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u+":"+p != ix.auth {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/simple/"):
		name := strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
		ix.mu.Lock()
		files := ix.files[name]
		ix.mu.Unlock()
		if files == nil {
			http.NotFound(w, r)
			return
		}
		if !ix.html && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
			ix.serveJSON(w, name, files)
			return
		}
		ix.serveHTML(w, files)
	case strings.HasPrefix(r.URL.Path, "/files/"):
		fn := strings.TrimPrefix(r.URL.Path, "/files/")
		meta := strings.HasSuffix(fn, ".metadata")
		fn = strings.TrimSuffix(fn, ".metadata")
		ix.mu.Lock()
		f := ix.byName[fn]
		ix.mu.Unlock()
		if f == nil || (meta && (!ix.pep658 || f.noMeta)) {
			http.NotFound(w, r)
			return
		}
		if meta {
			w.Write(wheelMetadataBytes(f.data))
			return
		}
		w.Write(f.data)
	default:
		http.NotFound(w, r)
	}
}

func wheelMetadataBytes(data []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".dist-info/METADATA") {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			return b
		}
	}
	return nil
}

func (f *indexFile) hash() string {
	switch f.sha256 {
	case "":
		return hexSHA(f.data)
	case "-":
		return ""
	}
	return f.sha256
}

func (ix *testIndex) serveHTML(w http.ResponseWriter, files []*indexFile) {
	w.Header().Set("Content-Type", "text/html")
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body>\n")
	for _, f := range files {
		href := "../../files/" + f.filename
		if h := f.hash(); h != "" {
			href += "#sha256=" + h
		}
		fmt.Fprintf(&b, `<a href="%s"`, html.EscapeString(href))
		if f.reqPy != "" {
			fmt.Fprintf(&b, ` data-requires-python="%s"`, html.EscapeString(f.reqPy))
		}
		if f.yank {
			fmt.Fprintf(&b, ` data-yanked="%s"`, html.EscapeString(f.yanked))
		}
		if ix.pep658 && !f.noMeta && strings.HasSuffix(f.filename, ".whl") {
			fmt.Fprintf(&b, ` data-dist-info-metadata="sha256=%s" data-core-metadata="sha256=%s"`, hexSHA(wheelMetadataBytes(f.data)), hexSHA(wheelMetadataBytes(f.data)))
		}
		fmt.Fprintf(&b, ">%s</a><br/>\n", html.EscapeString(f.filename))
	}
	b.WriteString("</body></html>\n")
	io.WriteString(w, b.String())
}

func (ix *testIndex) serveJSON(w http.ResponseWriter, name string, files []*indexFile) {
	w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
	type jf struct {
		Filename     string            `json:"filename"`
		URL          string            `json:"url"`
		Hashes       map[string]string `json:"hashes"`
		ReqPy        *string           `json:"requires-python,omitempty"`
		Yanked       any               `json:"yanked,omitempty"`
		CoreMetadata any               `json:"core-metadata,omitempty"`
	}
	page := struct {
		Meta  map[string]string `json:"meta"`
		Name  string            `json:"name"`
		Files []jf              `json:"files"`
	}{Meta: map[string]string{"api-version": "1.1"}, Name: name}
	for _, f := range files {
		j := jf{Filename: f.filename, URL: "/files/" + f.filename, Hashes: map[string]string{}}
		if h := f.hash(); h != "" {
			j.Hashes["sha256"] = h
		}
		if f.reqPy != "" {
			rp := f.reqPy
			j.ReqPy = &rp
		}
		if f.yank {
			if f.yanked != "" {
				j.Yanked = f.yanked
			} else {
				j.Yanked = true
			}
		}
		if ix.pep658 && !f.noMeta && strings.HasSuffix(f.filename, ".whl") {
			j.CoreMetadata = map[string]string{"sha256": hexSHA(wheelMetadataBytes(f.data))}
		}
		page.Files = append(page.Files, j)
	}
	json.NewEncoder(w).Encode(page)
}

// debianTarget is bookworm's python3 as Probe describes it.
func debianTarget() *Target {
	return &Target{
		Python: "3.11", PythonFull: "3.11.2", Implementation: "cp", Interpreter: "/usr/bin/python3",
		Purelib: "/usr/local/lib/python3.11/dist-packages", Platlib: "/usr/local/lib/python3.11/dist-packages",
		Scripts: "/usr/local/bin", Data: "/usr/local", Headers: "/usr/include/python3.11",
		Glibc: "2.36", Arch: "x86_64", Installed: map[string]InstalledDist{},
	}
}

func newCache(t testing.TB) *layers.Cache {
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// materialize writes layer entries under root (whiteouts are recorded, not applied).
func materialize(t testing.TB, root string, entries []layers.Entry) (whiteouts []string) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.Path))
		switch e.Type {
		case layers.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, e.Mode); err != nil {
				t.Fatal(err)
			}
		case layers.TypeFile:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			rc, err := e.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s: %v", e.Path, err)
			}
			if int64(len(b)) != e.Size {
				t.Fatalf("%s: Open gave %d bytes, Size says %d", e.Path, len(b), e.Size)
			}
			if err := os.WriteFile(p, b, e.Mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, e.Mode); err != nil {
				t.Fatal(err)
			}
		case layers.TypeWhiteout:
			whiteouts = append(whiteouts, e.Path)
		default:
			t.Fatalf("unexpected entry type %s for %s", e.Type, e.Path)
		}
	}
	return whiteouts
}

func resolveOK(t testing.TB, r *Resolver, reqs *Requirements, tg *Target) []Resolved {
	t.Helper()
	set, err := r.Resolve(context.Background(), reqs, tg)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return set
}

func versions(set []Resolved) map[string]string {
	out := map[string]string{}
	for _, r := range set {
		out[NormalizeName(r.Name)] = r.Version
	}
	return out
}

func reqsOf(t testing.TB, text string) *Requirements {
	t.Helper()
	r, err := ParseRequirementsReader("requirements.txt", strings.NewReader(text), WithBaseDir(t.TempDir()))
	if err != nil {
		t.Fatalf("parsing %q: %v", text, err)
	}
	return r
}
