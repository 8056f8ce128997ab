// Package source opens the base images that assemble stacks layers on:
// registry images, OCI layouts and archives, docker archives and scratch.
// Transports are named as skopeo names them.
package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Base is where an image's bottom layers come from.
type Base interface {
	// Image returns the base for one platform. Registry bases are lazy: no blob is
	// downloaded unless a caller reads it (ggcr remote.Image), so a push to the same
	// registry can HEAD/mount instead.
	Image(ctx context.Context, platform v1.Platform) (v1.Image, error)
	// Index returns the whole base as an index when it is one (nil, nil otherwise).
	Index(ctx context.Context) (v1.ImageIndex, error)
	String() string
}

// Named is a base that says what its image is called (repository:tag, as
// skopeo and podman name it), for a copy whose destination names none:
// the reference a registry base was given, the name an OCI layout or a
// docker archive keeps, else one made from the file's name under
// localhost/ (never the transport string).
type Named interface {
	ImageName() string
}

// Forms lists the accepted base references, for error messages.
const Forms = "scratch, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker://REF"

type config struct {
	remote  *remote.Registries
	store   Store
	offline bool
}

// Option configures Parse.
type Option func(*config)

// WithRemote shares one remote.Registries (credentials, insecure hosts,
// transport, retries) between several Parse calls and sinks.
func WithRemote(r *remote.Registries) Option { return func(c *config) { c.remote = r } }

// WithStore keeps the registry bases in the cache's download store, so that
// `assemble bundle` carries them and a build from a bundle finds them:
// online, every manifest or index is stored as the registry served it, with
// the config and layer blobs of the images used, and its reference is
// recorded as a name ("docker://" and the full reference) for the digest
// it resolved to; offline, the reference is resolved from that name, every
// blob read from the store and verified by digest, never the network.
// The base keeps its name either way, so annotations and digests match.
func WithStore(s Store, offline bool) Option {
	return func(c *config) { c.store, c.offline = s, offline }
}

// Parse reads a base reference: scratch, oci:DIR[:TAG], oci-archive:FILE[:TAG],
// docker-archive:FILE[:REF] or docker://REF. It checks the form only; files
// and registries are read by Image and Index.
func Parse(ref string, opts ...Option) (Base, error) {
	c := &config{remote: &remote.Registries{}}
	for _, o := range opts {
		o(c)
	}
	bad := func(why string) error {
		return fmt.Errorf("invalid base %q: %s; accepted forms: %s", ref, why, Forms)
	}
	transport, rest, ok := strings.Cut(ref, ":")
	if ref == "scratch" {
		return scratch{}, nil
	}
	if !ok {
		hint := "no transport"
		if strings.Contains(ref, "/") || ref != "" {
			hint += fmt.Sprintf(" (for a registry image write docker://%s)", ref)
		}
		return nil, bad(hint)
	}
	switch transport {
	case "oci", "oci-archive", "docker-archive":
		path, tag, _ := strings.Cut(rest, ":")
		if path == "" {
			return nil, bad("missing path")
		}
		switch transport {
		case "oci", "oci-archive":
			b := &layoutBase{spec: ref, tag: tag, path: path, store: dirStore(path)}
			if transport == "oci-archive" {
				b.store = &tarStore{path: path}
			}
			// NAME@sha256:... (as --image-refs writes it) pins the digest.
			if n, d, ok := strings.Cut(tag, "@"); ok {
				h, err := v1.NewHash(d)
				if err != nil {
					return nil, bad(fmt.Sprintf("%q: %v", d, err))
				}
				b.tag, b.digest = n, &h
			}
			return b, nil
		default:
			return newDockerArchive(ref, path, tag)
		}
	case "docker":
		r, ok := strings.CutPrefix(rest, "//")
		if !ok || r == "" {
			return nil, bad("docker transport needs docker://REF")
		}
		parsed, err := c.remote.Reference(r)
		if err != nil {
			return nil, bad(err.Error())
		}
		return &registryBase{spec: ref, ref: parsed, remote: c.remote, store: c.store, offline: c.offline}, nil
	case "containers-storage", "deb":
		return nil, bad(fmt.Sprintf("transport %q is not read by this package", transport))
	default:
		why := fmt.Sprintf("unknown transport %q", transport)
		if _, err := name.ParseReference(ref); err == nil {
			why += fmt.Sprintf(" (for a registry image write docker://%s)", ref)
		}
		return nil, bad(why)
	}
}

var archAliases = map[string]string{"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm", "i386": "386"}

func normArch(a string) string {
	if n, ok := archAliases[a]; ok {
		return n
	}
	return a
}

var defaultVariant = map[string]string{"arm64": "v8", "arm": "v7"}

// platformScore says how well have serves want: 0 no match, 1 variant
// unknown on one side, 2 exact.
func platformScore(want, have v1.Platform) int {
	if want.OS != have.OS || normArch(want.Architecture) != normArch(have.Architecture) {
		return 0
	}
	wv, hv := want.Variant, have.Variant
	arch := normArch(want.Architecture)
	if wv == hv {
		return 2
	}
	if wv == "" {
		if hv == defaultVariant[arch] {
			return 2
		}
		return 1
	}
	if hv == "" {
		if wv == defaultVariant[arch] {
			return 2
		}
		return 0
	}
	return 0
}

// pickManifest chooses the best descriptor of an index for want, or returns
// an error listing the platforms the base has.
func pickManifest(base string, want v1.Platform, m *v1.IndexManifest) (v1.Descriptor, error) {
	best, bestScore := -1, 0
	var have []string
	for i, d := range m.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		have = append(have, d.Platform.String())
		if s := platformScore(want, *d.Platform); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return v1.Descriptor{}, noPlatform(base, want, have)
	}
	return m.Manifests[best], nil
}

func noPlatform(base string, want v1.Platform, have []string) error {
	sort.Strings(have)
	list := strings.Join(have, ", ")
	if list == "" {
		list = "none declared"
	}
	return fmt.Errorf("base %s has no image for platform %s; it has: %s (choose one with --platform)", base, want.String(), list)
}

// checkImagePlatform verifies a single-platform image against want.
func checkImagePlatform(base string, want v1.Platform, img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading config of %s: %w", base, err)
	}
	have := cf.Platform()
	if have == nil || have.OS == "" || have.Architecture == "" {
		// Nothing declared; trust the caller.
		return nil
	}
	if platformScore(want, *have) == 0 {
		return noPlatform(base, want, []string{have.String()})
	}
	return nil
}
