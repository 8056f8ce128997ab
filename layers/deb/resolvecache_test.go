package deb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/layerstest"
	"pault.ag/go/debian/version"
)

// loaded reports whether an index parsed its sources.
func loaded(ix *Index) bool { return ix.pkgs != nil }

// layerKeys returns the keys and descriptions of the packages' layers.
func layerKeys(t *testing.T, c *Client, pkgs []*Package, opts ...LayerOption) []string {
	t.Helper()
	ctx := context.Background()
	specs, err := c.Layers(ctx, pkgs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range specs {
		k, err := s.Key(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ls := s.(*LayerSpec)
		out = append(out, fmt.Sprintf("%s %s %s root=%v pkgs=%v below=%v", k, s.Describe(), ls.Group(), ls.root, ids(ls.pkgs), ids(ls.below)))
	}
	return out
}

func ids(pkgs []*Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.ID())
	}
	return out
}

func cachedFiles(t *testing.T, cache *layers.Cache) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(cache.Dir(), "deb-resolve"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// resolveFixture is a client over a test archive and the requests the
// resolution-cache tests ask.
type resolveFixture struct {
	src       Source
	c         *Client
	cache     *layers.Cache
	reqs      []Request
	installed map[string]string
}

// TestResolveCache: a second build with the same inputs gets its packages
// from the cache without parsing any index, and they (and their layers) are
// exactly those a resolution computes; any change of requests or installed
// packages is a miss.
func TestResolveCache(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	f := &resolveFixture{
		src:       a.source("testing", "amd64"),
		reqs:      []Request{{Name: "app", Where: "apt.txt:1"}, {Name: "pyish", Where: "apt.txt:2"}},
		installed: map[string]string{"libc-fake": "1", "libc-fake:amd64": "1"},
	}
	f.c, f.cache = testClient(t)

	ix, err := f.c.Index(context.Background(), f.src)
	if err != nil {
		t.Fatal(err)
	}
	if loaded(ix) {
		t.Fatal("Index parsed the Packages index before anything needed it")
	}
	miss, err := ix.Resolve(f.reqs, f.installed)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded(ix) {
		t.Fatal("a first resolution did not parse the index")
	}
	if n := cachedFiles(t, f.cache); n != 2 { // the resolution and the index summary
		t.Fatalf("%d files in deb-resolve after a miss, want 2", n)
	}
	ix2 := f.checkOfflineHit(t, ix, miss)
	f.checkMovedRequestsHit(t, ix2)
	f.checkOtherQuestionsMiss(t)
	assertNothingLeft(t, f.c)
}

// checkOfflineHit asks again from a second process, offline, with the
// Packages indexes removed from the cache after Index checked them (so a
// parse would fail): the same packages, layers and base requests come from
// the cache. It returns that second process's index.
func (f *resolveFixture) checkOfflineHit(t *testing.T, ix *Index, miss []*Package) *Index {
	t.Helper()
	base := ix.BaseRequest()
	ess := ix.EssentialRequest()
	off := New(f.cache, WithOffline(true))
	ix2, err := off.Index(context.Background(), f.src)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range ix2.parts {
		plain, _, comprName, compr := part.file.indexFiles()
		os.Remove(off.downloadPathOf("sha256:" + plain.hex))
		if comprName != "" {
			os.Remove(off.downloadPathOf("sha256:" + compr.hex))
		}
	}
	hit, err := ix2.Resolve(f.reqs, f.installed)
	if err != nil {
		t.Fatalf("cached resolution: %v", err)
	}
	if loaded(ix2) {
		t.Fatal("a cached resolution parsed the index")
	}
	if !reflect.DeepEqual(hit, miss) {
		for i := range miss {
			if i < len(hit) && !reflect.DeepEqual(hit[i], miss[i]) {
				t.Errorf("package %d: hit %+v\nmiss %+v", i, *hit[i], *miss[i])
			}
		}
		t.Fatalf("hit has %d packages, miss %d; they differ", len(hit), len(miss))
	}
	if got, want := layerKeys(t, off, hit), layerKeys(t, f.c, miss); !reflect.DeepEqual(got, want) {
		t.Errorf("layers from a hit:\n%v\nfrom a miss:\n%v", got, want)
	}
	status := []byte("Package: libc-fake\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n")
	if got, want := layerKeys(t, off, hit, WithBaseStatus(status)), layerKeys(t, f.c, miss, WithBaseStatus(status)); !reflect.DeepEqual(got, want) {
		t.Errorf("layers on a base from a hit:\n%v\nfrom a miss:\n%v", got, want)
	}
	if got := ix2.BaseRequest(); !reflect.DeepEqual(got, base) || loaded(ix2) {
		t.Errorf("cached BaseRequest %v (parsed: %v), want %v", got, loaded(ix2), base)
	}
	if got := ix2.EssentialRequest(); !reflect.DeepEqual(got, ess) || len(ess) != 1 || loaded(ix2) {
		t.Errorf("cached EssentialRequest %v (parsed: %v), want %v", got, loaded(ix2), ess)
	}
	return ix2
}

// checkMovedRequestsHit asks the same names from other places: a hit,
// reporting the new places.
func (f *resolveFixture) checkMovedRequestsHit(t *testing.T, ix2 *Index) {
	t.Helper()
	moved := []Request{{Name: "app", Where: "other.txt:7"}, {Name: " pyish ", Where: ""}}
	hit2, err := ix2.Resolve(moved, f.installed)
	if err != nil || loaded(ix2) {
		t.Fatalf("same names, other Where: %v (parsed: %v)", err, loaded(ix2))
	}
	fresh, _ := testClient(t)
	fix, err := fresh.Index(context.Background(), f.src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fix.Resolve(moved, f.installed)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hit2, want) {
		t.Errorf("hit with other Where differs from a fresh resolution")
	}
	for _, p := range hit2 {
		if p.Requested != "" && p.Requested != "other.txt:7" && p.Requested != "request" {
			t.Errorf("%s: Requested %q", p.Name, p.Requested)
		}
		if !strings.HasPrefix(p.Reason, "other.txt:7: ") && !strings.HasPrefix(p.Reason, "request: ") {
			t.Errorf("%s: Reason %q", p.Name, p.Reason)
		}
	}
}

// checkOtherQuestionsMiss: anything else is a miss: it parses (and is
// cached in turn).
func (f *resolveFixture) checkOtherQuestionsMiss(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	reqs, installed := f.reqs, f.installed
	for _, tc := range []struct {
		name      string
		reqs      []Request
		installed map[string]string
	}{
		{"installed changed", reqs, map[string]string{"libc-fake": "1"}},
		{"installed empty", reqs, nil},
		{"request added", append(append([]Request(nil), reqs...), Request{Name: "tool"}), installed},
		{"requests reordered", []Request{reqs[1], reqs[0]}, installed},
		{"version pinned", []Request{{Name: "app=1.0"}, {Name: "pyish"}}, installed},
		{"arch qualified", []Request{{Name: "app:amd64"}, {Name: "pyish"}}, installed},
	} {
		ix3, err := f.c.Index(ctx, f.src)
		if err != nil {
			t.Fatal(err)
		}
		first, err := ix3.Resolve(tc.reqs, tc.installed)
		if err != nil || !loaded(ix3) {
			t.Errorf("%s: %v (parsed: %v, want a miss)", tc.name, err, loaded(ix3))
			continue
		}
		ix4, _ := f.c.Index(ctx, f.src)
		second, err := ix4.Resolve(tc.reqs, tc.installed)
		if err != nil || loaded(ix4) || !reflect.DeepEqual(first, second) {
			t.Errorf("%s again: %v (parsed: %v, want a hit)", tc.name, err, loaded(ix4))
		}
	}
}

// TestResolveCacheArchiveChange: a new Release (the archive changed) is a
// miss, and a damaged cache file is ignored.
func TestResolveCacheArchiveChange(t *testing.T) {
	ctx := context.Background()
	u := testUniverse()
	a := newTestArchive(t, "testing", "amd64", u)
	c, cache := testClient(t)
	ix, err := c.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := []Request{{Name: "top", Where: "t"}}
	if _, err := ix.Resolve(reqs, nil); err == nil {
		t.Fatal("top needs libfoo1 >= 3, which the archive lacks")
	}
	if n := cachedFiles(t, cache); n != 1 { // the summary only: errors are not cached
		t.Errorf("%d files in deb-resolve after a failed resolution, want 1", n)
	}

	// The same mirror, now with libfoo1 3.0: a new Release, a new answer.
	b := newTestArchive(t, "testing", "amd64", append(u, testDeb{name: "libfoo1", version: "3.0-1", fields: "Multi-Arch: same\n"}))
	for _, f := range []string{"dists/testing/InRelease", "dists/testing/main/binary-amd64/Packages", "dists/testing/main/binary-amd64/Packages.gz", "pool/main/libfoo1_3.0-1_amd64.deb"} {
		body, err := os.ReadFile(filepath.Join(b.root, f))
		if err != nil {
			t.Fatal(err)
		}
		a.serve("/"+f, body)
	}
	src := a.source("testing", "amd64")
	src.Keyring = b.keyring
	ix2, err := c.Index(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if ix2.key == ix.key {
		t.Fatal("a changed Release gave the same index key")
	}
	pkgs, err := ix2.Resolve(reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if names(pkgs)["libfoo1"] != "3.0-1" {
		t.Errorf("resolved %v", names(pkgs))
	}

	// Damaged cache files are misses, and are written again.
	ents, _ := os.ReadDir(filepath.Join(cache.Dir(), "deb-resolve"))
	for _, e := range ents {
		writeFile(t, filepath.Join(cache.Dir(), "deb-resolve", e.Name()), []byte(`{"format":"`+resolveFormat+`","packages":[{"name":"../x"}]}`))
	}
	ix3, _ := c.Index(ctx, src)
	again, err := ix3.Resolve(reqs, nil)
	if err != nil || !loaded(ix3) || !reflect.DeepEqual(ids(again), ids(pkgs)) {
		t.Errorf("with damaged cache files: %v %v (parsed: %v)", ids(again), err, loaded(ix3))
	}
	ix4, _ := c.Index(ctx, src)
	if again, err := ix4.Resolve(reqs, nil); err != nil || loaded(ix4) || !reflect.DeepEqual(again, pkgs) {
		t.Errorf("rewritten cache file not used: %v (parsed: %v)", err, loaded(ix4))
	}
}

// TestResolveCacheLocalDir: a local directory's key is its .deb digests.
func TestResolveCacheLocalDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, d := range testUniverse() {
		if d.arch == "" {
			d.arch = "amd64"
		}
		writeFile(t, filepath.Join(dir, d.filename()), buildDeb(t, d))
	}
	c, _ := testClient(t)
	reqs := []Request{{Name: "app", Where: "apt.txt:1"}}
	ix, err := c.Index(ctx, Source{LocalDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	miss, err := ix.Resolve(reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix2, _ := c.Index(ctx, Source{LocalDir: dir})
	hit, err := ix2.Resolve(reqs, nil)
	if err != nil || loaded(ix2) || !reflect.DeepEqual(hit, miss) {
		t.Fatalf("local directory, same files: %v (parsed: %v, equal: %v)", err, loaded(ix2), reflect.DeepEqual(hit, miss))
	}
	if got, want := layerKeys(t, c, hit), layerKeys(t, c, miss); !reflect.DeepEqual(got, want) {
		t.Errorf("layers differ: %v / %v", got, want)
	}
	// Another build of tool: another digest, another key.
	writeFile(t, filepath.Join(dir, "tool_3.1_amd64.deb"), buildDeb(t, testDeb{name: "tool", version: "3.1", arch: "amd64", fields: "Essential: yes\nPriority: required\n",
		files: []testFile{{path: "./bin/tool", body: "other", mode: 0o755}}}))
	ix3, _ := c.Index(ctx, Source{LocalDir: dir})
	if ix3.key == ix.key {
		t.Error("a changed .deb gave the same index key")
	}
	if _, err := ix3.Resolve(reqs, nil); err != nil || !loaded(ix3) {
		t.Errorf("changed directory: %v (parsed: %v)", err, loaded(ix3))
	}
}

// slowPackagesIndex is how the index was read before parsePackagesIndex:
// the general paragraph reader and packageFromParagraph.
func slowPackagesIndex(data, name, arch string, o *origin) ([]*Package, error) {
	var out []*Package
	err := readParagraphs(strings.NewReader(data), name, func(p *paragraph) error {
		pkg, err := packageFromParagraph(p, arch)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", name, p.Line, err)
		}
		if pkg == nil {
			return nil
		}
		if err := checkPoolPath(pkg.Filename); err != nil {
			return fmt.Errorf("%s line %d: %w", name, p.Line, err)
		}
		if len(pkg.SHA256) != 64 {
			return fmt.Errorf("%s line %d: package %s has no SHA256", name, p.Line, pkg.Name)
		}
		pkg.origin = o
		out = append(out, pkg)
		return nil
	})
	return out, err
}

func fastPackagesIndex(data, name, arch string, o *origin) ([]*Package, error) {
	var out []*Package
	err := parsePackagesIndex(data, name, arch, o, func(p *Package) { out = append(out, p) })
	return out, err
}

// chunkedPackagesIndex is the fast reader with data cut into pieces of
// about chunk bytes.
func chunkedPackagesIndex(data, name, arch string, o *origin, chunk int) ([]*Package, error) {
	var out []*Package
	err := parseIndexChunks(data, name, arch, o, chunk, nil, func(p *Package) { out = append(out, p) })
	return out, err
}

// comparePackagesParsers checks that both readers agree on data, the fast
// one in one piece and cut into pieces of a few sizes (every blank line a
// cut with the smallest).
func comparePackagesParsers(t *testing.T, label, data string) {
	t.Helper()
	o := &origin{mirror: "http://m", suite: "s", component: "main"}
	slow, serr := slowPackagesIndex(data, "Packages", "amd64", o)
	fast, ferr := fastPackagesIndex(data, "Packages", "amd64", o)
	if !samePackages(t, label, slow, serr, fast, ferr) {
		return
	}
	for _, chunk := range []int{1, 2, 40, 150} {
		cut, cerr := chunkedPackagesIndex(data, "Packages", "amd64", o, chunk)
		if !samePackages(t, fmt.Sprintf("%s (pieces of %d bytes)", label, chunk), slow, serr, cut, cerr) {
			return
		}
	}
}

// samePackages reports whether two readers returned the same error, or
// equal packages.
func samePackages(t *testing.T, label string, slow []*Package, serr error, fast []*Package, ferr error) bool {
	t.Helper()
	if fmt.Sprint(serr) != fmt.Sprint(ferr) {
		t.Errorf("%s: errors differ:\nslow: %v\nfast: %v", label, serr, ferr)
		return false
	}
	if serr != nil {
		return true
	}
	if len(slow) != len(fast) {
		t.Errorf("%s: slow read %d packages, fast %d", label, len(slow), len(fast))
		return false
	}
	for i := range slow {
		if !reflect.DeepEqual(slow[i], fast[i]) {
			t.Errorf("%s: package %d differs:\nslow %+v\nfast %+v", label, i, *slow[i], *fast[i])
			return false
		}
	}
	return true
}

// TestParseIndexChunksWaitsForReady: no package is added before ready has
// returned, and its error is the parse's, with nothing added.
func TestParseIndexChunksWaitsForReady(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	var data strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&data, "Package: p%d\nVersion: 1\nArchitecture: amd64\nFilename: pool/p%d.deb\nSHA256: %s\n\n", i, i, sha)
	}
	var readyDone atomic.Bool
	added := 0
	err := parseIndexChunks(data.String(), "Packages", "amd64", nil, 100, func() error {
		time.Sleep(10 * time.Millisecond) // the pieces are parsed meanwhile
		readyDone.Store(true)
		return nil
	}, func(*Package) {
		if !readyDone.Load() {
			t.Error("a package was added before ready returned")
		}
		added++
	})
	if err != nil || added != 50 {
		t.Fatalf("got %v, %d packages", err, added)
	}
	stale := errors.New("stale")
	added = 0
	err = parseIndexChunks(data.String(), "Packages", "amd64", nil, 100, func() error { return stale }, func(*Package) { added++ })
	if err != stale || added != 0 {
		t.Errorf("ready failed: got %v, %d packages added", err, added)
	}
}

func TestParsePackagesIndex(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	good := "Package: a\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/a.deb\nSize: 10\nSHA256: " + sha + "\n"
	for _, tc := range []struct{ name, data string }{
		{"plain", good + "\n" + strings.Replace(good, "Package: a", "Package: b", 1)},
		{"every field", "Package: a\nSource: a-src (1)\nVersion: 1:2.0~rc1-1\nInstalled-Size: 42\nMaintainer: X <x@y>\nArchitecture: all\nMulti-Arch: foreign\n" +
			"Essential: Yes\nPriority: required\nSection: admin\nProvides: v1, v2 (= 3)\nPre-Depends: libc6 (>= 2.36)\nDepends: b | c, d:any\n" +
			"Conflicts: e\nBreaks: f (<< 2)\nDescription: thing\n more text\n .\n end\nFilename: pool/a.deb\nSize: 10\nSHA256: " + strings.ToUpper(sha) + "\n"},
		{"multi-line relations", "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b,\n c (>= 1),\n\td\nProvides:\n x,\n y\nFilename: pool/a.deb\nSHA256: " + sha + "\n"},
		{"crlf", strings.ReplaceAll(good+"Depends: b,\n c\n\n"+good, "\n", "\r\n")},
		{"double cr", strings.ReplaceAll(good, "\n", "\r\r\n")},
		{"blank lines with spaces", "\n \n\t\n" + good + " \n\n\n" + good},
		{"comment first", "# hello\n" + good},
		{"duplicate field", strings.Replace(good, "Version: 1.0-1\n", "Version: 1.0-1\nversion: 9\n", 1)},
		{"lower-case names", strings.ToLower(good[:strings.Index(good, "SHA256")]) + "sha256: " + sha + "\n"},
		{"duplicate with continuation", good + "Depends: x\nDepends: y,\n z\n"},
		{"other arch, bad version", "Package: o\nVersion: bogus!\nArchitecture: arm64\n\n" + good},
		{"no final newline", strings.TrimSuffix(good, "\n")},
		{"trailing blanks", strings.Replace(good, "Version: 1.0-1\n", "Version: 1.0-1  \t\nSection:   \n", 1)},
		{"empty", ""},
		{"continuation first", " x\n" + good},
		{"bad line", good + "\nnot a field\n"},
		{"bad field name", good + "\nBad Name: x\n"},
		{"no Package", "Version: 1\n"},
		{"bad package name", strings.Replace(good, "Package: a", "Package: A_b", 1)},
		{"bad version", strings.Replace(good, "1.0-1", "x1", 1)},
		{"multi-line version", strings.Replace(good, "Version: 1.0-1\n", "Version: 1.0-1\n 2\n", 1)},
		{"unsafe filename", strings.Replace(good, "pool/a.deb", "../a.deb", 1)},
		{"no sha", strings.Replace(good, "SHA256: "+sha+"\n", "", 1)},
		{"error after a bad paragraph", strings.Replace(good, "1.0-1", "x1", 1) + "\nbad\n"},
	} {
		comparePackagesParsers(t, tc.name, tc.data)
	}
}

// relationSamples are relation fields of many shapes, odd ones included.
var relationSamples = []string{
	"a", "a, b", "a | b, c", "a (>= 1.0)", "a(=1)", "a (<< 2:1.0~rc1-1+b1), b (>> 1) | c (<= 3)",
	"a:any", "a:amd64 (>= 1)", "a [amd64]", "a <!nocheck>", "${misc:Depends}", "a, ${shlibs:Depends}",
	"a,, b", ", a", "a,", "a |", "| a", "a | | b", "a |, b", "  a  ,  b  ", "a\n b", "a ( >= 1 )", "a (>= 1 )",
	"a (> 1)", "a (< 1)", "a (= )", "a (>=", "a (", "a b", "A", "a_b", "a (=> 1)", "a (== 1)", "a (>= 1) (<= 2)",
	"a (>= 1) [amd64]", "a.b+c-d", "0ad", "a (>= 1)b", ",", " ", "a\t(>=\t1)",
}

func TestFastRelations(t *testing.T) {
	for _, s := range relationSamples {
		compareRelationParsers(t, s)
	}
}

func compareRelationParsers(t *testing.T, s string) bool {
	t.Helper()
	fast, ok := fastRelations(s)
	if !ok {
		return false
	}
	slow, err := slowRelations(s)
	if err != nil || !reflect.DeepEqual(fast, slow) {
		t.Errorf("%q: fast %v, dependency.Parse %v (%v)", s, fast, slow, err)
	}
	return true
}

// TestDebianIndexParsers compares both index readers and both relation
// parsers on all of bookworm's amd64 Packages index.
func TestDebianIndexParsers(t *testing.T) {
	cache := layerstest.SharedCache(t)
	c := New(cache)
	ix := mirrorIndex(t, c, "amd64")
	pf := ix.parts[0].file
	p, err := c.packagesPath(context.Background(), pf)
	if err != nil {
		t.Fatal(err)
	}
	data, err := readWhole(p)
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{mirror: "http://m", suite: "s", component: "main"}
	slow, serr := slowPackagesIndex(data, "Packages", "amd64", o)
	fast, ferr := fastPackagesIndex(data, "Packages", "amd64", o)
	if serr != nil || ferr != nil {
		t.Fatalf("slow: %v, fast: %v", serr, ferr)
	}
	// Cut at many more blank lines than the default pieces' size does.
	cut, cerr := chunkedPackagesIndex(data, "Packages", "amd64", o, 64<<10)
	samePackages(t, "pieces of 64 KiB", slow, nil, cut, cerr)
	if len(slow) < 50000 || len(slow) != len(fast) {
		t.Fatalf("slow read %d packages, fast %d", len(slow), len(fast))
	}
	bad, fastOK, total := 0, 0, 0
	for i := range slow {
		if !reflect.DeepEqual(slow[i], fast[i]) && bad < 5 {
			bad++
			t.Errorf("package %d differs:\nslow %+v\nfast %+v", i, *slow[i], *fast[i])
		}
		for _, f := range []string{slow[i].Depends, slow[i].PreDepends, slow[i].Provides, slow[i].Conflicts, slow[i].Breaks} {
			if f == "" {
				continue
			}
			total++
			if compareRelationParsers(t, f) {
				fastOK++
			}
		}
	}
	t.Logf("%d packages; %d of %d relation fields took the fast path", len(fast), fastOK, total)
}

// TestDebianResolveCache: for bookworm's python3 on the Essential set and
// for the base set, what Resolve returns (from the cache or not) is what
// the resolver computes, and a second index answers from the cache.
func TestDebianResolveCache(t *testing.T) {
	cache := layerstest.SharedCache(t)
	c := New(cache)
	ix := mirrorIndex(t, c, "amd64")
	reqs := ix.EssentialRequest()
	reqs = append(reqs, Request{Name: "python3", Where: "apt.txt:1"}, Request{Name: "ca-certificates", Where: "apt.txt:2"})
	for _, rs := range [][]Request{reqs, ix.BaseRequest()} {
		got, err := ix.Resolve(rs, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := ix.resolve(rs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Resolve differs from the resolver (%d and %d packages)", len(got), len(want))
		}
		ix2 := mirrorIndex(t, New(cache), "amd64")
		hit, err := ix2.Resolve(rs, nil)
		if err != nil || loaded(ix2) || !reflect.DeepEqual(hit, want) {
			t.Fatalf("second index: %v (parsed: %v)", err, loaded(ix2))
		}
		if a, b := layerKeys(t, c, hit), layerKeys(t, c, want); !reflect.DeepEqual(a, b) {
			t.Errorf("layers differ:\n%v\n%v", a, b)
		}
	}
}

// TestIndexConcurrentUse: builds share one Index; its first parse happens
// once, whoever needs it first.
func TestIndexConcurrentUse(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, _ := testClient(t)
	ix, err := c.Index(context.Background(), a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func(i int) {
			var got []string
			switch i % 4 {
			case 0:
				pkgs, err := ix.Resolve([]Request{{Name: "app"}}, nil)
				got = append(ids(pkgs), fmt.Sprint(err))
			case 1:
				got = []string{fmt.Sprint(ix.BaseRequest())}
			case 2:
				got = []string{fmt.Sprint(len(ix.Versions("libfoo1")))}
			default:
				got = []string{fmt.Sprint(ix.EssentialRequest())}
			}
			done <- fmt.Sprint(i%4, got)
		}(i)
	}
	seen := map[string]bool{}
	for i := 0; i < 8; i++ {
		seen[<-done] = true
	}
	if len(seen) != 4 {
		t.Errorf("concurrent calls disagreed: %v", seen)
	}
}

// finishInNameOrder is how finish built the Provides table and the summary
// before it visited names in the map's order: names sorted, each name's
// candidates in order. It expects ix.pkgs' versions sorted already.
func finishInNameOrder(ix *Index) (map[string][]provider, *indexSummary) {
	provides := map[string][]provider{}
	s := &indexSummary{Format: resolveFormat, Key: ix.key}
	for _, n := range slices.Sorted(maps.Keys(ix.pkgs)) {
		vs := ix.pkgs[n]
		if vs[0].Priority == "required" {
			s.Required = append(s.Required, n)
		}
		if vs[0].Essential {
			s.Essential = append(s.Essential, n)
		}
		for _, p := range vs {
			addProvides(provides, p)
		}
	}
	for _, n := range baseExtras {
		if vs := ix.pkgs[n]; len(vs) > 0 && vs[0].Priority != "required" {
			s.Extras = append(s.Extras, n)
		}
	}
	return provides, s
}

// TestFinishInNameOrder: the Provides table and summary finish builds
// visiting names in the map's order are the ones a visit in name order
// builds: providers by package name, a name's versions in candidate order,
// a package providing a name twice in its own order.
func TestFinishInNameOrder(t *testing.T) {
	mk := func(name, ver, provides, prio string, notAuto bool) *Package {
		v, err := version.Parse(ver)
		if err != nil {
			t.Fatal(err)
		}
		return &Package{Name: name, Version: ver, Architecture: "amd64", Provides: provides, Priority: prio, ver: v,
			origin: &origin{notAuto: notAuto}}
	}
	var pkgs []*Package
	for i := 0; i < 200; i++ {
		n := fmt.Sprintf("p%03d", (i*37)%200)
		pkgs = append(pkgs,
			mk(n, "1.0", "virt, virt2 (= 1), virt", "", false),
			mk(n, "2.0", "virt (= 2)", "required", false),
			mk(n, "3.0", "virt", "", true),
			mk(n, "1.5", "", "", false))
	}
	pkgs = append(pkgs, mk("tzdata", "1", "virt", "standard", false), mk("netbase", "1", "", "required", false))
	ix := &Index{pkgs: map[string][]*Package{}}
	for _, p := range pkgs {
		ix.pkgs[p.Name] = append(ix.pkgs[p.Name], p)
	}
	s := ix.finish()
	provides, want := finishInNameOrder(ix)
	if !reflect.DeepEqual(ix.provides, provides) {
		t.Errorf("Provides table differs")
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("summary: got %+v, want %+v", s, want)
	}
	if got := ix.pkgs["p001"]; got[0].Version != "2.0" || got[3].Version != "3.0" {
		t.Errorf("candidate order: %v", ids(got))
	}
	if !sort.SliceIsSorted(ix.provides["virt"], func(i, j int) bool { return ix.provides["virt"][i].pkg.Name < ix.provides["virt"][j].pkg.Name }) {
		t.Error("providers not in name order")
	}
}

// TestDebianFinishInNameOrder is TestFinishInNameOrder on bookworm's amd64
// index.
func TestDebianFinishInNameOrder(t *testing.T) {
	ix := mirrorIndex(t, New(layerstest.SharedCache(t)), "amd64")
	if err := ix.load(); err != nil {
		t.Fatal(err)
	}
	provides, want := finishInNameOrder(ix)
	if !reflect.DeepEqual(ix.provides, provides) {
		t.Errorf("Provides table differs")
	}
	if got := ix.getSummary(); !reflect.DeepEqual(got, want) {
		t.Errorf("summary: got %+v, want %+v", got, want)
	}
}
