package deb

import (
	"archive/tar"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// testUniverse is a small archive exercising the resolver and unpacker.
func testUniverse() []testDeb {
	return []testDeb{
		{name: "libfoo1", version: "1.0-1", fields: "Multi-Arch: same\n", compression: "gz",
			files: []testFile{{path: "./usr/lib/x86_64-linux-gnu/libfoo.so.1", body: "foo v1"}}},
		{name: "libfoo1", version: "2.0-1", fields: "Multi-Arch: same\nDepends: libc-fake\n", compression: "zst",
			files: []testFile{{path: "./usr/lib/x86_64-linux-gnu/libfoo.so.1", body: "foo v2"},
				{path: "./lib/x86_64-linux-gnu/libfoo-compat.so", typ: tar.TypeSymlink, link: "../../usr/lib/x86_64-linux-gnu/libfoo.so.1"}}},
		{name: "libc-fake", version: "1", fields: "Multi-Arch: same\n",
			files: []testFile{{path: "./lib/x86_64-linux-gnu/libc.so.6", body: "libc"}}},
		{name: "tool", version: "3.1", fields: "Essential: yes\nPriority: required\n",
			files: []testFile{
				{path: "./bin/tool", body: "#!/bin/sh\necho tool\n", mode: 0o755},
				{path: "./bin/tool-hard", typ: tar.TypeLink, link: "./bin/tool"},
				{path: "./usr/bin/tool-suid", body: "suid", mode: 0o4755},
				{path: "./etc/tool.conf", body: "setting=1\n"},
				{path: "./sbin/tool-admin", typ: tar.TypeSymlink, link: "/bin/tool"},
			},
			ctl: map[string]string{
				"conffiles": "/etc/tool.conf\n",
				"postinst":  "#!/bin/sh\nset -e\nupdate-alternatives --install /usr/bin/tooly tooly /bin/tool 10 \\\n  --slave /usr/share/man/man1/tooly.1.gz tooly.1.gz /usr/share/man/man1/tool.1.gz\n",
			}},
		{name: "provider-a", version: "1", fields: "Provides: virtual-thing (= 1)\n",
			files: []testFile{{path: "./usr/share/provider-a", body: "a"}}},
		{name: "provider-b", version: "1", fields: "Provides: virtual-thing\n",
			files: []testFile{{path: "./usr/share/provider-b", body: "b"}}},
		{name: "app", version: "1.0", fields: "Depends: libfoo1 (>= 2), libmissing | tool, virtual-thing (>= 1)\nPre-Depends: libc-fake\n",
			files: []testFile{{path: "./usr/bin/app", body: "app", mode: 0o755}}},
		{name: "needs-new-foo", version: "1", fields: "Depends: libfoo1 (>= 3)\n"},
		{name: "top", version: "1", fields: "Depends: middle\n"},
		{name: "middle", version: "1", fields: "Depends: needs-new-foo\n"},
		{name: "pyish", version: "1", fields: "Depends: interp:any\n"},
		{name: "interp", version: "1", fields: "Multi-Arch: allowed\n"},
		{name: "noany", version: "1", fields: "Depends: libc-fake:any\n"},
		{name: "clash", version: "1", fields: "Conflicts: tool\n"},
		{name: "breaker", version: "1", fields: "Breaks: libfoo1 (<< 3)\n"},
		{name: "selfish", version: "1", fields: "Provides: virtual-thing\nConflicts: virtual-thing\n"},
	}
}

func testClient(t *testing.T, opts ...Option) (*Client, *layers.Cache) {
	t.Helper()
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(cache, opts...), cache
}

// assertNothingLeft checks that no staging directory or temporary file of
// c survived where it stages files. A private cache's whole tmp is checked.
// The shared test cache's tmp is not: other test processes (other packages
// of `go test ./...`, other runs) stage and download there at the same time,
// so a client over it must stage in a directory of its own (ownStaging),
// and that directory is checked whole.
func assertNothingLeft(t *testing.T, c *Client) {
	t.Helper()
	if c.cache.Dir() == testtool.CacheDir(t) && c.stageDir == "" {
		t.Fatal("assertNothingLeft over the shared cache: give the client its own staging directory (ownStaging)")
	}
	ents, err := os.ReadDir(c.tmpDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Errorf("left behind in %s: %v", c.tmpDir(), names)
	}
}

// ownStaging makes c stage files in a directory of its own, for
// assertNothingLeft over the shared cache.
func ownStaging(t *testing.T, c *Client) *Client {
	t.Helper()
	c.stageDir = t.TempDir()
	return c
}

func names(pkgs []*Package) map[string]string {
	out := map[string]string{}
	for _, p := range pkgs {
		out[p.Name] = p.Version
	}
	return out
}

func TestResolveLocalArchive(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, _ := testClient(t)
	ix, err := c.Index(context.Background(), a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]Request{{Name: "app", Where: "apt.txt:1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// libfoo1 2.0 (the only one meeting >= 2), tool (first alternative
	// missing), provider-a (the only versioned provider), libc-fake.
	want := map[string]string{"app": "1.0", "libfoo1": "2.0-1", "libc-fake": "1", "tool": "3.1", "provider-a": "1"}
	if got := names(pkgs); !reflect.DeepEqual(got, want) {
		t.Fatalf("resolved %v, want %v", got, want)
	}
	// Install order: dependencies first.
	pos := map[string]int{}
	for i, p := range pkgs {
		pos[p.Name] = i
	}
	if pos["libc-fake"] > pos["libfoo1"] || pos["libfoo1"] > pos["app"] {
		t.Errorf("install order not dependencies-first: %v", pos)
	}
	for _, p := range pkgs {
		if p.Name == "libfoo1" && p.Reason != "apt.txt:1: app -> libfoo1" {
			t.Errorf("libfoo1 reason = %q", p.Reason)
		}
		if p.Name == "app" && p.Requested != "apt.txt:1" {
			t.Errorf("app requested = %q", p.Requested)
		}
	}

	// Already installed packages are not installed again; an older
	// installed version that a dependency rules out is upgraded.
	pkgs, err = ix.Resolve([]Request{{Name: "app", Where: "apt.txt:1"}}, map[string]string{"libc-fake": "1", "tool": "3.1", "libfoo1:amd64": "1.0-1"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"app": "1.0", "libfoo1": "2.0-1", "provider-a": "1"}
	if got := names(pkgs); !reflect.DeepEqual(got, want) {
		t.Fatalf("on a base: resolved %v, want %v", got, want)
	}

	// A virtual package with one provider, requested by name; ":any" on a
	// Multi-Arch: allowed package; an exact version.
	pkgs, err = ix.Resolve([]Request{{Name: "pyish", Where: "a:1"}, {Name: "libfoo1=1.0-1", Where: "a:2"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(pkgs); got["interp"] != "1" || got["libfoo1"] != "1.0-1" {
		t.Fatalf("resolved %v", got)
	}
}

func TestNotAutomaticSuite(t *testing.T) {
	main := newTestArchive(t, "stable", "amd64", testUniverse())
	bpo := newTestArchiveWith(t, "stable-backports", "amd64", []testDeb{
		{name: "libfoo1", version: "9.0-1~bpo1", fields: "Multi-Arch: same\n"},
	}, "NotAutomatic: yes\nButAutomaticUpgrades: yes\n")
	c, _ := testClient(t)
	ix, err := c.Index(context.Background(), main.source("stable", "amd64"), bpo.source("stable-backports", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	// apt prefers the main suite's version over a higher backport...
	pkgs, err := ix.Resolve([]Request{{Name: "libfoo1", Where: "t"}}, nil)
	if err != nil || names(pkgs)["libfoo1"] != "2.0-1" {
		t.Errorf("libfoo1 resolved to %v (%v), want 2.0-1 from the main suite", names(pkgs), err)
	}
	// ...and takes the backport when only it satisfies a dependency.
	pkgs, err = ix.Resolve([]Request{{Name: "needs-new-foo", Where: "t"}}, nil)
	if err != nil || names(pkgs)["libfoo1"] != "9.0-1~bpo1" {
		t.Errorf("needs-new-foo resolved to %v (%v), want libfoo1 from backports", names(pkgs), err)
	}
}

func TestResolveErrors(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, _ := testClient(t)
	ix, err := c.Index(context.Background(), a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		reqs []Request
		want []string
	}{
		{[]Request{{Name: "no-such-package", Where: "apt.txt:2"}}, []string{"apt.txt:2", `unknown package "no-such-package"`, a.url}},
		{[]Request{{Name: "top", Where: "apt.txt:5"}}, []string{"apt.txt:5: cannot install top: top -> middle -> needs-new-foo depends on libfoo1 (>= 3), but libfoo1 has only version(s) 2.0-1, 1.0-1"}},
		{[]Request{{Name: "noany", Where: "x.txt:1"}}, []string{"x.txt:1", "libc-fake:any", "not Multi-Arch: allowed"}},
		{[]Request{{Name: "virtual-thing", Where: "apt.txt:3"}}, []string{"apt.txt:3", "virtual package provided by provider-a, provider-b"}},
		{[]Request{{Name: "Bad_Name", Where: "apt.txt:4"}}, []string{"apt.txt:4", "bad package name"}},
		{[]Request{{Name: "libfoo1=9", Where: "apt.txt:6"}}, []string{"apt.txt:6", "no version 9"}},
		{[]Request{{Name: "app", Where: "apt.txt:7"}, {Name: "clash", Where: "apt.txt:8"}}, []string{"apt.txt:8: clash", "conflicts with tool 3.1", "app -> tool"}},
		{[]Request{{Name: "app", Where: "apt.txt:9"}, {Name: "breaker", Where: "apt.txt:10"}}, []string{"apt.txt:10: breaker", "breaks libfoo1 2.0-1"}},
	} {
		_, err := ix.Resolve(tc.reqs, nil)
		if err == nil {
			t.Errorf("%v: no error", tc.reqs)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tc.reqs, err, w)
			}
		}
	}
	// A package may conflict with a virtual package it provides itself,
	// but not with another provider of it.
	if _, err := ix.Resolve([]Request{{Name: "selfish", Where: "t"}}, nil); err != nil {
		t.Errorf("self-conflict through Provides refused: %v", err)
	}
	if _, err := ix.Resolve([]Request{{Name: "selfish", Where: "t"}, {Name: "provider-b", Where: "t"}}, nil); err == nil || !strings.Contains(err.Error(), "which provider-b (1, amd64) provides") {
		t.Errorf("conflict with another provider: %v", err)
	}
	// Installed in the base: nothing to install, no layers.
	pkgs, err := ix.Resolve([]Request{{Name: "tool", Where: "t"}}, map[string]string{"tool": "3.1"})
	if err != nil || len(pkgs) != 0 {
		t.Errorf("installed package resolved to %v, %v", pkgs, err)
	}
	if specs, err := c.Layers(context.Background(), pkgs); err != nil || len(specs) != 0 {
		t.Errorf("no packages gave %d layers, %v", len(specs), err)
	}

	// All failing requests are reported at once.
	_, err = ix.Resolve([]Request{{Name: "nope1", Where: "apt.txt:1"}, {Name: "app", Where: "apt.txt:2"}, {Name: "nope2", Where: "apt.txt:3"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "nope1") || !strings.Contains(err.Error(), "nope2") {
		t.Errorf("want both unknown packages named, got %v", err)
	}
}

func TestUnpackLocalArchive(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, _ := testClient(t)
	ctx := context.Background()
	ix, err := c.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]Request{{Name: "app", Where: "apt.txt:1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	// tool is Essential: the OS group; libfoo1, libc-fake, provider-a:
	// dependencies; app: requested.
	var groups []string
	for _, s := range specs {
		groups = append(groups, s.(*LayerSpec).Group())
	}
	if !reflect.DeepEqual(groups, []string{"os", "deps", "requested"}) {
		t.Errorf("groups %v", groups)
	}
	dir := t.TempDir()
	extractSpecs(t, specs, dir)
	assertNothingLeft(t, c)

	check := func(p, want string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Error(err)
			return
		}
		if string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
	}
	link := func(p, want string) {
		t.Helper()
		got, err := os.Readlink(filepath.Join(dir, p))
		if err != nil || got != want {
			t.Errorf("%s -> %q (%v), want -> %q", p, got, err, want)
		}
	}
	check("usr/bin/tool", "#!/bin/sh\necho tool\n")
	check("bin/tool", "#!/bin/sh\necho tool\n") // through the merged-/usr link
	link("bin", "usr/bin")
	link("sbin", "usr/sbin")
	link("lib", "usr/lib")
	link("lib64", "usr/lib64")
	link("usr/sbin/tool-admin", "/bin/tool")
	check("usr/lib/x86_64-linux-gnu/libfoo.so.1", "foo v2")
	link("usr/lib/x86_64-linux-gnu/libfoo-compat.so", "../../usr/lib/x86_64-linux-gnu/libfoo.so.1")
	// Alternatives: the slave's target is not shipped, so only the master link.
	link("usr/bin/tooly", "/etc/alternatives/tooly")
	link("etc/alternatives/tooly", "/bin/tool")
	if _, err := os.Lstat(filepath.Join(dir, "usr/share/man/man1/tooly.1.gz")); err == nil {
		t.Error("slave link made for a missing target")
	}
	check("var/lib/dpkg/alternatives/tooly", "auto\n/usr/bin/tooly\ntooly.1.gz\n/usr/share/man/man1/tooly.1.gz\n\n/bin/tool\n10\n/usr/share/man/man1/tool.1.gz\n\n")
	fi, err := os.Stat(filepath.Join(dir, "usr/bin/tool-suid"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("tool-suid lost its setuid bit: %v %v", fi.Mode(), err)
	}
	st1, _ := os.Stat(filepath.Join(dir, "usr/bin/tool"))
	st2, _ := os.Stat(filepath.Join(dir, "usr/bin/tool-hard"))
	if !os.SameFile(st1, st2) {
		t.Error("tool-hard is not a hard link to tool")
	}
	// dpkg's database: original paths in .list, ":arch" for Multi-Arch:
	// same, conffile md5 in the status.
	check("var/lib/dpkg/info/tool.list", "/.\n/bin\n/bin/tool\n/bin/tool-hard\n/usr\n/usr/bin\n/usr/bin/tool-suid\n/etc\n/etc/tool.conf\n/sbin\n/sbin/tool-admin\n")
	if _, err := os.Stat(filepath.Join(dir, "var/lib/dpkg/info/libfoo1:amd64.list")); err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "var/lib/dpkg/info/tool.postinst")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("tool.postinst: %v %v", fi, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("Conffiles:\n /etc/tool.conf %x\n", md5.Sum([]byte("setting=1\n")))
	if !strings.Contains(string(status), conf) {
		t.Errorf("status lacks %q:\n%s", conf, status)
	}
	dq := testtool.RequireTool(t, "dpkg-query")
	out, err := exec.Command(dq, "--admindir="+filepath.Join(dir, "var/lib/dpkg"), "-W", "-f=${binary:Package} ${Version} ${db:Status-Status}\n").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-query: %v\n%s", err, out)
	}
	want := "app 1.0 installed\nlibc-fake:amd64 1 installed\nlibfoo1:amd64 2.0-1 installed\nprovider-a 1 installed\ntool 3.1 installed\n"
	if string(out) != want {
		t.Errorf("dpkg-query -W:\n%s\nwant:\n%s", out, want)
	}
}

func TestLayerKeysStable(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, _ := testClient(t)
	ctx := context.Background()
	ix, err := c.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	keys := func(reqs ...string) []string {
		t.Helper()
		var rs []Request
		for _, r := range reqs {
			rs = append(rs, Request{Name: r, Where: "t"})
		}
		pkgs, err := ix.Resolve(rs, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The order packages are passed in must not matter.
		sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name > pkgs[j].Name })
		specs, err := c.Layers(ctx, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range specs {
			k, err := s.Key(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		return out
	}
	k1 := keys("app")
	k2 := keys("app")
	if !reflect.DeepEqual(k1, k2) {
		t.Errorf("keys differ between runs: %v %v", k1, k2)
	}
	k3 := keys("app", "pyish")
	if k3[0] != k1[0] || k3[1] == k1[1] {
		t.Errorf("adding a requested package must keep the OS layer's key and change the ones above: %v vs %v", k1, k3)
	}

	// The same entries, byte for byte, from two unpackings.
	pkgs, _ := ix.Resolve([]Request{{Name: "app"}}, nil)
	digest := func() string {
		specs, err := c.Layers(ctx, pkgs, WithLayerBudget(1))
		if err != nil {
			t.Fatal(err)
		}
		if len(specs) != 1 {
			t.Fatalf("budget 1 gave %d layers", len(specs))
		}
		es, err := specs[0].Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := md5.New()
		for _, e := range es {
			fmt.Fprintf(h, "%s %v %o %d %d %d %s\n", e.Path, e.Type, e.Mode, e.UID, e.GID, e.Size, e.Link)
			if e.Open != nil {
				r, err := e.Open()
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(h, r)
				r.Close()
			}
		}
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	if d1, d2 := digest(), digest(); d1 != d2 {
		t.Errorf("entries differ between two unpackings")
	}
}

func TestLocalDirNoNetwork(t *testing.T) {
	dir := t.TempDir()
	for _, d := range testUniverse() {
		d.arch = "amd64"
		writeFile(t, filepath.Join(dir, "sub", d.filename()), buildDeb(t, d))
	}
	// An arm64 package in the same directory is ignored for amd64.
	writeFile(t, filepath.Join(dir, "other_1_arm64.deb"), buildDeb(t, testDeb{name: "other", version: "1", arch: "arm64"}))

	c, _ := testClient(t, WithHTTPClient(&http.Client{Transport: noNetwork{t}}))
	ctx := context.Background()
	ix, err := c.Index(ctx, Source{LocalDir: dir, Mirror: "http://192.0.2.1/unreachable", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Versions("other")) != 0 {
		t.Error("arm64 package indexed for amd64")
	}
	pkgs, err := ix.Resolve([]Request{{Name: "app", Where: "apt.txt:1"}}, nil)
	if err != nil {
		t.Fatal(err)
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
	if b, err := os.ReadFile(filepath.Join(root, "usr/bin/app")); err != nil || string(b) != "app" {
		t.Errorf("usr/bin/app: %q %v", b, err)
	}
	assertNothingLeft(t, c)
}

func TestOfflineLocalArchive(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	cacheDir := t.TempDir()
	cache, err := layers.OpenCache(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := a.source("testing", "amd64")

	// Offline with an empty cache: fails naming the InRelease.
	off := New(cache, WithOffline(true))
	_, err = off.Index(ctx, src)
	if err == nil || !errors.Is(err, layers.ErrNotCached) || !strings.Contains(err.Error(), a.url+"/dists/testing/InRelease") {
		t.Fatalf("offline index with empty cache: %v", err)
	}
	if a.requestCount() != 0 {
		t.Fatalf("offline client made %d requests", a.requestCount())
	}

	// Online: the index only. Offline then has the index but no .debs, and
	// names every one missing.
	on := New(cache)
	if _, err := on.Index(ctx, src); err != nil {
		t.Fatal(err)
	}
	before := a.requestCount()
	ix, err := off.Index(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.requestCount() - before; n != 0 {
		t.Errorf("offline index made %d requests", n)
	}
	pkgs, err := ix.Resolve([]Request{{Name: "app"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = off.Fetch(ctx, pkgs)
	if err == nil || !errors.Is(err, layers.ErrNotCached) {
		t.Fatalf("offline fetch: %v", err)
	}
	for _, p := range pkgs {
		if !strings.Contains(err.Error(), p.ID()) {
			t.Errorf("offline error does not name %s: %v", p.ID(), err)
		}
	}
	if !strings.Contains(err.Error(), "5 input(s) missing") {
		t.Errorf("offline error does not count the missing inputs: %v", err)
	}
	specs, _ := off.Layers(ctx, pkgs)
	if _, err := specs[0].Entries(ctx); err == nil || !errors.Is(err, layers.ErrNotCached) {
		t.Errorf("offline entries: %v", err)
	}

	// After one online fetch, an offline build needs no network.
	if err := on.Fetch(ctx, pkgs); err != nil {
		t.Fatal(err)
	}
	before = a.requestCount()
	off2 := New(cache, WithOffline(true))
	ix, err = off2.Index(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err = ix.Resolve([]Request{{Name: "app"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err = off2.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	extractSpecs(t, specs, t.TempDir())
	if n := a.requestCount() - before; n != 0 {
		t.Errorf("offline build made %d requests", n)
	}
}

func TestParseAptTxt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "apt.txt")
	writeFile(t, p, []byte("# tools\njq\n\n  curl   # for downloads\nlibfoo1=2.0-1 python3:amd64\n"))
	reqs, err := ParseAptTxt(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Request{{"jq", p + ":2"}, {"curl", p + ":4"}, {"libfoo1=2.0-1", p + ":5"}, {"python3:amd64", p + ":5"}}
	if !reflect.DeepEqual(reqs, want) {
		t.Errorf("got %v, want %v", reqs, want)
	}
	writeFile(t, p, []byte("jq\nNot_A_Package\n"))
	if _, err := ParseAptTxt(p); err == nil || !strings.Contains(err.Error(), p+":2") {
		t.Errorf("bad name: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	st := "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n\nPackage: c\nStatus: install ok installed\nArchitecture: all\nVersion: 1:3\nDescription: x\n more\n"
	got, err := ParseStatus(strings.NewReader(st))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1.0", "a:amd64": "1.0", "c": "1:3", "c:all": "1:3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestBuildThroughCache writes the layers with the layers package's
// builder: staging files go away as they are written, without Close, and a
// second build is a cache hit.
func TestBuildThroughCache(t *testing.T) {
	a := newTestArchive(t, "testing", "amd64", testUniverse())
	c, cache := testClient(t)
	ctx := context.Background()
	ix, err := c.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve([]Request{{Name: "app"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := c.Layers(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, s := range specs {
		r, err := cache.Build(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if r.Hit {
			t.Errorf("%s: first build was a cache hit", s.Describe())
		}
		digests = append(digests, r.Digest.String())
	}
	assertNothingLeft(t, c)
	// A new client (a second process) gets the same keys: all hits.
	c2 := New(cache)
	ix2, err := c2.Index(ctx, a.source("testing", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs2, _ := ix2.Resolve([]Request{{Name: "app"}}, nil)
	specs2, _ := c2.Layers(ctx, pkgs2)
	for i, s := range specs2 {
		r, err := cache.Build(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Hit || r.Digest.String() != digests[i] {
			t.Errorf("%s: second build hit=%v digest %s, want a hit with %s", s.Describe(), r.Hit, r.Digest, digests[i])
		}
	}
}
