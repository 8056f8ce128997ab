package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for image-syncer's files (--auth, --images, the legacy
// --config) and the image references in them. hack/test.sh runs each
// target briefly.

var imagesSeeds = []string{
	"quay.io/labnow/base: $MIRROR/labnow/base\ndocker.io/valkey/valkey:latest,8,8.1:\n  - quay.io/labnow/valkey\n  - ${MIRROR}/labnow-oss/valkey\n",
	`{"quay.io/labnow/base": "$MIRROR/labnow/base", "docker.io/valkey/valkey:latest,8,8.1": ["quay.io/labnow/valkey"]}`,
	"a/b: c/d\nx/y: \"\"\n", "a/b:\n  c: d\n", "a/b: c/d\n\"x/y:/[/\": z/w\n", "a/b: c/d\nx/y: z/w:/v1/\n", "- a/b\n", "",
	"{\n  \"a/b\": \"c/d\",\n  \"x/y\": [\"z/w\",\n    7, {}]\n}", "{\"a/b\": \"c/d\"} {}",
	"quay.io/ns/app:/^v1\\.[0-9]+$/: reg:5000/ns/app\nquay.io/ns/app@sha256:" + strings.Repeat("0", 64) + ": reg/x\n",
}

var authSeeds = []string{
	"quay.io:\n  username: $SYNC_USER\n  password: ${SYNC_PASS}\n  insecure: true\ndocker.io/labnow: {username: plain, password: 12345}\n",
	`{"quay.io": {"username": "$SYNC_USER", "password": "${SYNC_PASS}", "insecure": true}}`,
	"quay.io:\n  username: a\n  pasword: b\n", "quay.io: plain\n", "quay.io:\n  insecure: maybe\n", "",
}

func FuzzLoadConfig(f *testing.F) {
	for i, images := range imagesSeeds {
		f.Add(authSeeds[i%len(authSeeds)], images, strings.HasPrefix(images, "{"))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, auth, images string, asJSON bool) {
		ext := ".yaml"
		if asJSON {
			ext = ".json"
		}
		authFile, imagesFile := filepath.Join(dir, "auth"+ext), filepath.Join(dir, "images"+ext)
		if err := os.WriteFile(authFile, []byte(auth), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(imagesFile, []byte(images), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(authFile, imagesFile)
		if err != nil {
			return
		}
		checkConfig(t, c)
	})
}

func FuzzLoadLegacyConfig(f *testing.F) {
	f.Add("auth:\n  quay.io:\n    username: xxx\n    password: $SYNC_PASS\nimages:\n  quay.io/coreos/kube-rbac-proxy: quay.io/ruohe/kube-rbac-proxy\n", false)
	f.Add(`{"auth": {"quay.io": {"username": "xxx"}}, "images": {"quay.io/coreos/x:v1.0,v2.0": "$MIRROR/ruohe/x"}}`, true)
	f.Add("auth: {}\n", false)
	f.Add("[1]", true)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, config string, asJSON bool) {
		p := filepath.Join(dir, "config.yaml")
		if asJSON {
			p = filepath.Join(dir, "config.json")
		}
		if err := os.WriteFile(p, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadLegacyConfig(p)
		if err != nil {
			return
		}
		checkConfig(t, c)
	})
}

// checkConfig checks what a loaded config promises: every rule has a
// source and destinations, and auth lookups answer. (An empty mapping of
// images loads with no rules, as image-syncer accepts it.)
func checkConfig(t *testing.T, c *Config) {
	t.Helper()
	for _, r := range c.Rules {
		if r.Source == "" || len(r.Destinations) == 0 {
			t.Errorf("rule %+v lacks a source or destinations", r)
		}
		_, _ = c.AuthFor(r.Source)
		for _, d := range r.Destinations {
			_, _ = c.AuthFor(d)
		}
	}
}

func FuzzParseImageURL(f *testing.F) {
	for _, s := range []string{"alpine", "alpine:3.18", "index.docker.io/labnow/base:a", "localhost:5000/ns/app:a,b,c",
		"quay.io/ns/app:/^v1\\.[0-9]+$/", "reg:5000/ns/app:/a/b/", "quay.io/ns/app@sha256:" + strings.Repeat("0", 64),
		"quay.io/ns/app:/unterminated", "quay.io/ns/app:a,,b", " quay.io/ns/app", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseImageURL(s)
		if err != nil {
			return
		}
		if u.registry == "" || u.repo == "" {
			t.Errorf("%q: registry %q, repository %q", s, u.registry, u.repo)
		}
		_ = u.repository()
		_ = sourceItems(u, []string{"latest", "v1.0"})
	})
}
