package deb

// Tests against the real Debian mirror (http://deb.debian.org/debian). They
// share the download cache in ASSEMBLE_TEST_CACHE (default
// /var/tmp/assemble-test-cache), so only the first run downloads.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/layerstest"
)

func mirrorIndex(t *testing.T, c *Client, arch string) *Index {
	t.Helper()
	if testing.Short() {
		t.Skip("uses the Debian mirror")
	}
	ix, err := c.Index(context.Background(), Source{Arch: arch})
	if err != nil {
		t.Fatalf("indexing bookworm %s from %s: %v", arch, DefaultMirror, err)
	}
	return ix
}

func resolveNames(t *testing.T, ix *Index, installed map[string]string, reqs []Request) []*Package {
	t.Helper()
	pkgs, err := ix.Resolve(reqs, installed)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func chroot(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("chroot", append([]string{root}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s %v: %v\n%s", root, args, err, out)
	}
	return string(out)
}

// dpkgList is `dpkg-query --admindir=ROOT/var/lib/dpkg -W` as name -> version.
func dpkgList(t *testing.T, root string) map[string]string {
	t.Helper()
	out, err := exec.Command(testtool.RequireTool(t, "dpkg-query"), "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || strings.TrimSpace(f[2]) != "ii" {
			t.Errorf("dpkg-query line %q: not installed", line)
			continue
		}
		got[f[0]] = f[1]
	}
	return got
}

// TestDebianPython3 resolves and unpacks python3 for amd64 from the real
// bookworm mirror, runs it in a chroot, compares the result with
// mmdebstrap's, then adds jq from an apt.txt on top.
func TestDebianPython3(t *testing.T) {
	testtool.RequireRoot(t)
	testtool.RequireTool(t, "chroot")
	cache := layerstest.SharedCache(t)
	c := ownStaging(t, New(cache))
	ctx := context.Background()
	ix := mirrorIndex(t, c, "amd64")

	// mmdebstrap --variant=essential --include=python3,... installs the
	// Essential: yes packages and the includes; ask for the same.
	includes := []string{"python3", "ca-certificates", "tzdata", "netbase"}
	reqs := ix.EssentialRequest()
	for _, n := range includes {
		reqs = append(reqs, Request{Name: n, Where: "test"})
	}
	pkgs := resolveNames(t, ix, nil, reqs)
	if err := c.Fetch(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extractSpecs(t, specs, root)
	assertNothingLeft(t, c)

	// Every package is in dpkg's database with its version.
	got := dpkgList(t, root)
	if len(got) != len(pkgs) {
		t.Errorf("dpkg-query lists %d packages, resolved %d", len(got), len(pkgs))
	}
	for _, p := range pkgs {
		if got[p.Name] != p.Version {
			t.Errorf("dpkg-query: %s has %q, want %q", p.Name, got[p.Name], p.Version)
		}
	}
	if out, err := exec.Command("dpkg", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "--audit").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("dpkg --audit: %v\n%s", err, out)
	}

	// Compared before anything runs in the root (python writes __pycache__).
	t.Run("mmdebstrap", func(t *testing.T) {
		compareWithMmdebstrap(t, cache, root, includes)
	})

	out := chroot(t, root, "/usr/bin/python3", "-c", "import ssl, sqlite3, json; print(ssl.OPENSSL_VERSION)")
	if !strings.HasPrefix(out, "OpenSSL 3.") {
		t.Errorf("python3 printed %q, want an OpenSSL version", out)
	}
	// The CA bundle that ca-certificates' postinst would build is there and loads.
	out = chroot(t, root, "/usr/bin/python3", "-c", "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])")
	if n, err := strconv.Atoi(strings.TrimSpace(out)); err != nil || n < 100 {
		t.Errorf("python's default context loaded %q CA certificates, want > 100", out)
	}
	out = chroot(t, root, "/bin/sh", "-c", "echo hello | awk '{print toupper($0)}'; ls -l /etc/localtime")
	if !strings.Contains(out, "HELLO") || !strings.Contains(out, "/usr/share/zoneinfo/Etc/UTC") {
		t.Errorf("shell, awk alternative or tzdata link broken:\n%s", out)
	}

	// jq from an apt.txt, resolved against the root's dpkg status and
	// layered on top of it.
	aptTxt := filepath.Join(t.TempDir(), "apt.txt")
	writeFile(t, aptTxt, []byte("# tools\njq\n"))
	aptReqs, err := ParseAptTxt(aptTxt)
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := ParseStatus(bytes.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	jqPkgs := resolveNames(t, ix, installed, aptReqs)
	if n := names(jqPkgs); n["jq"] == "" || n["libc6"] != "" || len(n) != 3 {
		t.Errorf("jq on the python root resolved to %v; want jq, libjq1, libonig5 only", n)
	}
	for _, p := range jqPkgs {
		if p.Name == "jq" && p.Requested != aptTxt+":2" {
			t.Errorf("jq requested at %q, want %s:2", p.Requested, aptTxt)
		}
	}
	jqSpecs, err := c.Layers(ctx, jqPkgs, WithBaseStatus(status))
	if err != nil {
		t.Fatal(err)
	}
	extractViaTar(t, jqSpecs, root)
	if out := chroot(t, root, "/usr/bin/jq", "--version"); !strings.HasPrefix(out, "jq-1.") {
		t.Errorf("jq --version printed %q", out)
	}
	got = dpkgList(t, root)
	if len(got) != len(pkgs)+len(jqPkgs) || got["jq"] == "" || got["python3"] == "" {
		t.Errorf("after jq: dpkg-query lists %d packages, want %d", len(got), len(pkgs)+len(jqPkgs))
	}
	assertNothingLeft(t, c)
}

// treeListing describes every path of an unpacked root, for comparisons.
func treeListing(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	testtool.WalkTree(t, root, func(rel, p string, fi fs.FileInfo) error {
		owner := ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "L " + l
		case fi.IsDir():
			out[rel] = fmt.Sprintf("D %v%s", fi.Mode(), owner)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("F %v%s %s", fi.Mode(), owner, hex.EncodeToString(sum[:6]))
		default:
			out[rel] = fmt.Sprintf("O %v", fi.Mode())
		}
		return nil
	})
	return out
}

// mmdebstrapResult is what the comparison keeps of an mmdebstrap run.
type mmdebstrapResult struct {
	status []byte
	tree   map[string]string
	files  map[string][]byte // a few files compared by content
}

var comparedFiles = []string{"etc/passwd", "etc/group", "etc/shells"}

// runMmdebstrap returns mmdebstrap's result for the same archive state,
// from the shared test cache when it was computed for this InRelease.
func runMmdebstrap(t *testing.T, cache *layers.Cache, arch string, includes []string) *mmdebstrapResult {
	t.Helper()
	inRelease, ok := cache.Ref(DefaultMirror + "/dists/bookworm/InRelease")
	if !ok {
		t.Fatal("no cached InRelease")
	}
	key := sha256.Sum256([]byte(strings.Join([]string{"mmdebstrap-v1", inRelease, arch, strings.Join(includes, ",")}, "\n")))
	dir := filepath.Join(testtool.CacheDir(t), "mmdebstrap", hex.EncodeToString(key[:8]))
	load := func() (*mmdebstrapResult, bool) {
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			return nil, false
		}
		tree, err := os.ReadFile(filepath.Join(dir, "tree"))
		if err != nil {
			return nil, false
		}
		r := &mmdebstrapResult{status: status, tree: map[string]string{}, files: map[string][]byte{}}
		for _, line := range strings.Split(strings.TrimSpace(string(tree)), "\n") {
			k, v, _ := strings.Cut(line, "\t")
			r.tree[k] = v
		}
		for _, f := range comparedFiles {
			b, err := os.ReadFile(filepath.Join(dir, "files", f))
			if err != nil {
				return nil, false
			}
			r.files[f] = b
		}
		return r, true
	}
	if r, ok := load(); ok {
		return r
	}
	testtool.RequireTool(t, "mmdebstrap")
	target := filepath.Join(t.TempDir(), "root")
	cmd := exec.Command("mmdebstrap", "--mode=root", "--variant=essential", "--include="+strings.Join(includes, ","),
		"--skip=cleanup", "--architectures="+arch, "bookworm", target, DefaultMirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, out)
	}
	tree := treeListing(t, target)
	var tb bytes.Buffer
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tb.WriteString(k + "\t" + tree[k] + "\n")
	}
	status, err := os.ReadFile(filepath.Join(target, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	writeFile(t, filepath.Join(tmp, "status"), status)
	writeFile(t, filepath.Join(tmp, "tree"), tb.Bytes())
	for _, f := range comparedFiles {
		b, err := os.ReadFile(filepath.Join(target, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tmp, "files", f), b)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	r, ok := load()
	if !ok {
		t.Fatal("reading mmdebstrap result back failed")
	}
	return r
}

// explained lists every way our root may differ from mmdebstrap's, and why.
// Anything else fails the comparison.
var explained = []struct {
	prefix string // path prefix, or substring when it starts with "*"
	where  string // "mm" only in mmdebstrap's, "ours" only in ours, "diff" content differs
	why    string
}{
	{"dev/", "mm", "mmdebstrap creates device nodes; a container runtime provides /dev"},
	{"etc/apt/", "mm", "mmdebstrap's own apt configuration and sources.list"},
	{"tmp/mmdebstrap.", "mm", "mmdebstrap's temporary apt configuration (--skip=cleanup)"},
	{"var/cache/apt", "mm", "apt's package cache (--skip=cleanup)"},
	{"var/lib/apt", "mm", "apt's lists (--skip=cleanup)"},
	{"var/log/apt", "mm", "apt's logs"},
	{"etc/fstab", "mm", "written by mmdebstrap itself"},
	{"etc/hostname", "mm", "written by mmdebstrap itself"},
	{"etc/resolv.conf", "mm", "written by mmdebstrap itself"},
	{"var/lib/dpkg/arch", "mm", "written by mmdebstrap itself"},
	{"var/lib/dpkg/status-old", "mm", "dpkg's backup from running"},
	{"var/lib/dpkg/diversions-old", "mm", "dpkg's backup from running"},
	{"var/lib/dpkg/lock", "mm", "dpkg's lock files"},
	{"var/lib/dpkg/triggers/Lock", "mm", "dpkg's lock files"},
	{"var/log/dpkg.log", "mm", "dpkg's log"},
	{"var/log/alternatives.log", "mm", "update-alternatives' log"},
	{"etc/ld.so.cache", "mm", "NOT-DONE: ldconfig (libc-bin trigger); ld.so finds the multiarch directories without it"},
	{"var/cache/ldconfig/", "mm", "NOT-DONE: ldconfig"},
	{"*__pycache__", "mm", "NOT-DONE: py3compile in python3's postinsts; Python compiles on first import"},
	{"etc/rc0.d/", "mm", "NOT-DONE: update-rc.d links (no init system in a container)"},
	{"etc/rc6.d/", "mm", "NOT-DONE: update-rc.d links"},
	{"etc/rcS.d/", "mm", "NOT-DONE: update-rc.d links"},
	{"etc/systemd/system/", "mm", "NOT-DONE: deb-systemd-helper enable links"},
	{"var/lib/systemd/", "mm", "NOT-DONE: deb-systemd-helper state"},
	{"var/cache/debconf/", "mm", "NOT-DONE: debconf's answer database (defaults are used)"},
	{"etc/shadow", "ours", "pwconv, as passwd's postinst runs it (passwd is not Essential, so mmdebstrap's root has none)"},
	{"etc/gshadow", "ours", "grpconv, as passwd's postinst runs it"},
	{"var/lib/dpkg/available", "ours", "dpkg's (empty) available file"},
	{"etc/passwd", "diff", "password field 'x' after pwconv (checked below)"},
	{"etc/group", "diff", "password field 'x' after grpconv (checked below)"},
	{"etc/shells", "diff", "update-shells run once instead of once per package: same lines, other order (checked below)"},
}

func explain(p, where string) bool {
	for _, e := range explained {
		if e.where != where {
			continue
		}
		if strings.HasPrefix(e.prefix, "*") {
			if strings.Contains(p, e.prefix[1:]) {
				return true
			}
		} else if p == strings.TrimSuffix(e.prefix, "/") || strings.HasPrefix(p, e.prefix) {
			return true
		}
	}
	return false
}

func compareWithMmdebstrap(t *testing.T, cache *layers.Cache, root string, includes []string) {
	mm := runMmdebstrap(t, cache, "amd64", includes)
	ours, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	// Same packages and versions.
	mmSet, _ := ParseStatus(bytes.NewReader(mm.status))
	ourSet, _ := ParseStatus(bytes.NewReader(ours))
	for k, v := range mmSet {
		if ourSet[k] != v {
			t.Errorf("mmdebstrap has %s %s, we have %q", k, v, ourSet[k])
		}
	}
	for k, v := range ourSet {
		if _, ok := mmSet[k]; !ok {
			t.Errorf("we have %s %s, mmdebstrap does not", k, v)
		}
	}
	// The status file is what dpkg writes, byte for byte.
	if !bytes.Equal(mm.status, ours) {
		t.Errorf("dpkg status differs from mmdebstrap's (%d vs %d bytes)", len(mm.status), len(ours))
	}
	// Every other difference in the tree is one explained above.
	tree := treeListing(t, root)
	var unexplained []string
	for p, v := range mm.tree {
		w, ok := tree[p]
		switch {
		case !ok && !explain(p, "mm"):
			unexplained = append(unexplained, "only in mmdebstrap's: "+p+" "+v)
		case ok && w != v && !explain(p, "diff"):
			unexplained = append(unexplained, fmt.Sprintf("differs: %s: mmdebstrap %s, ours %s", p, v, w))
		}
	}
	for p, v := range tree {
		if _, ok := mm.tree[p]; !ok && !explain(p, "ours") {
			unexplained = append(unexplained, "only in ours: "+p+" "+v)
		}
	}
	sort.Strings(unexplained)
	if len(unexplained) > 0 {
		t.Errorf("%d unexplained differences from mmdebstrap's root:\n%s", len(unexplained), strings.Join(unexplained, "\n"))
	}
	// The explained content differences are only what they claim.
	for _, f := range []string{"etc/passwd", "etc/group"} {
		b, _ := os.ReadFile(filepath.Join(root, f))
		var want []string
		for _, line := range strings.Split(strings.TrimSpace(string(mm.files[f])), "\n") {
			fs := strings.Split(line, ":")
			fs[1] = "x"
			want = append(want, strings.Join(fs, ":"))
		}
		if strings.TrimSpace(string(b)) != strings.Join(want, "\n") {
			t.Errorf("%s is not mmdebstrap's with 'x' passwords:\n%s", f, b)
		}
	}
	b, _ := os.ReadFile(filepath.Join(root, "etc/shells"))
	a1 := strings.Split(strings.TrimSpace(string(b)), "\n")
	a2 := strings.Split(strings.TrimSpace(string(mm.files["etc/shells"])), "\n")
	sort.Strings(a1)
	sort.Strings(a2)
	if strings.Join(a1, "\n") != strings.Join(a2, "\n") {
		t.Errorf("/etc/shells lines differ:\n%s\nvs mmdebstrap's\n%s", b, mm.files["etc/shells"])
	}
}

// TestDebianPython3ARM64 resolves and unpacks python3 for arm64.
func TestDebianPython3ARM64(t *testing.T) {
	fileTool := testtool.RequireTool(t, "file")
	cache := layerstest.SharedCache(t)
	c := ownStaging(t, New(cache))
	ctx := context.Background()
	ix := mirrorIndex(t, c, "arm64")
	pkgs := resolveNames(t, ix, nil, []Request{{Name: "python3", Where: "test"}})
	for _, p := range pkgs {
		if p.Architecture != "arm64" && p.Architecture != "all" {
			t.Errorf("%s is for %s", p, p.Architecture)
		}
	}
	if err := c.Fetch(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extractSpecs(t, specs, root)
	out, err := exec.Command(fileTool, filepath.Join(root, "usr/bin/python3.11")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "aarch64") {
		t.Errorf("file usr/bin/python3.11: %s %v", out, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "lib64")); err == nil {
		t.Error("arm64 root has a /lib64 link; merged /usr on arm64 has none")
	}
	if _, err := os.Stat(filepath.Join(root, "lib/ld-linux-aarch64.so.1")); err != nil {
		t.Errorf("arm64 dynamic loader not reachable through /lib: %v", err)
	}
	if got := dpkgList(t, root); got["libc6"] == "" || len(got) != len(pkgs) {
		t.Errorf("dpkg-query lists %d packages, want %d", len(got), len(pkgs))
	}
	assertNothingLeft(t, c)
}

// TestDebianBaseRequest checks the minimal root's package set.
func TestDebianBaseRequest(t *testing.T) {
	c := New(layerstest.SharedCache(t))
	ix := mirrorIndex(t, c, "amd64")
	pkgs := resolveNames(t, ix, nil, ix.BaseRequest())
	n := names(pkgs)
	for _, want := range []string{"apt", "base-files", "bash", "ca-certificates", "tzdata", "netbase", "usr-is-merged", "dpkg", "libc6", "openssl"} {
		if n[want] == "" {
			t.Errorf("base set lacks %s", want)
		}
	}
	// usr-is-merged satisfies init-system-helpers, so usrmerge and perl stay out.
	for _, not := range []string{"usrmerge", "perl"} {
		if n[not] != "" {
			t.Errorf("base set has %s", not)
		}
	}
	specs, err := c.Layers(context.Background(), pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 1 || specs[0].(*LayerSpec).Group() != "os" {
		t.Errorf("the base set should be one OS layer, got %d layers", len(specs))
	}
}

// TestDebianLocalDirOffline builds jq from a local directory of real .deb
// files (copied from the download cache) with no network at all.
func TestDebianLocalDirOffline(t *testing.T) {
	testtool.RequireRoot(t)
	shared := layerstest.SharedCache(t)
	online := New(shared)
	ctx := context.Background()
	ix := mirrorIndex(t, online, "amd64")
	pkgs := resolveNames(t, ix, nil, []Request{{Name: "jq", Where: "test"}})
	if err := online.Fetch(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	debs := t.TempDir()
	for _, p := range pkgs {
		src, err := online.debPath(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(debs, p.ID()+".deb"), b)
	}
	fresh, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := New(fresh, WithHTTPClient(&http.Client{Transport: noNetwork{t}}))
	lix, err := c.Index(ctx, Source{LocalDir: debs, Mirror: "http://192.0.2.1/unreachable"})
	if err != nil {
		t.Fatal(err)
	}
	lpkgs := resolveNames(t, lix, nil, []Request{{Name: "jq", Where: "apt.txt:1"}})
	if len(lpkgs) != len(pkgs) {
		t.Errorf("local directory resolved %d packages, the mirror %d", len(lpkgs), len(pkgs))
	}
	specs, err := c.Layers(ctx, lpkgs)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extractSpecs(t, specs, root)
	if out := chroot(t, root, "/usr/bin/jq", "--version"); !strings.HasPrefix(out, "jq-1.") {
		t.Errorf("jq --version printed %q", out)
	}
	// Same packages, same .deb hashes: the same layers as from the mirror.
	mspecs, err := online.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		k1, _ := specs[i].Key(ctx)
		k2, _ := mspecs[i].Key(ctx)
		if k1 != k2 {
			t.Errorf("layer %d: key from a local directory differs from the mirror's", i)
		}
	}
}

// TestEmbeddedKeyring verifies the real bookworm InRelease with the
// keyring built into the binary (used when the machine has none).
func TestEmbeddedKeyring(t *testing.T) {
	cache := layerstest.SharedCache(t)
	mirrorIndex(t, New(cache), "amd64") // makes sure the InRelease is cached
	d, ok := cache.Ref(DefaultMirror + "/dists/bookworm/InRelease")
	if !ok {
		t.Fatal("no cached InRelease")
	}
	data, err := os.ReadFile(filepath.Join(cache.Dir(), "downloads", "sha256", strings.TrimPrefix(d, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := parseKeyring(embeddedKeyring, "embedded")
	if err != nil {
		t.Fatal(err)
	}
	text, err := verifyInRelease(data, keys)
	if err != nil {
		t.Fatalf("embedded keyring: %v", err)
	}
	if !bytes.Contains(text, []byte("Codename: bookworm")) {
		t.Error("verified text is not bookworm's Release")
	}
	// Only the key that verified was read: the first signature's issuer.
	if len(keys.read) != 1 || len(keys.entities) < 3 {
		t.Errorf("%d of the keyring's %d keys read to verify bookworm's InRelease, want 1", len(keys.read), len(keys.entities))
	}
	// A keyring without Debian's keys refuses it.
	var other bytes.Buffer
	newTestKey(t).Serialize(&other)
	otherKeys, err := parseKeyring(other.Bytes(), "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyInRelease(data, otherKeys); err == nil {
		t.Error("InRelease verified with an unrelated key")
	}
}

// TestDebianOfflineEmptyCache: offline with nothing cached names what is missing.
func TestDebianOfflineEmptyCache(t *testing.T) {
	c, _ := testClient(t, WithOffline(true), WithHTTPClient(&http.Client{Transport: noNetwork{t}}))
	_, err := c.Index(context.Background(), Source{Suites: []string{"bookworm", "bookworm-updates"}})
	if err == nil || !errors.Is(err, layers.ErrNotCached) {
		t.Fatalf("offline with an empty cache: %v", err)
	}
	for _, want := range []string{DefaultMirror + "/dists/bookworm/InRelease", DefaultMirror + "/dists/bookworm-updates/InRelease", "2 input(s) missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}
