package deb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// testFile is one data.tar entry of a test package.
type testFile struct {
	path string // as in data.tar, e.g. "./usr/bin/app"
	body string
	mode int64
	typ  byte // tar.TypeReg (default), TypeDir, TypeSymlink, TypeLink
	link string
}

// testDeb describes a .deb built in Go for tests.
type testDeb struct {
	name, version, arch string
	fields              string // extra control fields ("Depends: x\n")
	files               []testFile
	compression         string            // data.tar compression: "xz" (default), "gz", "zst"
	ctl                 map[string]string // extra control.tar members (postinst, conffiles, ...)
}

func (d testDeb) filename() string {
	return fmt.Sprintf("%s_%s_%s.deb", d.name, d.version, d.arch)
}

// buildDeb builds a .deb: an ar archive of debian-binary, control.tar.gz
// and data.tar.{xz,gz,zst}.
func buildDeb(t *testing.T, d testDeb) []byte {
	t.Helper()
	if d.arch == "" {
		d.arch = "amd64"
	}
	ext := d.compression
	if ext == "" {
		ext = "xz"
	}
	data, md5sums := debData(t, d)
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(name string, body []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(body))
		ar.Write(body)
		if len(body)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", debControl(t, d, md5sums))
	member("data.tar."+ext, compressDebData(t, ext, data))
	return ar.Bytes()
}

// debData writes the data tar (parent directories first, as dpkg-deb
// writes them) and the md5sums of its files.
func debData(t *testing.T, d testDeb) ([]byte, string) {
	t.Helper()
	var md5sums strings.Builder
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	dirs := map[string]bool{}
	writeHdr := func(h *tar.Header) {
		h.Uname, h.Gname = "root", "root"
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	writeHdr(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range d.files {
		parts := strings.Split(strings.TrimPrefix(f.path, "./"), "/")
		for i := 1; i < len(parts); i++ {
			dir := "./" + strings.Join(parts[:i], "/") + "/"
			if !dirs[dir] && !dirs[strings.TrimSuffix(dir, "/")] && !strings.Contains(dir, "..") {
				dirs[dir] = true
				writeHdr(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755})
			}
		}
		dirs[f.path] = true
		h := &tar.Header{Name: f.path, Mode: f.mode, Typeflag: f.typ, Linkname: f.link}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.body))
			fmt.Fprintf(&md5sums, "%x  %s\n", md5.Sum([]byte(f.body)), strings.TrimPrefix(f.path, "./"))
		}
		writeHdr(h)
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return data.Bytes(), md5sums.String()
}

// debControl writes control.tar.gz: control, md5sums and the package's
// other control members (maintainer scripts executable), sorted.
func debControl(t *testing.T, d testDeb, md5sums string) []byte {
	t.Helper()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.com>\nInstalled-Size: 1\n%sDescription: test package %s\n extended description.\n", d.name, d.version, d.arch, d.fields, d.name)
	var ctl bytes.Buffer
	gz := gzip.NewWriter(&ctl)
	ctw := tar.NewWriter(gz)
	members := map[string]string{"control": control, "md5sums": md5sums}
	for k, v := range d.ctl {
		members[k] = v
	}
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	ctw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, n := range names {
		mode := int64(0o644)
		if strings.HasSuffix(n, "inst") || strings.HasSuffix(n, "rm") {
			mode = 0o755
		}
		if err := ctw.WriteHeader(&tar.Header{Name: "./" + n, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(members[n]))}); err != nil {
			t.Fatal(err)
		}
		ctw.Write([]byte(members[n]))
	}
	ctw.Close()
	gz.Close()
	return ctl.Bytes()
}

// compressDebData compresses the data tar as data.tar.EXT.
func compressDebData(t *testing.T, ext string, data []byte) []byte {
	t.Helper()
	var comp bytes.Buffer
	switch ext {
	case "xz":
		w, err := xz.NewWriter(&comp)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "gz":
		w := gzip.NewWriter(&comp)
		w.Write(data)
		w.Close()
	case "zst":
		w, err := zstd.NewWriter(&comp)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		t.Fatalf("unknown compression %q", ext)
	}
	return comp.Bytes()
}

// testArchive is a signed Debian archive on disk, served over HTTP.
type testArchive struct {
	root    string // the mirror's root directory
	keyring string // public keyring file
	entity  *openpgp.Entity
	server  *httptest.Server
	url     string

	mu       sync.Mutex
	requests []string
	override map[string][]byte // URL path -> body served instead of the file
}

func newTestKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("assemble test archive", "", "archive@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newTestArchive writes debs into pool/, a Packages index (plain, .gz and
// .xz), a Release and an InRelease signed with a fresh key, and serves it.
func newTestArchive(t *testing.T, suite, arch string, debs []testDeb) *testArchive {
	t.Helper()
	return newTestArchiveWith(t, suite, arch, debs, "")
}

// newTestArchiveWith is newTestArchive with extra Release fields.
func newTestArchiveWith(t *testing.T, suite, arch string, debs []testDeb, releaseFields string) *testArchive {
	t.Helper()
	a := &testArchive{root: t.TempDir(), entity: newTestKey(t), override: map[string][]byte{}}
	var packages bytes.Buffer
	for _, d := range debs {
		if d.arch == "" {
			d.arch = arch
		}
		body := buildDeb(t, d)
		rel := "pool/main/" + d.filename()
		writeFile(t, filepath.Join(a.root, rel), body)
		sum := sha256.Sum256(body)
		fmt.Fprintf(&packages, "Package: %s\nVersion: %s\nArchitecture: %s\n%sPriority: optional\nFilename: %s\nSize: %d\nSHA256: %s\nDescription: test package %s\n\n",
			d.name, d.version, d.arch, d.fields, rel, len(body), hex.EncodeToString(sum[:]), d.name)
	}
	dists := filepath.Join(a.root, "dists", suite)
	idx := "main/binary-" + arch + "/Packages"
	writeFile(t, filepath.Join(dists, idx), packages.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(packages.Bytes())
	zw.Close()
	writeFile(t, filepath.Join(dists, idx+".gz"), gz.Bytes())

	var release bytes.Buffer
	fmt.Fprintf(&release, "Origin: Test\nSuite: %s\nCodename: %s\n%sArchitectures: %s\nComponents: main\nSHA256:\n", suite, suite, releaseFields, arch)
	for _, f := range []struct {
		name string
		body []byte
	}{{idx, packages.Bytes()}, {idx + ".gz", gz.Bytes()}} {
		sum := sha256.Sum256(f.body)
		fmt.Fprintf(&release, " %s %d %s\n", hex.EncodeToString(sum[:]), len(f.body), f.name)
	}
	writeFile(t, filepath.Join(dists, "Release"), release.Bytes())
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, a.entity.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(release.Bytes())
	w.Close()
	writeFile(t, filepath.Join(dists, "InRelease"), signed.Bytes())

	var kr bytes.Buffer
	if err := a.entity.Serialize(&kr); err != nil {
		t.Fatal(err)
	}
	a.keyring = filepath.Join(t.TempDir(), "test-archive.gpg")
	writeFile(t, a.keyring, kr.Bytes())

	files := http.FileServer(http.Dir(a.root))
	a.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, r.URL.Path)
		body, ok := a.override[r.URL.Path]
		a.mu.Unlock()
		if ok {
			w.Write(body)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(a.server.Close)
	a.url = a.server.URL
	return a
}

func (a *testArchive) source(suite, arch string) Source {
	return Source{Mirror: a.url, Suites: []string{suite}, Arch: arch, Keyring: a.keyring}
}

func (a *testArchive) requestCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.requests)
}

func (a *testArchive) serve(path string, body []byte) {
	a.mu.Lock()
	a.override[path] = body
	a.mu.Unlock()
}

func writeFile(t *testing.T, p string, body []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
}

// noNetwork is an HTTP transport that fails the test if used.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("unexpected network request: %s", r.URL)
	return nil, fmt.Errorf("network disabled in this test")
}
