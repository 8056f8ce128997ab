package sync

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestAuthFor(t *testing.T) {
	c := &Config{Auths: []Auth{
		{Key: "quay.io"},
		{Key: "quay.io/coreos"},
		{Key: "docker.io"},
		{Key: "registry.hub.docker.com/labnow"},
		{Key: "reg.example:5000/team/"},
		{Key: "reg.example:5000/team/app/sub"},
	}}
	for _, tc := range []struct {
		repo, want string
	}{
		{"quay.io/coreos/etcd", "quay.io/coreos"},
		{"quay.io/coreos", "quay.io/coreos"},
		{"quay.io/coreosx/etcd", "quay.io"}, // a key matches whole path components only
		{"quay.io/other/x", "quay.io"},
		{"quay.iox/other/x", ""},
		{"docker.io/library/alpine", "docker.io"},
		{"docker.io/labnow/base", "registry.hub.docker.com/labnow"}, // Docker Hub aliases are one registry
		{"reg.example:5000/team/app", "reg.example:5000/team/"},
		{"reg.example:5000/team/app/sub/x", "reg.example:5000/team/app/sub"},
		{"reg.example:5000/teams/app", ""},
		{"reg.example/team/app", ""},
	} {
		a, ok := c.AuthFor(tc.repo)
		if ok != (tc.want != "") || a.Key != tc.want {
			t.Errorf("AuthFor(%q) = %q, %v; want %q", tc.repo, a.Key, ok, tc.want)
		}
	}
}

func TestLoadConfigExpandsEnv(t *testing.T) {
	t.Setenv("SYNC_USER", "robot")
	t.Setenv("SYNC_PASS", "p@ss$word")
	t.Setenv("MIRROR", "mirror.example")
	for _, tc := range []struct{ authName, auth, imagesName, images string }{
		{"auth.yaml", `
quay.io:
  username: $SYNC_USER
  password: ${SYNC_PASS}
  insecure: true
docker.io/labnow: {username: plain, password: 12345}
`, "images.yml", `
quay.io/labnow/base: $MIRROR/labnow/base
docker.io/valkey/valkey:latest,8,8.1:
  - quay.io/labnow/valkey
  - ${MIRROR}/labnow-oss/valkey
`},
		{"auth.json", `{
  "quay.io": {"username": "$SYNC_USER", "password": "${SYNC_PASS}", "insecure": true},
  "docker.io/labnow": {"username": "plain", "password": "12345"}
}`, "images.json", `{
  "quay.io/labnow/base": "$MIRROR/labnow/base",
  "docker.io/valkey/valkey:latest,8,8.1": ["quay.io/labnow/valkey", "${MIRROR}/labnow-oss/valkey"]
}`},
	} {
		t.Run(tc.authName, func(t *testing.T) {
			dir := t.TempDir()
			c, err := LoadConfig(writeFile(t, dir, tc.authName, tc.auth), writeFile(t, dir, tc.imagesName, tc.images))
			if err != nil {
				t.Fatal(err)
			}
			a, ok := c.AuthFor("quay.io/labnow/base")
			if !ok || a.Username != "robot" || a.Password != "p@ss$word" || !a.Insecure {
				t.Errorf("quay.io auth = %+v", a)
			}
			if a.Pos.Line != 2 {
				t.Errorf("quay.io auth line = %d, want 2", a.Pos.Line)
			}
			if a, _ := c.AuthFor("docker.io/labnow/x"); a.Password != "12345" || a.Insecure {
				t.Errorf("docker.io/labnow auth = %+v", a)
			}
			want := []Rule{
				{Source: "quay.io/labnow/base", Destinations: []string{"mirror.example/labnow/base"}},
				{Source: "docker.io/valkey/valkey:latest,8,8.1", Destinations: []string{"quay.io/labnow/valkey", "mirror.example/labnow-oss/valkey"}},
			}
			if len(c.Rules) != len(want) {
				t.Fatalf("rules = %+v", c.Rules)
			}
			for i, r := range c.Rules {
				if r.Source != want[i].Source || !slices.Equal(r.Destinations, want[i].Destinations) {
					t.Errorf("rule %d = %+v, want %+v", i, r, want[i])
				}
			}
			if c.Rules[1].Pos.Line != 3 {
				t.Errorf("rule line = %d, want 3", c.Rules[1].Pos.Line)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
		})
	}
}

func TestLoadLegacyConfig(t *testing.T) {
	t.Setenv("SYNC_PASS", "expanded")
	t.Setenv("MIRROR", "mirror.example")
	dir := t.TempDir()
	for _, tc := range []struct{ name, body string }{
		{"config.yaml", `auth:
  quay.io:
    username: xxx
    password: $SYNC_PASS
  quay.io/coreos:
    username: abc
    password: xxxxxxxxx
    insecure: true
images:
  quay.io/coreos/kube-rbac-proxy: quay.io/ruohe/kube-rbac-proxy
  quay.io/coreos/kube-rbac-proxy:v1.0,v2.0: $MIRROR/ruohe/kube-rbac-proxy
`},
		{"config.json", `{"auth": {"quay.io": {"username": "xxx", "password": "$SYNC_PASS"},
  "quay.io/coreos": {"username": "abc", "password": "xxxxxxxxx", "insecure": true}},
 "images": {"quay.io/coreos/kube-rbac-proxy": "quay.io/ruohe/kube-rbac-proxy",
  "quay.io/coreos/kube-rbac-proxy:v1.0,v2.0": "$MIRROR/ruohe/kube-rbac-proxy"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadLegacyConfig(writeFile(t, dir, tc.name, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			// image-syncer does not expand variables in --config credentials.
			if a, _ := c.AuthFor("quay.io/ruohe/x"); a.Password != "$SYNC_PASS" {
				t.Errorf("legacy password = %q, want it literal", a.Password)
			}
			if a, _ := c.AuthFor("quay.io/coreos/kube-rbac-proxy"); a.Username != "abc" || !a.Insecure {
				t.Errorf("quay.io/coreos auth = %+v", a)
			}
			if len(c.Rules) != 2 || c.Rules[1].Destinations[0] != "mirror.example/ruohe/kube-rbac-proxy" {
				t.Errorf("rules = %+v", c.Rules)
			}
		})
	}
}

func TestConfigWarnings(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(
		writeFile(t, dir, "auth.yaml", "quay.io:\n  username: a\n  pasword: b\n"),
		writeFile(t, dir, "images.json", "{\n \"a/b\": \"c/d\",\n \"a/b\": \"e/f\"\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 ||
		!strings.Contains(c.Warnings[0], `auth.yaml:3: auth "quay.io": unknown field "pasword"`) ||
		!strings.Contains(c.Warnings[1], `images.json:3: source "a/b" repeats the entry at line 2`) {
		t.Errorf("warnings = %q", c.Warnings)
	}
	if len(c.Rules) != 1 || c.Rules[0].Destinations[0] != "e/f" {
		t.Errorf("the later duplicate should win, like image-syncer: %+v", c.Rules)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		legacy     bool
		want       string // file-relative; the file name is prefixed
	}{
		{"images.txt", "a/b: c/d", false, "images.txt: unknown format"},
		{"images.yaml", "a/b: c/d\nx/y: \"\"\n", false, `images.yaml:2: empty destination for "x/y"`},
		{"images.yaml", "a/b: c/d\nx/y: []\n", false, `images.yaml:2: empty destination for "x/y"`},
		{"images.yaml", "a/b:\n  c: d\n", false, `images.yaml:1: destination of "a/b" must be a string or a list of strings, got a mapping`},
		{"images.yaml", "a/b:\n  - c/d\n  - [e]\n", false, `images.yaml:3: destination of "a/b" must be a string, got a list`},
		{"images.yaml", "a/b: c/d\n\"x/y:/[/\": z/w\n", false, "images.yaml:2: source: image reference \"x/y:/[/\": invalid tag regex"},
		{"images.yaml", "a/b: c/d\nx/y: z/w:/v1/\n", false, "images.yaml:2: destination \"z/w:/v1/\": a /regex/ is only allowed in a source"},
		{"images.yaml", "a/b: c/d\nx/Y: z/w\n", false, "images.yaml:2: source: image reference \"x/Y\""},
		{"images.yaml", "a/b: c/d\nx/y:t t: z/w\n", false, `images.yaml:2: source: image reference "x/y:t t": invalid tag "t t"`},
		{"images.yaml", "a/b: c/d\n  bad: [\n", false, "images.yaml: yaml: line"},
		{"images.yaml", "- a/b\n", false, "images.yaml:1: images must be a mapping"},
		{"images.yaml", "", false, "images.yaml: no images to sync"},
		{"images.json", "{\n  \"a/b\": \"c/d\",\n  \"x/y\" \"z\"\n}", false, "images.json:3: invalid JSON"},
		{"images.json", "{\n  \"a/b\": \"c/d\",\n  \"x/y\": [\"z/w\",\n    7, {}]\n}", false, `images.json:4: destination of "x/y" must be a string, got a mapping`},
		{"images.json", "{\"a/b\": \"c/d\"", false, "images.json: invalid JSON: the file ends early"},
		{"images.json", "{\"a/b\": \"c/d\"} {}", false, "images.json: line 1: unexpected data after the top-level value"},
		{"config.yaml", "auth:\n  quay.io:\n    insecure: maybe\nimages:\n  a/b: c/d\n", true, `config.yaml:3: auth "quay.io": insecure must be true or false`},
		{"config.yaml", "auth:\n  quay.io: plain\nimages:\n  a/b: c/d\n", true, `config.yaml:2: auth "quay.io" must be a mapping`},
		{"config.yaml", "auth: {}\n", true, `config.yaml: no "images" key`},
		{"config.json", "[1]", true, `config.json:1: the config file must be a mapping`},
	} {
		t.Run(tc.name+" "+tc.want, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, tc.name, tc.body)
			var err error
			if tc.legacy {
				_, err = LoadLegacyConfig(p)
			} else {
				_, err = LoadConfig("", p)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tc.want)) {
				t.Errorf("error %q\nwant it to contain %q", err, filepath.Join(dir, tc.want))
			}
		})
	}
}

func TestParseImageURL(t *testing.T) {
	const dig = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		in, registry, repo string
		tags               []string
		digest, regex      string
		err                string
	}{
		{in: "alpine", registry: "docker.io", repo: "library/alpine"},
		{in: "alpine:3.18", registry: "docker.io", repo: "library/alpine", tags: []string{"3.18"}},
		{in: "labnow/base", registry: "docker.io", repo: "labnow/base"},
		{in: "index.docker.io/labnow/base:a", registry: "docker.io", repo: "labnow/base", tags: []string{"a"}},
		{in: "localhost:5000/ns/app:a,b,c", registry: "localhost:5000", repo: "ns/app", tags: []string{"a", "b", "c"}},
		{in: "localhost/app", registry: "localhost", repo: "app"},
		{in: "quay.io/ns/app:/^v1\\.[0-9]+$/", registry: "quay.io", repo: "ns/app", regex: `^v1\.[0-9]+$`},
		{in: "reg:5000/ns/app:/a/b/", registry: "reg:5000", repo: "ns/app", regex: "a/b"},
		{in: "quay.io/ns/app@" + dig, registry: "quay.io", repo: "ns/app", digest: dig},
		{in: "quay.io/ns/app:v1@" + dig, registry: "quay.io", repo: "ns/app", digest: dig},
		{in: "quay.io/ns/app:/unterminated", err: "closing slash"},
		{in: "quay.io/ns/app:/[/", err: "invalid tag regex"},
		{in: "quay.io/ns/App", err: "quay.io/ns/App"},
		{in: "quay.io/ns/app:a,,b", err: `invalid tag ""`},
		{in: "quay.io/ns/app@sha256:abc", err: "invalid digest"},
		{in: "quay.io/ns/app:a,b@" + dig, err: "not several"},
		{in: " quay.io/ns/app", err: "spaces"},
		{in: "", err: "empty"},
	} {
		u, err := parseImageURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseImageURL(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseImageURL(%q): %v", tc.in, err)
			continue
		}
		re := ""
		if u.regex != nil {
			re = u.regex.String()
		}
		if u.registry != tc.registry || u.repo != tc.repo || !slices.Equal(u.tags, tc.tags) || u.digest != tc.digest || re != tc.regex {
			t.Errorf("parseImageURL(%q) = %s %s %v %s %q", tc.in, u.registry, u.repo, u.tags, u.digest, re)
		}
	}
}

func TestPairUp(t *testing.T) {
	const dig = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	repoTags := []string{"latest", "v1.0", "v1.1", "v2.0"}
	for _, tc := range []struct {
		src, dst string
		want     []string // "srcItem>dstRef"
		err      string
	}{
		{"r.io/a/b", "m.io/x/y", []string{"latest>m.io/x/y:latest", "v1.0>m.io/x/y:v1.0", "v1.1>m.io/x/y:v1.1", "v2.0>m.io/x/y:v2.0"}, ""},
		{"r.io/a/b:/^v1/", "m.io/x/y", []string{"v1.0>m.io/x/y:v1.0", "v1.1>m.io/x/y:v1.1"}, ""},
		{"r.io/a/b:/^v1/", "m.io/x/y:one,two", []string{"v1.0>m.io/x/y:one", "v1.1>m.io/x/y:two"}, ""},
		{"r.io/a/b:v1.0,v2.0", "m.io/x/y:stable", nil, "names 1 tag(s) but the source"},
		{"r.io/a/b:v1.0", "m.io/x/y:stable", []string{"v1.0>m.io/x/y:stable"}, ""},
		{"r.io/a/b@" + dig, "m.io/x/y", []string{dig + ">m.io/x/y@" + dig}, ""},
		{"r.io/a/b@" + dig, "m.io/x/y:pinned", []string{dig + ">m.io/x/y:pinned"}, ""},
		{"r.io/a/b@" + dig, "m.io/x/y@" + dig, []string{dig + ">m.io/x/y@" + dig}, ""},
		{"r.io/a/b:v1.0", "m.io/x/y@" + dig, nil, "must be that same digest"},
		{"r.io/a/b:/^nothing/", "m.io/x/y", nil, ""},
	} {
		src, err := parseImageURL(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := parseImageURL(tc.dst)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := pairUp(src, sourceItems(src, repoTags), dst)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s -> %s: error %v, want %q", tc.src, tc.dst, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s -> %s: %v", tc.src, tc.dst, err)
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.srcItem+">"+p.dstString())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s -> %s = %v, want %v", tc.src, tc.dst, got, tc.want)
		}
	}
}

func TestPlatformFilter(t *testing.T) {
	r := &runner{o: options{osList: []string{"linux", "windows:10.0.17763"}, archList: []string{"amd64", "arm:v7"}}}
	for _, tc := range []struct {
		os, osv, arch, variant string
		want                   bool
	}{
		{"linux", "", "amd64", "", true},
		{"linux", "", "arm", "v7", true},
		{"linux", "", "arm", "v6", false},
		{"linux", "", "arm64", "", false},
		{"windows", "10.0.17763", "amd64", "", true},
		{"windows", "10.0.20348", "amd64", "", false},
		{"", "", "", "", false},
	} {
		p := &v1.Platform{OS: tc.os, OSVersion: tc.osv, Architecture: tc.arch, Variant: tc.variant}
		if got := r.platformMatches(p); got != tc.want {
			t.Errorf("%+v: %v, want %v", p, got, tc.want)
		}
	}
}
