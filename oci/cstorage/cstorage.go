// Package cstorage writes images into containers-storage, the local image
// store of podman, buildah and skopeo, through go.podman.io/storage. It
// stores what containers/image's storage transport stores (layers, config,
// manifest, names), so `podman run` and `podman images` see the image as if
// it had been pulled.
//
// Programs using this package must call Init first thing in main, because
// the storage library extracts layers in a re-executed copy of the program:
//
//	func main() {
//		if cstorage.Init() {
//			return
//		}
//		...
//	}
//
// Run rootless, the program must also enter a user namespace before writing
// (EnterUserNamespace), as podman does, so that layer files can be owned by
// the image's users.
//
// The store is a copy of go.podman.io/storage's (internal/storage) that links
// only the overlay, vfs and zfs drivers, so that building needs no C headers
// beyond libc's. A build without cgo links no store: NewSink and Write then
// fail with an error that says so.
package cstorage

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Transport is the prefix of a containers-storage reference.
const Transport = "containers-storage"

// Option configures Write.
type Option func(*options)

type options struct {
	root, runRoot, driver string
	driverOpts            []string
}

// WithRoot sets the storage root (graphroot); default: the user's
// configured store (/var/lib/containers/storage for root,
// ~/.local/share/containers/storage rootless).
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithRunRoot sets the storage run root (runroot).
func WithRunRoot(dir string) Option { return func(o *options) { o.runRoot = dir } }

// WithDriver sets the storage driver ("overlay", "vfs"); default: the
// configured one.
func WithDriver(driver string) Option { return func(o *options) { o.driver = driver } }

// WithDriverOptions adds driver options such as "overlay.mount_program=/usr/bin/fuse-overlayfs".
func WithDriverOptions(opts ...string) Option {
	return func(o *options) { o.driverOpts = append(o.driverOpts, opts...) }
}

// Reference is a parsed containers-storage reference.
type Reference struct {
	// Name is the normalized name given to the image, e.g.
	// "docker.io/library/app:latest" or "localhost/app:1".
	Name string
	// Driver, Root and RunRoot come from a "[driver@root+runroot]" prefix.
	Driver, Root, RunRoot string
}

// ParseReference parses "[driver@root+runroot]name[:tag]", with or without
// the "containers-storage:" prefix. Names are normalized as skopeo and podman
// do: "app" is "docker.io/library/app:latest".
func ParseReference(ref string) (Reference, error) {
	r, rest, err := parseStorePrefix(ref)
	if err != nil {
		return r, err
	}
	if rest == "" {
		return r, fmt.Errorf("containers-storage reference %q has no image name: write containers-storage:NAME[:TAG]", ref)
	}
	r.Name, err = parseName(ref, rest)
	return r, err
}

// parseStorePrefix splits off "containers-storage:" and "[driver@root+runroot]".
func parseStorePrefix(ref string) (Reference, string, error) {
	var r Reference
	s := strings.TrimPrefix(ref, Transport+":")
	if !strings.HasPrefix(s, "[") {
		return r, s, nil
	}
	end := strings.Index(s, "]")
	if end < 0 {
		return r, "", fmt.Errorf("containers-storage reference %q: unclosed [driver@root+runroot]", ref)
	}
	spec := s[1:end]
	if strings.Contains(spec, ":") {
		return r, "", fmt.Errorf("containers-storage reference %q: driver options in the reference are not supported; use the storage options instead", ref)
	}
	if d, rest, ok := strings.Cut(spec, "@"); ok {
		r.Driver, spec = d, rest
	}
	r.Root, r.RunRoot, _ = strings.Cut(spec, "+")
	for _, p := range []string{r.Root, r.RunRoot} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return r, "", fmt.Errorf("containers-storage reference %q: storage paths must be absolute", ref)
		}
	}
	return r, s[end+1:], nil
}

func parseName(ref, s string) (string, error) {
	if strings.Contains(s, "@") {
		return "", fmt.Errorf("containers-storage reference %q: write a name and tag, not a digest or image ID", ref)
	}
	n, err := normalizeName(s)
	if err != nil {
		return "", fmt.Errorf("containers-storage reference %q: %w", ref, err)
	}
	return n, nil
}

// normalizeName applies Docker's rules as containers/image does: a first
// component without "." or ":" that is not "localhost" is a Docker Hub
// namespace, and single names live under library/.
func normalizeName(s string) (string, error) {
	repo, tag := s, "latest"
	if c := strings.LastIndex(s, ":"); c > strings.LastIndex(s, "/") {
		repo, tag = s[:c], s[c+1:]
	}
	i := strings.Index(repo, "/")
	if i < 0 || (!strings.ContainsAny(repo[:i], ".:") && repo[:i] != "localhost" && strings.ToLower(repo[:i]) == repo[:i]) {
		if !strings.Contains(repo, "/") {
			repo = "library/" + repo
		}
		repo = "docker.io/" + repo
	}
	// go-containerregistry checks the characters (lower case, separators, tag syntax).
	if _, err := name.NewTag(repo+":"+tag, name.StrictValidation); err != nil {
		return "", err
	}
	return repo + ":" + tag, nil
}
