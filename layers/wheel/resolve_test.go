package wheel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// graphIndex serves a small dependency graph:
//
//	app 1.0  -> lib>=1.0, colorama (win32 only), fancydep>=0.5 [fancy]
//	lib 2.0 needs Python >= 3.12 (excluded); lib 1.5 is the best fit
//	bt-a 2.0 -> bt-c<2; bt-a 1.0 -> bt-c; bt-b 1.0 -> bt-c>=2 (needs backtracking)
//	yank 1.1 is yanked; prepkg 2.0b1 is a pre-release; onlypre has only 0.1a1
//	srconly has only an sdist
func graphIndex(t *testing.T) *testIndex {
	ix := newTestIndex(t)
	ix.add(t, wheelSpec{Name: "app", Version: "0.9", Requires: []string{"lib"}})
	ix.add(t, wheelSpec{Name: "app", Version: "1.0",
		Requires: []string{"lib>=1.0", `colorama; sys_platform == "win32"`, `fancydep>=0.5; extra == "fancy"`},
		Extras:   []string{"fancy"},
		Files: map[string]string{
			"app/__init__.py": "VERSION = '1.0'\n",
			"app/cli.py":      "import sys\ndef main():\n    import lib, fancydep\n    print('app', lib.__version__, fancydep.__version__)\n    return 0\n",
		},
		EntryPoints: "[console_scripts]\napp = app.cli:main\n",
	})
	ix.add(t, wheelSpec{Name: "lib", Version: "1.0"})
	ix.add(t, wheelSpec{Name: "lib", Version: "1.5"})
	ix.add(t, wheelSpec{Name: "lib", Version: "2.0", RequiresPython: ">=3.12"})
	ix.add(t, wheelSpec{Name: "fancydep", Version: "0.5"})
	ix.add(t, wheelSpec{Name: "fancydep", Version: "1.0"})
	ix.add(t, wheelSpec{Name: "colorama", Version: "0.4.6"})
	ix.add(t, wheelSpec{Name: "bt-a", Version: "1.0", Requires: []string{"bt-c"}})
	ix.add(t, wheelSpec{Name: "bt-a", Version: "2.0", Requires: []string{"bt-c<2"}})
	ix.add(t, wheelSpec{Name: "bt-b", Version: "1.0", Requires: []string{"bt-c>=2"}})
	ix.add(t, wheelSpec{Name: "bt-c", Version: "1.0"})
	ix.add(t, wheelSpec{Name: "bt-c", Version: "2.0"})
	ix.add(t, wheelSpec{Name: "yank", Version: "1.0"})
	y := ix.add(t, wheelSpec{Name: "yank", Version: "1.1"})
	y.yank, y.yanked = true, "broken release"
	ix.add(t, wheelSpec{Name: "prepkg", Version: "1.0"})
	ix.add(t, wheelSpec{Name: "prepkg", Version: "2.0b1"})
	ix.add(t, wheelSpec{Name: "onlypre", Version: "0.1a1"})
	ix.put(&indexFile{project: "srconly", filename: "srconly-1.0.tar.gz", data: []byte("not really a tarball")})
	return ix
}

func TestResolveGraph(t *testing.T) {
	for _, mode := range []struct {
		name         string
		html, pep658 bool
	}{{"json+pep658", false, true}, {"html+pep658", true, true}, {"json", false, false}, {"html", true, false}} {
		t.Run(mode.name, func(t *testing.T) {
			ix := graphIndex(t)
			ix.html, ix.pep658 = mode.html, mode.pep658
			r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
			set := resolveOK(t, r, reqsOf(t, "app[fancy]\n"), debianTarget())
			got := versions(set)
			want := map[string]string{"app": "1.0", "lib": "1.5", "fancydep": "1.0"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("resolved %v, want %v", got, want)
			}
			for _, s := range set {
				if s.SHA256 == "" || !strings.HasSuffix(s.Filename, ".whl") || !strings.HasPrefix(s.URL, ix.srv.URL+"/files/") {
					t.Errorf("incomplete result %+v", s)
				}
				if (s.Name == "app") != s.Requested {
					t.Errorf("%s Requested=%v", s.Name, s.Requested)
				}
			}
			by := map[string][]string{}
			for _, s := range set {
				by[s.Name] = s.RequestedBy
			}
			if !slices.Equal(by["lib"], []string{"app 1.0"}) || !slices.Equal(by["fancydep"], []string{"app[fancy] 1.0"}) || !slices.Equal(by["app"], []string{"requirements.txt:1"}) {
				t.Errorf("RequestedBy: %v", by)
			}
			if n := ix.requested("/simple/colorama"); n != 0 {
				t.Errorf("colorama's marker excludes it on linux, but its page was fetched %d times", n)
			}
			wheelGets := ix.requested("/files/app-1.0-py3-none-any.whl") - ix.requested("/files/app-1.0-py3-none-any.whl.metadata")
			if mode.pep658 && (wheelGets != 0 || ix.requested("/files/app-1.0-py3-none-any.whl.metadata") == 0) {
				t.Errorf("with PEP 658 metadata the wheel must not be downloaded to resolve (wheel GETs %d)", wheelGets)
			}
			if !mode.pep658 && wheelGets != 1 {
				t.Errorf("without PEP 658 the wheel is downloaded once for its metadata (got %d)", wheelGets)
			}
		})
	}
}

func TestResolveBacktracking(t *testing.T) {
	ix := graphIndex(t)
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	got := versions(resolveOK(t, r, reqsOf(t, "bt-a\nbt-b\n"), debianTarget()))
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{"bt-a": "1.0", "bt-b": "1.0", "bt-c": "2.0"}) {
		t.Errorf("got %v: bt-a 2.0 needs bt-c<2, which bt-b rules out, so bt-a must back up to 1.0", got)
	}
}

func TestResolveConflict(t *testing.T) {
	ix := graphIndex(t)
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	_, err := r.Resolve(context.Background(), reqsOf(t, "bt-b\nbt-c<2\n"), debianTarget())
	if err == nil || !errors.Is(err, ErrConflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	for _, want := range []string{"bt-c", "bt-c<2 (from requirements.txt:2)", "bt-c>=2 (from bt-b 1.0)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestResolveYankedAndPrereleases(t *testing.T) {
	ix := graphIndex(t)
	tg := debianTarget()
	cache := newCache(t)
	r := NewResolver(cache, WithIndexURL(ix.URL()))
	cases := []struct{ reqs, name, want string }{
		{"yank\n", "yank", "1.0"},
		{"yank==1.1\n", "yank", "1.1"}, // PEP 592: a yanked release is used when pinned
		{"yank>=1.1\n", "yank", ""},
		{"prepkg\n", "prepkg", "1.0"},
		{"prepkg>=2.0b1\n", "prepkg", "2.0b1"},
		{"prepkg>1.0\n", "prepkg", "2.0b1"}, // only a pre-release satisfies: pip takes it
		{"--pre\nprepkg\n", "prepkg", "2.0b1"},
		{"onlypre\n", "onlypre", "0.1a1"},
	}
	for _, c := range cases {
		set, err := r.Resolve(context.Background(), reqsOf(t, c.reqs), tg)
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: resolved %v, want an error", c.reqs, versions(set))
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.reqs, err)
			continue
		}
		if got := versions(set)[c.name]; got != c.want {
			t.Errorf("%q: got %s %s, want %s", c.reqs, c.name, got, c.want)
		}
	}
	set := resolveOK(t, NewResolver(cache, WithIndexURL(ix.URL()), WithPre()), reqsOf(t, "prepkg\n"), tg)
	if versions(set)["prepkg"] != "2.0b1" {
		t.Errorf("WithPre: got %v", versions(set))
	}
}

func TestResolveWheelSelection(t *testing.T) {
	ix := newTestIndex(t)
	for _, tag := range []string{
		"py3-none-any", "cp311-abi3-manylinux_2_17_x86_64", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
		"cp312-cp312-manylinux_2_17_x86_64", "cp311-cp311-manylinux_2_99_x86_64", "cp311-cp311-musllinux_1_1_x86_64",
		"cp311-cp311-manylinux_2_17_aarch64",
	} {
		ix.add(t, wheelSpec{Name: "fast", Version: "1.0", Tag: tag, Platlib: tag != "py3-none-any"})
	}
	ix.add(t, wheelSpec{Name: "fast", Version: "2.0", Tag: "cp312-cp312-manylinux_2_17_x86_64", Platlib: true})
	ix.add(t, wheelSpec{Name: "fast", Version: "1.0", Build: "1", Tag: "py3-none-any"})
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	set := resolveOK(t, r, reqsOf(t, "fast\n"), debianTarget())
	if set[0].Version != "1.0" || set[0].Filename != "fast-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" {
		t.Errorf("picked %s %s", set[0].Version, set[0].Filename)
	}
	arm := debianTarget()
	arm.Arch = "aarch64"
	set = resolveOK(t, r, reqsOf(t, "fast\n"), arm)
	if set[0].Filename != "fast-1.0-cp311-cp311-manylinux_2_17_aarch64.whl" {
		t.Errorf("aarch64 picked %s", set[0].Filename)
	}
	old := debianTarget()
	old.Glibc = "2.12"
	set = resolveOK(t, r, reqsOf(t, "fast\n"), old)
	if set[0].Filename != "fast-1.0-1-py3-none-any.whl" {
		t.Errorf("glibc 2.12 should fall back to the pure wheel with the highest build tag, picked %s", set[0].Filename)
	}
}

func TestResolveSdistOnly(t *testing.T) {
	ix := graphIndex(t)
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	_, err := r.Resolve(context.Background(), reqsOf(t, "srconly\n"), debianTarget())
	if err == nil {
		t.Fatal("an sdist-only project must not resolve")
	}
	for _, want := range []string{"srconly has only source distributions (srconly-1.0.tar.gz)", "pip wheel srconly", "--find-links"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestResolveIndexErrors(t *testing.T) {
	ix := graphIndex(t)
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	_, err := r.Resolve(context.Background(), reqsOf(t, "app\nno-such-project\n"), debianTarget())
	if err == nil || !strings.Contains(err.Error(), "no-such-project") || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("missing project: %v", err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	r = NewResolver(newCache(t), WithIndexURL(broken.URL+"/simple/"))
	_, err = r.Resolve(context.Background(), reqsOf(t, "app\n"), debianTarget())
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("index answering 500: %v", err)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("??"))
	}))
	defer html.Close()
	r = NewResolver(newCache(t), WithIndexURL(html.URL+"/simple/"))
	_, err = r.Resolve(context.Background(), reqsOf(t, "app\n"), debianTarget())
	if err == nil || !strings.Contains(err.Error(), "unexpected content type") {
		t.Errorf("non-index answer: %v", err)
	}
}

func TestResolveHashMismatch(t *testing.T) {
	for _, pep658 := range []bool{false, true} {
		ix := newTestIndex(t)
		ix.pep658 = pep658
		f := ix.add(t, wheelSpec{Name: "evil", Version: "1.0"})
		f.sha256 = strings.Repeat("ab", 32)
		cache := newCache(t)
		r := NewResolver(cache, WithIndexURL(ix.URL()))
		set, err := r.Resolve(context.Background(), reqsOf(t, "evil\n"), debianTarget())
		if !pep658 {
			if err == nil || !strings.Contains(err.Error(), "does not match the index's sha256") || !errors.Is(err, layers.ErrDigestMismatch) {
				t.Errorf("wheel with a wrong index hash: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err) // the metadata file is fine; the wheel is only fetched to install
		}
		_, err = NewLayer(cache, set, debianTarget(), WithDownloader(r)).Entries(context.Background())
		if err == nil || !strings.Contains(err.Error(), "does not match the index's sha256") {
			t.Errorf("layer from a wheel with a wrong index hash: %v", err)
		}
	}
}

func TestResolveMalformedMetadata(t *testing.T) {
	ix := newTestIndex(t)
	ix.pep658 = false
	ix.add(t, wheelSpec{Name: "broken", Version: "1.0", Metadata: "Name: broken\nVersion: 1.0\n\n"})
	ix.add(t, wheelSpec{Name: "badreq", Version: "1.0", Metadata: "Metadata-Version: 2.1\nName: badreq\nVersion: 1.0\nRequires-Dist: foo >= \n"})
	ix.add(t, wheelSpec{Name: "liar", Version: "1.0", Metadata: "Metadata-Version: 2.1\nName: liar\nVersion: 9.9\n"})
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	for req, want := range map[string]string{
		"broken": "broken-1.0-py3-none-any.whl: malformed metadata: no Metadata-Version",
		"badreq": "malformed metadata for badreq 1.0: Requires-Dist",
		"liar":   "its metadata has version 9.9, not 1.0",
	} {
		_, err := r.Resolve(context.Background(), reqsOf(t, req+"\n"), debianTarget())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", req, err, want)
		}
	}
}

func TestResolveInstalledInBase(t *testing.T) {
	ix := graphIndex(t)
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	tg := debianTarget()
	tg.Installed["lib"] = InstalledDist{Name: "lib", Version: "1.0", SiteDir: "/usr/lib/python3/dist-packages", DistInfo: "/usr/lib/python3/dist-packages/lib-1.0.dist-info"}
	set := resolveOK(t, r, reqsOf(t, "app\n"), tg)
	for _, s := range set {
		if s.Name == "lib" && (!s.Installed || s.Version != "1.0") {
			t.Errorf("lib 1.0 in the base satisfies lib>=1.0 and must be kept: %+v", s)
		}
	}
	// With no index at all, the base's copy still satisfies the requirement.
	only := resolveOK(t, NewResolver(newCache(t), WithNoIndex()), reqsOf(t, "lib>=1\n"), tg)
	if len(only) != 1 || !only[0].Installed {
		t.Errorf("installed-only resolution: %+v", only)
	}
	entries, err := NewLayer(newCache(t), set, tg, WithDownloader(r)).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Path, "/lib") && strings.Contains(e.Path, "dist-packages/lib") {
			t.Errorf("layer writes %s for a distribution already installed", e.Path)
		}
	}
	// lib>=1.5 is not satisfied by the base's 1.0: a new one goes into the install
	// dir, and an old copy in that same dir is deleted as pip's uninstall would.
	tg.Installed["lib"] = InstalledDist{Name: "lib", Version: "1.0", SiteDir: tg.Purelib, DistInfo: tg.Purelib + "/lib-1.0.dist-info",
		Files: []string{tg.Purelib + "/lib/__init__.py", tg.Purelib + "/lib/old.py", tg.Purelib + "/lib-1.0.dist-info/RECORD"}}
	set = resolveOK(t, r, reqsOf(t, "lib>=1.5\n"), tg)
	if versions(set)["lib"] != "1.5" || set[0].Installed {
		t.Fatalf("got %+v", set)
	}
	entries, err = NewLayer(newCache(t), set, tg, WithDownloader(r)).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wh []string
	for _, e := range entries {
		if e.Type == layers.TypeWhiteout {
			wh = append(wh, e.Path)
		}
	}
	want := []string{"usr/local/lib/python3.11/dist-packages/lib-1.0.dist-info", "usr/local/lib/python3.11/dist-packages/lib/old.py"}
	if !slices.Equal(wh, want) {
		t.Errorf("whiteouts %v, want %v (lib/__init__.py is overwritten, not deleted)", wh, want)
	}
}

func TestResolveHashCheckingMode(t *testing.T) {
	ix := graphIndex(t)
	sha := func(fn string) string { return hexSHA(ix.byName[fn].data) }
	r := NewResolver(newCache(t), WithIndexURL(ix.URL()))
	tg := debianTarget()
	full := fmt.Sprintf("app==1.0 --hash=sha256:%s\nlib==1.5 --hash=sha256:%s\n", sha("app-1.0-py3-none-any.whl"), sha("lib-1.5-py3-none-any.whl"))
	set := resolveOK(t, r, reqsOf(t, full), tg)
	if fmt.Sprint(versions(set)) != fmt.Sprint(map[string]string{"app": "1.0", "lib": "1.5"}) {
		t.Errorf("got %v", versions(set))
	}
	_, err := r.Resolve(context.Background(), reqsOf(t, fmt.Sprintf("app==1.0 --hash=sha256:%s\n", sha("app-1.0-py3-none-any.whl"))), tg)
	if err == nil || !strings.Contains(err.Error(), "lib 1.5 (required by app 1.0) has no --hash") || !strings.Contains(err.Error(), "lib==1.5 --hash=sha256:"+sha("lib-1.5-py3-none-any.whl")) {
		t.Errorf("unhashed dependency: %v", err)
	}
	_, err = r.Resolve(context.Background(), reqsOf(t, "lib==1.5 --hash=sha256:"+strings.Repeat("0", 64)+"\n"), tg)
	if err == nil || !strings.Contains(err.Error(), "no file matches the --hash values") {
		t.Errorf("wrong hash: %v", err)
	}
	// The printed pins read back as a hash-checking requirements file giving the same set.
	pins := FormatPins(set)
	again := resolveOK(t, r, reqsOf(t, pins), tg)
	if fmt.Sprint(versions(again)) != fmt.Sprint(versions(set)) {
		t.Errorf("pins %q resolved to %v", pins, versions(again))
	}
}

func TestResolveCredentials(t *testing.T) {
	ix := graphIndex(t)
	ix.auth = "alice:s3cret"
	tg := debianTarget()
	u := strings.Replace(ix.URL(), "http://", "http://alice:s3cret@", 1)
	set := resolveOK(t, NewResolver(newCache(t), WithIndexURL(u), WithNetrc("/nonexistent")), reqsOf(t, "app\n"), tg)
	if versions(set)["app"] != "1.0" {
		t.Errorf("credentials in the URL: %v", versions(set))
	}
	for _, s := range set {
		if strings.Contains(s.URL, "s3cret") {
			t.Errorf("resolved URL leaks the password: %s", s.URL)
		}
	}
	netrc := filepath.Join(t.TempDir(), "netrc")
	host := strings.TrimPrefix(ix.srv.URL, "http://")
	host = host[:strings.LastIndexByte(host, ':')]
	os.WriteFile(netrc, []byte("machine other login x password y\nmachine "+host+"\n  login alice\n  password s3cret\n"), 0o600)
	set = resolveOK(t, NewResolver(newCache(t), WithIndexURL(ix.URL()), WithNetrc(netrc)), reqsOf(t, "app\n"), tg)
	if versions(set)["app"] != "1.0" {
		t.Errorf("credentials from netrc: %v", versions(set))
	}
	_, err := NewResolver(newCache(t), WithIndexURL(ix.URL()), WithNetrc("/nonexistent")).Resolve(context.Background(), reqsOf(t, "app\n"), tg)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "netrc") {
		t.Errorf("no credentials: %v", err)
	}
	_, err = NewResolver(newCache(t), WithIndexURL(strings.Replace(u, "s3cret", "wrong", 1)), WithNetrc("/nonexistent")).Resolve(context.Background(), reqsOf(t, "app\n"), tg)
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a bad password must fail without being printed: %v", err)
	}
}

func TestResolveOffline(t *testing.T) {
	ix := graphIndex(t)
	cache := newCache(t)
	tg := debianTarget()
	online := resolveOK(t, NewResolver(cache, WithIndexURL(ix.URL())), reqsOf(t, "app[fancy]\nbt-a\nbt-b\n"), tg)
	if _, err := NewLayer(cache, online, tg, WithDownloader(NewResolver(cache, WithIndexURL(ix.URL())))).Entries(context.Background()); err != nil {
		t.Fatal(err)
	}
	ix.srv.Close()
	r := NewResolver(cache, WithIndexURL(ix.URL()), WithOffline())
	offline := resolveOK(t, r, reqsOf(t, "app[fancy]\nbt-a\nbt-b\n"), tg)
	if fmt.Sprint(offline) != fmt.Sprint(online) {
		t.Errorf("offline %v\nonline %v", offline, online)
	}
	if _, err := NewLayer(cache, offline, tg, WithDownloader(r)).Entries(context.Background()); err != nil {
		t.Errorf("offline layer: %v", err)
	}
	_, err := r.Resolve(context.Background(), reqsOf(t, "prepkg\n"), tg)
	if err == nil || !errors.Is(err, layers.ErrNotCached) {
		t.Errorf("offline lookup of an uncached page: %v", err)
	}
}

func TestResolveFindLinksAndDirectURL(t *testing.T) {
	house := t.TempDir()
	for _, w := range []wheelSpec{{Name: "alpha", Version: "1.0", Requires: []string{"beta>=2"}}, {Name: "beta", Version: "2.1"}, {Name: "beta", Version: "1.0"}, {Name: "gamma", Version: "3.0"}} {
		os.WriteFile(filepath.Join(house, w.filename()), w.build(t), 0o644)
	}
	os.WriteFile(filepath.Join(house, "delta-1.0.tar.gz"), []byte("sdist"), 0o644)
	os.WriteFile(filepath.Join(house, "README"), []byte("not a distribution"), 0o644)
	gammaSHA := hexSHA(wheelSpec{Name: "gamma", Version: "3.0"}.build(t))
	req := fmt.Sprintf("--no-index\n--find-links %s\nalpha\ngamma @ file://%s#sha256=%s\n", house, filepath.Join(house, "gamma-3.0-py3-none-any.whl"), gammaSHA)
	cache := newCache(t)
	r := NewResolver(cache)
	set := resolveOK(t, r, reqsOf(t, req), debianTarget())
	if fmt.Sprint(versions(set)) != fmt.Sprint(map[string]string{"alpha": "1.0", "beta": "2.1", "gamma": "3.0"}) {
		t.Fatalf("got %v", versions(set))
	}
	for _, s := range set {
		if s.Direct != (s.Name == "gamma") {
			t.Errorf("%s: Direct=%v", s.Name, s.Direct)
		}
		if !strings.HasPrefix(s.URL, "file://"+house+"/") {
			t.Errorf("%s: URL %s", s.Name, s.URL)
		}
	}
	entries, err := NewLayer(cache, set, debianTarget()).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	materialize(t, root, entries)
	du, err := os.ReadFile(filepath.Join(root, "usr/local/lib/python3.11/dist-packages/gamma-3.0.dist-info/direct_url.json"))
	g := set[len(set)-1]
	want := fmt.Sprintf(`{"archive_info": {"hash": "sha256=%s", "hashes": {"sha256": "%s"}}, "url": "file://%s/gamma-3.0-py3-none-any.whl"}`, gammaSHA, gammaSHA, house)
	if g.SHA256 != gammaSHA {
		t.Errorf("gamma sha256 %s, want %s", g.SHA256, gammaSHA)
	}
	if err != nil || string(du) != want {
		t.Errorf("direct_url.json = %s (%v), want %s", du, err, want)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/lib/python3.11/dist-packages/alpha-1.0.dist-info/direct_url.json")); err == nil {
		t.Error("pip writes no direct_url.json for a distribution found through an index or find-links")
	}
	_, err = r.Resolve(context.Background(), reqsOf(t, fmt.Sprintf("--no-index\n-f %s\ndelta\n", house)), debianTarget())
	if err == nil || !strings.Contains(err.Error(), "delta has only source distributions (delta-1.0.tar.gz)") {
		t.Errorf("sdist in a wheelhouse: %v", err)
	}
}

// A find-links page lists every project's files: it is fetched once per
// resolution, not once per project looked up in it (as pip does).
func TestResolveFindLinksPageFetchedOnce(t *testing.T) {
	ix := newTestIndex(t)
	for _, w := range []wheelSpec{{Name: "alpha", Version: "1.0", Requires: []string{"beta>=2", "gamma"}}, {Name: "beta", Version: "2.1"}, {Name: "gamma", Version: "3.0"}} {
		ix.put(&indexFile{project: "all", filename: w.filename(), data: w.build(t)})
	}
	page := ix.srv.URL + "/simple/all/"
	r := NewResolver(newCache(t), WithNoIndex(), WithFindLinks(page))
	set := resolveOK(t, r, reqsOf(t, "alpha\n"), debianTarget())
	if fmt.Sprint(versions(set)) != fmt.Sprint(map[string]string{"alpha": "1.0", "beta": "2.1", "gamma": "3.0"}) {
		t.Fatalf("got %v", versions(set))
	}
	if n := ix.requested("/simple/all/"); n != 1 {
		t.Errorf("the find-links page was fetched %d times for 3 projects, want once", n)
	}
}
