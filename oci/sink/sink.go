// Package sink writes finished images: to OCI layout directories and
// archives, docker archives, and registries. Every sink is atomic from the
// reader's side: files are written to temporary names and renamed, an OCI
// layout's index.json is replaced last, and a registry manifest is put only
// after all its blobs.
package sink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Item is one image or index to write.
type Item struct {
	Name  string // the image's reference: "app:1.0" or "registry.example/ns/app:1.0"
	Image v1.Image
	Index v1.ImageIndex // exactly one of Image and Index is set
	// Referrers are artifacts whose manifest names a manifest of this item
	// as its subject (SBOMs, provenance). They are written beside it: in a
	// layout as untagged manifests of index.json, in a registry by digest
	// (the registry, or the sha256-HEX fallback tag, lists them).
	Referrers []v1.Image
}

// Result says what was written for one item.
type Result struct {
	Sink      string  // the sink's String()
	Ref       string  // the reference written (layout ref.name, archive tag, registry ref)
	Digest    v1.Hash // manifest or index digest
	MediaType types.MediaType
	// Transport is what makes Ref a reference a source reads, as a prefix:
	// "oci:DIR:", "oci-archive:FILE:", "docker-archive:FILE:",
	// "containers-storage:"; empty for a registry, whose Ref is one already.
	Transport string
}

// Pinned is the reference written, with its transport and digest, for a
// next step to use as it is: "oci:DIR:app:1.0@sha256:...",
// "registry.example/ns/app:1.0@sha256:...".
func (r Result) Pinned() string {
	return r.Transport + r.Ref + "@" + r.Digest.String()
}

// Sink is a destination for images.
type Sink interface {
	Write(ctx context.Context, items []Item) ([]Result, error)
	String() string
}

// Progress receives per-blob progress; the CLI implements it.
type Progress interface {
	// Blob starts tracking one blob of total bytes.
	Blob(label string, total int64) Tracker
}

// Tracker follows one blob. Add reports newly transferred bytes (never
// negative; a restarted upload does not count twice). A blob that needed no
// transfer (already present, mounted) gets one Add(total). Done is called
// once, with the blob's final error.
type Tracker interface {
	Add(n int64)
	Done(err error)
}

// Forms lists the accepted sink specs, for error messages.
const Forms = "oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], docker://REF"

type config struct {
	remote   *remote.Registries
	progress Progress
	// Layers of at least chunkThreshold bytes go to registries in chunks
	// of chunkSize (0: the defaults; a negative threshold: never).
	chunkThreshold, chunkSize int64
	// source reads registry layers from an offset when a chunked upload
	// resumes (nil: remote).
	source *remote.Registries
}

// Option configures a sink.
type Option func(*config)

// WithRemote shares one remote.Registries (credentials, transport, retries,
// jobs) with sources and other sinks. Options after it modify that value.
func WithRemote(r *remote.Registries) Option { return func(c *config) { c.remote = r } }

// WithKeychain sets where registry credentials come from (default: remote.DefaultKeychain()).
func WithKeychain(k authn.Keychain) Option { return func(c *config) { c.remote.Keychain = k } }

// WithInsecureRegistries lets these hosts be reached over plain HTTP or
// TLS with an unverified certificate.
func WithInsecureRegistries(hosts ...string) Option {
	return func(c *config) { c.remote.Insecure = append(c.remote.Insecure, hosts...) }
}

// WithTransport replaces the HTTP transport (tests).
func WithTransport(rt http.RoundTripper) Option { return func(c *config) { c.remote.Transport = rt } }

// WithJobs bounds concurrent blob transfers (default 4).
func WithJobs(n int) Option { return func(c *config) { c.remote.Jobs = n } }

// WithRetry sets how registry requests are retried on 408/429/5xx: attempts
// per request, the first backoff, and the cap on any wait, Retry-After
// included. Zero values keep the defaults (5, 1s, 1m).
func WithRetry(attempts int, initial, maxWait time.Duration) Option {
	return func(c *config) {
		c.remote.Retry = remote.Retry{Attempts: attempts, Initial: initial, Max: maxWait}
	}
}

// WithProgress reports per-blob progress.
func WithProgress(p Progress) Option { return func(c *config) { c.progress = p } }

func newConfig(opts []Option) *config {
	c := &config{remote: &remote.Registries{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Parse takes an -o value: oci:DIR[:REF], oci-archive:FILE[:REF],
// docker-archive:FILE[:REF] or docker://REF. With an explicit REF the sink
// takes exactly one item.
func Parse(spec string, opts ...Option) (Sink, error) {
	c := newConfig(opts)
	bad := func(why string) error {
		return fmt.Errorf("invalid output %q: %s; accepted forms: %s", spec, why, Forms)
	}
	transport, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, bad("no transport")
	}
	switch transport {
	case "oci", "oci-archive", "docker-archive":
		path, ref, _ := strings.Cut(rest, ":")
		if path == "" {
			return nil, bad("missing path")
		}
		if strings.HasSuffix(rest, ":") && ref == "" {
			return nil, bad("empty REF after the path")
		}
		if ref != "" {
			if err := checkRefName(ref); err != nil {
				return nil, bad(err.Error())
			}
		}
		switch transport {
		case "oci":
			return &layoutSink{spec: spec, dir: path, ref: ref, cfg: c}, nil
		case "oci-archive":
			return &ociArchiveSink{spec: spec, file: path, ref: ref, cfg: c}, nil
		default:
			if ref != "" {
				if _, err := dockerTag(ref); err != nil {
					return nil, bad(err.Error())
				}
			}
			return &dockerArchiveSink{spec: spec, file: path, ref: ref, cfg: c}, nil
		}
	case "docker":
		r, ok := strings.CutPrefix(rest, "//")
		if !ok || r == "" {
			return nil, bad("the docker transport needs docker://REF")
		}
		ref, err := c.remote.Reference(r)
		if err != nil {
			return nil, bad(err.Error())
		}
		return newRegistrySink(spec, ref, c), nil
	case "containers-storage":
		return nil, bad("containers-storage is not written by this package")
	default:
		return nil, bad(fmt.Sprintf("unknown transport %q", transport))
	}
}

// Registry pushes each item to its own Name (for `assemble build --push`).
func Registry(opts ...Option) Sink {
	return newRegistrySink("registry", nil, newConfig(opts))
}

func checkRefName(ref string) error {
	if ref == "" {
		return errors.New("empty reference")
	}
	for _, r := range ref {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("reference %q contains whitespace or control characters", ref)
		}
	}
	return nil
}

// oneImage collapses items that are the same image (one image under several
// tags) when the output names its own REF: that REF gets the image once.
func oneImage(fixedRef string, items []Item) []Item {
	if fixedRef == "" || len(items) < 2 {
		return items
	}
	for _, it := range items[1:] {
		if it.Image != items[0].Image || it.Index != items[0].Index {
			return items
		}
	}
	return items[:1]
}

// checkItems validates the items and the single-REF rule.
func checkItems(spec, fixedRef string, items []Item) error {
	if fixedRef != "" && len(items) != 1 {
		return fmt.Errorf("%s names one image but %d were given: drop the :REF part to write each under its own name", spec, len(items))
	}
	seen := map[string]bool{}
	for i, it := range items {
		if (it.Image == nil) == (it.Index == nil) {
			return fmt.Errorf("%s: item %d (%q) must have exactly one of Image and Index", spec, i, it.Name)
		}
		name := it.Name
		if fixedRef != "" {
			name = fixedRef
		}
		if name == "" {
			return fmt.Errorf("%s: item %d has no name: give it one, or name the output %s:REF", spec, i, spec)
		}
		if err := checkRefName(name); err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
		if seen[name] {
			return fmt.Errorf("%s: two items are both named %q", spec, name)
		}
		seen[name] = true
	}
	return nil
}

// refFor returns the name an item is written under.
func refFor(fixedRef string, it Item) string {
	if fixedRef != "" {
		return fixedRef
	}
	return it.Name
}

func (c *config) tracker(label string, total int64) Tracker {
	if c.progress == nil {
		return nopTracker{}
	}
	return c.progress.Blob(label, total)
}

type nopTracker struct{}

func (nopTracker) Add(int64)  {}
func (nopTracker) Done(error) {}

func shortDigest(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}
