package remote

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DefaultKeychain finds registry credentials the way docker and podman do.
//
// ggcr's authn.DefaultKeychain reads Docker's config.json (with credsStore
// and credHelpers) and reads podman's auth.json only when no Docker config
// exists at all. So a machine with both, whose login was made with podman,
// would push anonymously. This keychain asks Docker's config first and then
// every podman auth file in podman's order: $REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json and
// $XDG_CONFIG_HOME/containers/auth.json (~/.config/containers/auth.json).
// Credential helpers named in the podman files are used too.
func DefaultKeychain() authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, podmanKeychain{})
}

// FileKeychain reads credentials from one auth file only, in podman's
// auth.json (or Docker's config.json) format, credential helpers included:
// skopeo's and podman's --authfile, which replaces the default files.
func FileKeychain(path string) authn.Keychain { return podmanKeychain{files: []string{path}} }

// CredentialFiles lists the files DefaultKeychain reads, for messages.
func CredentialFiles() []string {
	var files []string
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		files = append(files, filepath.Join(d, "config.json"))
	} else if home, err := os.UserHomeDir(); err == nil {
		files = append(files, filepath.Join(home, ".docker", "config.json"))
	}
	files = append(files, podmanAuthFiles()...)
	return files
}

func podmanAuthFiles() []string {
	var files []string
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		files = append(files, p)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, filepath.Join(d, "containers", "auth.json"))
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfg = filepath.Join(home, ".config")
		}
	}
	if cfg != "" {
		files = append(files, filepath.Join(cfg, "containers", "auth.json"))
	}
	return files
}

// podmanKeychain reads podman's auth files: files, or podman's own list.
type podmanKeychain struct{ files []string }

func (k podmanKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	keys := authKeys(target.String())
	if target.RegistryStr() == name.DefaultRegistry {
		// podman stores Docker Hub logins under "docker.io".
		keys = append(keys, authKeys("docker.io"+strings.TrimPrefix(target.String(), name.DefaultRegistry))...)
	}
	files, explicit := k.files, k.files != nil
	if !explicit {
		files = podmanAuthFiles()
	}
	for _, p := range files {
		if !explicit && !fileExists(p) {
			continue
		}
		cf, err := loadAuthFile(p)
		if err != nil {
			return nil, err
		}
		cfg, err := lookupAuth(cf, keys, target.RegistryStr())
		if err != nil {
			return nil, fmt.Errorf("reading credentials for %s from %s: %w", target, p, err)
		}
		if cfg != (types.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{
				Username:      cfg.Username,
				Password:      cfg.Password,
				Auth:          cfg.Auth,
				IdentityToken: cfg.IdentityToken,
				RegistryToken: cfg.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// lookupAuth finds credentials the way podman does: a credential helper
// configured for the registry (or credsStore) first, then the "auths"
// entry for the repository or registry, with keys compared without scheme
// and path ("https://docker.io/v1/" matches "docker.io"). docker/cli's own
// lookup maps docker.io to the legacy key and misses podman's entries.
func lookupAuth(cf *configfile.ConfigFile, keys []string, registry string) (types.AuthConfig, error) {
	hosts := []string{registry}
	if registry == name.DefaultRegistry {
		hosts = append(hosts, "docker.io")
	}
	for _, h := range hosts {
		if _, ok := cf.CredentialHelpers[h]; ok || cf.CredentialsStore != "" {
			cfg, err := cf.GetAuthConfig(h)
			if err != nil {
				return types.AuthConfig{}, err
			}
			cfg.ServerAddress = ""
			if cfg != (types.AuthConfig{}) {
				return cfg, nil
			}
		}
	}
	for _, key := range keys {
		for k, cfg := range cf.AuthConfigs {
			if normalizeAuthKey(k) != key {
				continue
			}
			cfg.ServerAddress = ""
			if cfg != (types.AuthConfig{}) {
				return cfg, nil
			}
		}
	}
	return types.AuthConfig{}, nil
}

// authKeys lists the keys podman tries for a repository, most specific
// first: "reg/ns/app", "reg/ns", "reg".
func authKeys(repo string) []string {
	var keys []string
	for k := repo; k != ""; {
		keys = append(keys, k)
		i := strings.LastIndex(k, "/")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return keys
}

func normalizeAuthKey(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	k = strings.TrimSuffix(strings.TrimSuffix(k, "/"), "/v1")
	return strings.TrimSuffix(k, "/v2")
}

func loadAuthFile(p string) (*configfile.ConfigFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	defer f.Close()
	cf, err := dockerconfig.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading credentials from %s: %w (fix the file or run `podman login` again)", p, err)
	}
	cf.Filename = p
	return cf, nil
}

// registryHost returns the host part of a reference for messages.
func registryHost(ref name.Reference) string {
	h := ref.Context().RegistryStr()
	if h == name.DefaultRegistry {
		return "docker.io"
	}
	return h
}

// AuthError turns a 401/403 answer into a message that says what to do. Other
// errors are returned unchanged.
func AuthError(ref name.Reference, err error) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	denied := false
	switch te.StatusCode {
	case http.StatusUnauthorized:
	case http.StatusForbidden:
		denied = true
	default:
		unauth := false
		for _, d := range te.Errors {
			switch d.Code {
			case transport.UnauthorizedErrorCode:
				unauth = true
			case transport.DeniedErrorCode:
				unauth, denied = true, true
			}
		}
		if !unauth {
			return err
		}
	}
	host := registryHost(ref)
	what := "authentication required by"
	if denied {
		what = "access denied by"
	}
	return fmt.Errorf("%s: %s %s: log in with `podman login %s` or `docker login %s` (credentials are read from %s): %w",
		ref, what, host, host, host, strings.Join(CredentialFiles(), ", "), err)
}
