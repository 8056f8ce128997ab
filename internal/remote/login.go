package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/assemble-build/assemble/internal/atomicfile"
)

// ParseCreds parses skopeo's --creds USER[:PASS]. hasPass is false when
// there is no colon, so that the caller can ask for the password.
func ParseCreds(s string) (user, pass string, hasPass bool, err error) {
	user, pass, hasPass = strings.Cut(s, ":")
	if user == "" {
		return "", "", false, errors.New("the user name is empty: give USER[:PASS]")
	}
	return user, pass, hasPass, nil
}

// StaticKeychain answers every registry with one user and password, as
// skopeo's --creds does; it comes before any file.
func StaticKeychain(user, pass string) authn.Keychain {
	return staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})}
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// LoginFile is the auth file podman login writes: path when given
// (--authfile), else $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, else (no runtime directory, as
// containers/image does on Linux) /run/containers/UID/auth.json.
func LoginFile(path string) string {
	if path != "" {
		return path
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "containers", "auth.json")
	}
	return fmt.Sprintf("/run/containers/%d/auth.json", os.Getuid())
}

// NormalizeLoginKey turns what people type after `login` into podman's
// auth.json key: no scheme, no trailing slash, "docker.io" for Docker Hub.
func NormalizeLoginKey(registry string) (string, error) {
	k := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	if k == "" {
		return "", errors.New("no registry given: name one, e.g. quay.io or localhost:5000")
	}
	host, _, _ := strings.Cut(k, "/")
	if host == name.DefaultRegistry || host == "registry-1.docker.io" {
		k = "docker.io" + strings.TrimPrefix(k, host)
	}
	if _, err := name.NewRegistry(hostOf(k)); err != nil {
		return "", fmt.Errorf("registry %q: %w", registry, err)
	}
	return k, nil
}

func hostOf(key string) string {
	h, _, _ := strings.Cut(key, "/")
	return h
}

// CheckLogin asks the registry whether user and pass are accepted, as
// podman login does before it writes anything: a token when the registry
// hands out tokens, then GET /v2/ with them.
func (r *Registries) CheckLogin(ctx context.Context, key, user, pass string) error {
	r.once.Do(r.build)
	host := hostOf(key)
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	var nopts []name.Option
	if r.isInsecure(host) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nopts...)
	if err != nil {
		return fmt.Errorf("registry %q: %w", key, err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
	rt, err := transport.NewWithContext(ctx, reg, auth, r.rt, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return loginError(key, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return loginError(key, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return loginError(key, fmt.Errorf("GET /v2/ answered %s", resp.Status))
	}
	return nil
}

func loginError(key string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) ||
		strings.Contains(err.Error(), "401 Unauthorized") {
		return fmt.Errorf("logging in to %s: invalid username or password: %w", key, err)
	}
	return fmt.Errorf("logging in to %s: %w", key, err)
}

// authFile is an auth.json with every key it had kept as it was.
type authFile struct {
	path  string
	top   map[string]json.RawMessage
	auths map[string]json.RawMessage
}

func readAuthFile(path string) (*authFile, error) {
	f := &authFile{path: path, top: map[string]json.RawMessage{}, auths: map[string]json.RawMessage{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(b, &f.top); err != nil {
		return nil, fmt.Errorf("reading %s: %w (fix or remove the file)", path, err)
	}
	if raw, ok := f.top["auths"]; ok {
		if err := json.Unmarshal(raw, &f.auths); err != nil {
			return nil, fmt.Errorf("reading %s: \"auths\": %w (fix or remove the file)", path, err)
		}
	}
	return f, nil
}

func (f *authFile) write() error {
	raw, err := json.Marshal(f.auths)
	if err != nil {
		return err
	}
	f.top["auths"] = raw
	b, err := json.MarshalIndent(f.top, "", "\t")
	if err != nil {
		return err
	}
	// The directory holds secrets: podman makes it 0700 too.
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return atomicfile.WriteFile(f.path, append(b, '\n'), atomicfile.WithMode(0o600))
}

// SaveLogin stores user and pass for key in the auth file at path, in
// podman's format ({"auths": {KEY: {"auth": base64(USER:PASS)}}}), keeping
// every other entry and key of the file.
func SaveLogin(path, key, user, pass string) error {
	f, err := readAuthFile(path)
	if err != nil {
		return err
	}
	entry, err := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))})
	if err != nil {
		return err
	}
	f.auths[key] = entry
	return f.write()
}

// ErrNotLoggedIn is returned by RemoveLogin when the file has no entry.
var ErrNotLoggedIn = errors.New("not logged in")

// RemoveLogin removes key's entry from the auth file at path; key "" removes
// every entry (podman logout --all).
func RemoveLogin(path, key string) error {
	f, err := readAuthFile(path)
	if err != nil {
		return err
	}
	if key == "" {
		f.auths = map[string]json.RawMessage{}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return f.write()
	}
	var found []string
	for k := range f.auths {
		if normalizeAuthKey(k) == key || (key == "docker.io" && normalizeAuthKey(k) == "index.docker.io") {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("%s in %s: %w", key, path, ErrNotLoggedIn)
	}
	sort.Strings(found)
	for _, k := range found {
		delete(f.auths, k)
	}
	return f.write()
}
