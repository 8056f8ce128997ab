package conda

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/assemble-build/assemble/layers"
)

func TestParseChannel(t *testing.T) {
	for in, want := range map[string]Channel{
		"conda-forge":                         {Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"},
		"bioconda/":                           {Name: "bioconda", URL: "https://conda.anaconda.org/bioconda"},
		"https://mirror.example/conda-forge/": {Name: "https://mirror.example/conda-forge", URL: "https://mirror.example/conda-forge"},
		"file:///srv/channel":                 {Name: "file:///srv/channel", URL: "file:///srv/channel"},
		"/srv/channel/../chan":                {Name: "/srv/channel/../chan", URL: "file:///srv/chan"},
	} {
		got, err := ParseChannel(in, "")
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	if got, _ := ParseChannel("conda-forge", "https://mirror.example/conda/"); got.URL != "https://mirror.example/conda/conda-forge" {
		t.Errorf("alias: %+v", got)
	}
	for _, bad := range []string{"", "defaults", "ftp://x/y", "a b", `c:\x`, "./chan", "../chan"} {
		if _, err := ParseChannel(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	ch := Channel{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}
	if !ch.Matches("conda-forge") || !ch.Matches("https://conda.anaconda.org/conda-forge/") || ch.Matches("bioconda") {
		t.Error("Matches")
	}
}

// repodataJSON is a subdir index with a .conda and a .tar.bz2 of the same
// build (the .conda is taken), noarch as a bool, track_features as a list.
const repodataJSON = `{
  "info": {"subdir": "linux-64"},
  "packages": {
    "zlib-1.3.1-h0_0.tar.bz2": {"name": "zlib", "version": "1.3.1", "build": "h0_0", "build_number": 0, "depends": [], "sha256": "aa"},
    "old-1.0-0.tar.bz2": {"name": "old", "version": "1.0", "build": "0", "build_number": 0, "depends": [], "noarch": true, "track_features": ["a", "b"], "sha256": "bb"}
  },
  "packages.conda": {
    "zlib-1.3.1-h0_0.conda": {"name": "zlib", "version": "1.3.1", "build": "h0_0", "build_number": 0, "depends": [], "sha256": "cc"}
  },
  "removed": []
}`

func TestParseRepodata(t *testing.T) {
	rd, err := ParseRepodata(Channel{Name: "c", URL: "https://x/c"}, "linux-64", []byte(repodataJSON))
	if err != nil {
		t.Fatal(err)
	}
	z, _ := rd.Records("zlib")
	if len(z) != 1 || z[0].Filename != "zlib-1.3.1-h0_0.conda" || z[0].SHA256 != "cc" || z[0].URL != "https://x/c/linux-64/zlib-1.3.1-h0_0.conda" || z[0].Subdir != "linux-64" {
		t.Errorf("zlib %+v", z)
	}
	o, _ := rd.Records("old")
	if len(o) != 1 || o[0].Noarch != "generic" || o[0].TrackFeatures != "a b" || trackFeatureCount(&o[0]) != 2 {
		t.Errorf("old %+v", o)
	}
	if strings.Join(rd.Names(), ",") != "old,zlib" {
		t.Errorf("names %v", rd.Names())
	}
	if _, err := ParseRepodata(Channel{}, "x", []byte("<html>")); err == nil {
		t.Error("html accepted")
	}
	rd, _ = ParseRepodata(Channel{Name: "c", URL: "https://x/c"}, "linux-64", []byte(`{"info":{"base_url":"https://cdn.example/c/linux-64/"},"packages.conda":{"a-1-0.conda":{"name":"b","version":"1","build":"0"}}}`))
	if _, err := rd.Records("a"); err == nil || !strings.Contains(err.Error(), `names package "b"`) {
		t.Errorf("misnamed record: %v", err)
	}
}

// channelDir writes a channel: linux-64 as repodata.json.zst and .bz2
// (and plain), noarch plain.
func channelDir(t *testing.T, forms ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sd := range []string{"linux-64", "noarch"} {
		if err := os.MkdirAll(filepath.Join(dir, sd), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("noarch/repodata.json", []byte(`{"info":{"subdir":"noarch"},"packages":{"six-1.16.0-pyh_0.tar.bz2":{"name":"six","version":"1.16.0","build":"pyh_0","build_number":0,"depends":["python"],"noarch":"python","sha256":"dd"}}}`))
	for _, f := range forms {
		switch f {
		case "zst":
			enc, _ := zstd.NewWriter(nil)
			write("linux-64/repodata.json.zst", enc.EncodeAll([]byte(repodataJSON), nil))
		case "bz2":
			if _, err := exec.LookPath("bzip2"); err != nil {
				t.Skip("bzip2 not installed")
			}
			cmd := exec.Command("bzip2", "-c")
			cmd.Stdin = strings.NewReader(repodataJSON)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			write("linux-64/repodata.json.bz2", out)
		case "json":
			write("linux-64/repodata.json", []byte(repodataJSON))
		}
	}
	return dir
}

func checkIndex(t *testing.T, ix *Index) {
	t.Helper()
	sol, err := ix.Solve([]Request{{Spec: "zlib", Where: "x"}, {Spec: "six", Where: "y"}}, WithInstalled(Record{Name: "python", Version: "3.12", Build: "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(sol); got != "six=1.16.0=pyh_0 zlib=1.3.1=h0_0" {
		t.Errorf("solution %s", got)
	}
}

// A file:// channel is read from its directory, in the best form it has.
func TestChannelFile(t *testing.T) {
	for _, forms := range [][]string{{"zst", "json"}, {"bz2"}, {"json"}} {
		dir := channelDir(t, forms...)
		c := NewClient(testCache(t))
		ch, _ := ParseChannel("file://"+dir, "")
		ix, err := c.Index(context.Background(), []Channel{ch}, "linux-64")
		if err != nil {
			t.Fatalf("%v: %v", forms, err)
		}
		checkIndex(t, ix)
	}
	// A channel without noarch is not a channel; a missing platform subdir is empty.
	dir := channelDir(t, "json")
	c := NewClient(testCache(t))
	ch, _ := ParseChannel(dir, "")
	if rd, err := c.Repodata(context.Background(), ch, "linux-aarch64"); err != nil || len(rd.Names()) != 0 {
		t.Errorf("aarch64: %v", err)
	}
	os.Remove(filepath.Join(dir, "noarch/repodata.json"))
	if _, err := c.Repodata(context.Background(), ch, "noarch"); err == nil || !strings.Contains(err.Error(), "has no noarch/repodata.json") {
		t.Errorf("no noarch: %v", err)
	}
}

// An http channel's index is fetched in its compressed form and kept in
// the download store: offline, a second build reads it from there and asks
// the server nothing.
func TestChannelHTTPOffline(t *testing.T) {
	dir := channelDir(t, "zst", "json")
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Path)
		mu.Unlock()
		http.StripPrefix("/conda-forge", http.FileServer(http.Dir(dir))).ServeHTTP(w, r)
	}))
	defer srv.Close()
	cache := testCache(t)
	ch, _ := ParseChannel("conda-forge", srv.URL)
	ix, err := NewClient(cache).Index(context.Background(), []Channel{ch}, "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, ix)
	mu.Lock()
	if strings.Join(got, " ") != "/conda-forge/linux-64/repodata.json.zst /conda-forge/noarch/repodata.json.zst /conda-forge/noarch/repodata.json.bz2 /conda-forge/noarch/repodata.json" {
		t.Errorf("requests %v", got)
	}
	got = nil
	mu.Unlock()
	ix, err = NewClient(cache, WithOffline(true)).Index(context.Background(), []Channel{ch}, "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, ix)
	// A subdir the channel lacks is remembered as lacking.
	if _, err := NewClient(cache).Repodata(context.Background(), ch, "linux-aarch64"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(cache, WithOffline(true)).Repodata(context.Background(), ch, "linux-aarch64"); err != nil {
		t.Errorf("offline missing subdir: %v", err)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 3 {
		t.Errorf("offline asked the server: %v", got)
	}
	_, err = NewClient(testCache(t), WithOffline(true)).Index(context.Background(), []Channel{ch}, "linux-64")
	if !errors.Is(err, layers.ErrNotCached) || !strings.Contains(err.Error(), "build once online first") {
		t.Errorf("cold offline: %v", err)
	}
	// A server error is an error, not an empty channel.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer bad.Close()
	ch, _ = ParseChannel(bad.URL+"/c", "")
	if _, err := NewClient(testCache(t), WithIndexHTTPClient(http.DefaultClient)).Repodata(context.Background(), ch, "noarch"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v", err)
	}
}

func testCache(t *testing.T) *layers.Cache {
	t.Helper()
	c, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
