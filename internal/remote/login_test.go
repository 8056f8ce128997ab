package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/assemble-build/assemble/oci/ocitest"
)

func TestParseCreds(t *testing.T) {
	for in, want := range map[string][3]string{
		"u:p":     {"u", "p", "true"},
		"u:p:q":   {"u", "p:q", "true"},
		"u:":      {"u", "", "true"},
		"u":       {"u", "", "false"},
		"robot$x": {"robot$x", "", "false"},
	} {
		u, p, has, err := ParseCreds(in)
		if err != nil || u != want[0] || p != want[1] || (has != (want[2] == "true")) {
			t.Errorf("ParseCreds(%q) = %q %q %v %v, want %v", in, u, p, has, err, want)
		}
	}
	if _, _, _, err := ParseCreds(":p"); err == nil {
		t.Error("empty user accepted")
	}
}

func TestStaticAndFileKeychains(t *testing.T) {
	r, _ := name.ParseReference("reg.example/a:1")
	a, _ := StaticKeychain("u", "p").Resolve(r.Context())
	if cfg, _ := a.Authorization(); cfg.Username != "u" || cfg.Password != "p" {
		t.Errorf("static: %+v", cfg)
	}
	f := filepath.Join(t.TempDir(), "auth.json")
	if err := SaveLogin(f, "reg.example", "fu", "fp"); err != nil {
		t.Fatal(err)
	}
	a, err := FileKeychain(f).Resolve(r.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := a.Authorization(); cfg.Username != "fu" || cfg.Password != "fp" {
		t.Errorf("file: %+v", cfg)
	}
	other, _ := name.ParseReference("other.example/a:1")
	if a, _ := FileKeychain(f).Resolve(other.Context()); a != authn.Anonymous {
		t.Error("file keychain answered a registry it has no entry for")
	}
	if _, err := FileKeychain(filepath.Join(t.TempDir(), "none.json")).Resolve(r.Context()); err == nil {
		t.Error("a missing --authfile is silently anonymous")
	}
}

func TestNoTLSVerifyMarksEveryHostInsecure(t *testing.T) {
	r := &Registries{NoTLSVerify: true}
	ref, err := r.Reference("secure.example/a:1")
	if err != nil || ref.Context().Scheme() != "http" {
		t.Errorf("scheme %s, %v; want http (plain HTTP allowed)", ref.Context().Scheme(), err)
	}
}

func TestNormalizeLoginKey(t *testing.T) {
	for in, want := range map[string]string{
		"quay.io":                      "quay.io",
		"https://quay.io/":             "quay.io",
		"localhost:5000":               "localhost:5000",
		"index.docker.io":              "docker.io",
		"docker.io/library":            "docker.io/library",
		"registry.example:5000/team/x": "registry.example:5000/team/x",
	} {
		if got, err := NormalizeLoginKey(in); err != nil || got != want {
			t.Errorf("NormalizeLoginKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeLoginKey(""); err == nil {
		t.Error("empty registry accepted")
	}
}

func TestLoginFile(t *testing.T) {
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	if got := LoginFile(""); got != "/run/user/7/containers/auth.json" {
		t.Errorf("default %s", got)
	}
	t.Setenv("REGISTRY_AUTH_FILE", "/env/auth.json")
	if got := LoginFile(""); got != "/env/auth.json" {
		t.Errorf("REGISTRY_AUTH_FILE: %s", got)
	}
	if got := LoginFile("/flag.json"); got != "/flag.json" {
		t.Errorf("--authfile: %s", got)
	}
}

// SaveLogin and RemoveLogin keep what else the file holds, as podman does.
func TestSaveAndRemoveLoginKeepOtherEntries(t *testing.T) {
	f := filepath.Join(t.TempDir(), "sub", "auth.json")
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		t.Fatal(err)
	}
	old := `{"auths":{"other.example":{"auth":"b3RoZXI6cA=="}},"credHelpers":{"gcr.io":"gcloud"}}`
	if err := os.WriteFile(f, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveLogin(f, "reg.example:5000", "u", "p:w"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Auths       map[string]struct{ Auth string }
		CredHelpers map[string]string
	}
	b, _ := os.ReadFile(f)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if dec, _ := base64.StdEncoding.DecodeString(got.Auths["reg.example:5000"].Auth); string(dec) != "u:p:w" ||
		got.Auths["other.example"].Auth == "" || got.CredHelpers["gcr.io"] != "gcloud" {
		t.Errorf("after login: %s", b)
	}
	if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := RemoveLogin(f, "reg.example:5000"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(f)
	if strings.Contains(string(b), "reg.example") || !strings.Contains(string(b), "other.example") || !strings.Contains(string(b), "gcloud") {
		t.Errorf("after logout: %s", b)
	}
	if err := RemoveLogin(f, "reg.example:5000"); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("second logout: %v", err)
	}
	if err := RemoveLogin(f, ""); err != nil {
		t.Fatal(err)
	}
	if b, _ = os.ReadFile(f); strings.Contains(string(b), "other.example") || !strings.Contains(string(b), "gcloud") {
		t.Errorf("after logout --all: %s", b)
	}
}

// CheckLogin asks docker-registry (htpasswd auth) as podman login does.
func TestCheckLoginAgainstHtpasswdRegistry(t *testing.T) {
	reg := ocitest.StartRegistry(t, ocitest.WithHtpasswd("alice", "s3cret"))
	r := &Registries{Insecure: []string{reg.Host}}
	ctx := context.Background()
	if err := r.CheckLogin(ctx, reg.Host, "alice", "s3cret"); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	err := r.CheckLogin(ctx, reg.Host, "alice", "wrong")
	if err == nil || !strings.Contains(err.Error(), "invalid username or password") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad credentials: %v", err)
	}
}
