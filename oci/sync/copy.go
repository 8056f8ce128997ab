package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// maxConfigSize bounds the image config read to check its platform.
const maxConfigSize = 8 << 20

type runner struct {
	cfg   *Config
	o     options
	stats stats
	// blobs bounds concurrent blob copies across all images (--proc).
	blobs chan struct{}

	// base is the transport every client starts from (one connection pool).
	base http.RoundTripper

	mu      stdsync.Mutex
	clients map[string]*repoClient
	schemes map[string]bool // insecure registry -> reachable over HTTPS
	// subjects serialise referrer writes per destination subject.
	subjects map[string]*stdsync.Mutex
	// chunks says which blobs go in chunks (blob.go).
	chunks *remote.Chunking
}

func newRunner(cfg *Config, o options) *runner {
	base := o.transport
	if base == nil {
		base = remote.BaseTransport()
	}
	return &runner{
		base:     base,
		cfg:      cfg,
		o:        o,
		blobs:    make(chan struct{}, o.procs),
		clients:  map[string]*repoClient{},
		schemes:  map[string]bool{},
		subjects: map[string]*stdsync.Mutex{},
		chunks:   &remote.Chunking{Threshold: o.chunkThreshold, Size: o.chunkSize},
	}
}

// repoClient reads and writes one repository with the credentials the auth
// file gives it (or the side's defaults).
type repoClient struct {
	repo    name.Repository
	auth    Auth
	hasAuth bool
	// fromSide: the credentials came from the side's defaults (--src-creds ...).
	fromSide bool
	puller   *ggcr.Puller
	pusher   *ggcr.Pusher
	// opts made puller and pusher; listing referrers takes them.
	opts []ggcr.Option
	// ep reaches the repository's blobs as puller and pusher do, for
	// chunked uploads and ranged reads.
	ep remote.Endpoint
}

func (c *repoClient) ref(item string) name.Reference {
	if isDigest(item) {
		return c.repo.Digest(item)
	}
	return c.repo.Tag(item)
}

func (r *runner) client(ctx context.Context, u imageURL, sd side) (*repoClient, error) {
	repoKey := u.repository()
	key := sd.String() + " " + repoKey
	r.mu.Lock()
	c, ok := r.clients[key]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	a, found := r.cfg.AuthFor(repoKey)
	def := r.o.sides[sd]
	a.Insecure = a.Insecure || def.Insecure
	base := r.base
	var nopts []name.Option
	if a.Insecure {
		if r.httpsWorks(ctx, u.registry, base) {
			// Self-signed: keep HTTPS, skip verification.
			if t, ok := base.(*http.Transport); ok {
				base = remote.InsecureTLS(t)
			}
		} else {
			nopts = append(nopts, name.Insecure)
		}
	}
	repo, err := name.NewRepository(ggcrRegistry(u.registry)+"/"+u.repo, nopts...)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", repoKey, err)
	}
	auth, fromSide, err := r.authenticator(a, found, def, repo, sd)
	if err != nil {
		return nil, err
	}
	// Retries are ours (rounds, as image-syncer does), so go-containerregistry
	// must not retry on its own underneath.
	ropts := []ggcr.Option{
		ggcr.WithAuth(auth),
		ggcr.WithTransport(base),
		ggcr.WithRetryPredicate(func(error) bool { return false }),
		ggcr.WithRetryStatusCodes(),
		ggcr.WithRetryBackoff(ggcr.Backoff{Steps: 1}),
		ggcr.WithUserAgent("assemble-sync"),
		// Pullers limit concurrent blob reads to jobs; our own semaphore
		// is the real bound.
		ggcr.WithJobs(r.o.procs),
	}
	puller, err := ggcr.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	pusher, err := ggcr.NewPusher(ropts...)
	if err != nil {
		return nil, err
	}
	c = &repoClient{repo: repo, auth: a, hasAuth: found, fromSide: fromSide, puller: puller, pusher: pusher, opts: ropts,
		ep: remote.Endpoint{Auth: auth, Transport: base, UserAgent: "assemble-sync"}}
	r.mu.Lock()
	if old, ok := r.clients[key]; ok {
		c = old
	} else {
		r.clients[key] = c
	}
	r.mu.Unlock()
	return c, nil
}

// authenticator picks a repository's credentials: its auth entry's, else the
// side's keychain's (--src-creds, --authfile), else none.
func (r *runner) authenticator(a Auth, found bool, def SideDefaults, repo name.Repository, sd side) (authn.Authenticator, bool, error) {
	if found && (a.Username != "" || a.Password != "" || a.IdentityToken != "") {
		return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}), false, nil
	}
	if def.Keychain != nil {
		auth, err := def.Keychain.Resolve(repo)
		if err != nil {
			return nil, false, fmt.Errorf("%s credentials for %s: %w", sd, repo, err)
		}
		if auth != authn.Anonymous {
			return auth, true, nil
		}
	}
	if !found {
		r.o.logger.Debug("no auth entry matches; access is anonymous", "repository", repo.String(), "side", sd.String())
	}
	return authn.Anonymous, false, nil
}

// ggcrRegistry is the registry name go-containerregistry uses.
func ggcrRegistry(reg string) string {
	if reg == dockerHub {
		return name.DefaultRegistry
	}
	return reg
}

// httpsWorks probes an insecure registry once: image-syncer (containers/image)
// tries HTTPS without verification first and falls back to plain HTTP.
func (r *runner) httpsWorks(ctx context.Context, registry string, base http.RoundTripper) bool {
	r.mu.Lock()
	ok, known := r.schemes[registry]
	r.mu.Unlock()
	if known {
		return ok
	}
	rt := base
	if t, ok := base.(*http.Transport); ok {
		rt = remote.InsecureTLS(t)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, "https://"+ggcrRegistry(registry)+"/v2/", nil)
	ok = false
	if err == nil {
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
			ok = true
		}
	}
	r.mu.Lock()
	r.schemes[registry] = ok
	r.mu.Unlock()
	return ok
}

func (r *runner) listTags(ctx context.Context, src imageURL) ([]string, error) {
	c, err := r.client(ctx, src, sourceSide)
	if err != nil {
		return nil, err
	}
	tags, err := c.puller.List(ctx, c.repo)
	if err != nil {
		return nil, r.explain(err, "listing tags of", src.repository(), c)
	}
	// A referrers fallback tag is an index of its subject's artifacts: it
	// travels with the subject (or is left with --no-referrers), never as
	// an image of its own.
	tags = slices.DeleteFunc(tags, remote.IsReferrersTag)
	sort.Strings(tags)
	return tags, nil
}

// explain adds what to do to registry errors people can fix themselves.
func (r *runner) explain(err error, what, repo string, c *repoClient) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		hint := "no auth entry matches it, so access was anonymous: add credentials for it to the auth file"
		switch {
		case c.fromSide:
			hint = "check the credentials given on the command line (--src-creds, --dest-creds, --authfile)"
		case c.hasAuth:
			hint = fmt.Sprintf("check the credentials of auth entry %q at %s", c.auth.Key, c.auth.Pos)
		}
		return fmt.Errorf("%s %s: access denied (HTTP %d); %s: %w", what, repo, te.StatusCode, hint, err)
	}
	if errors.As(err, &te) {
		return fmt.Errorf("%s %s: HTTP %d: %w", what, repo, te.StatusCode, err)
	}
	return fmt.Errorf("%s %s: %w", what, repo, err)
}

// manifest is a manifest's bytes as read, which are also what is written.
type manifest struct {
	raw       []byte
	mediaType types.MediaType
	digest    v1.Hash
}

func (m manifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m manifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
func (m manifest) Digest() (v1.Hash, error)            { return m.digest, nil }
func (m manifest) Size() (int64, error)                { return int64(len(m.raw)), nil }

func newManifest(raw []byte, mt types.MediaType) (manifest, error) {
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	return manifest{raw: raw, mediaType: mt, digest: h}, err
}

func (r *runner) copyPair(ctx context.Context, p pair) ImageResult {
	fail := func(err error) ImageResult { return ImageResult{Status: StatusFailed, Err: err} }
	src, err := r.client(ctx, p.src, sourceSide)
	if err != nil {
		return fail(err)
	}
	dst, err := r.client(ctx, p.dst, destinationSide)
	if err != nil {
		return fail(err)
	}
	desc, err := src.puller.Get(ctx, src.ref(p.srcItem))
	if err != nil {
		return fail(r.explain(err, "reading source", p.srcString(), src))
	}
	m, err := newManifest(desc.Manifest, desc.MediaType)
	if err != nil {
		return fail(err)
	}
	m, reason, err := r.filterPlatforms(ctx, src, m)
	if err != nil {
		return fail(fmt.Errorf("reading source %s: %w", p.srcString(), err))
	}
	if reason != "" {
		return ImageResult{Status: StatusSkipped, Reason: reason}
	}
	if isDigest(p.dstItem) && p.dstItem != m.digest.String() {
		return fail(fmt.Errorf("destination %s names a digest, but the image to write has digest %s (the platform filter rewrote the index): give the destination a tag", p.dstString(), m.digest))
	}
	dstRef := dst.ref(p.dstItem)
	same := false
	if !r.o.force {
		same, err = r.exists(ctx, dst, dstRef, m.digest)
		if err != nil {
			return fail(r.explain(err, "checking destination", p.dstString(), dst))
		}
	}
	if !same {
		if err := r.copyManifest(ctx, src, dst, m, dstRef); err != nil {
			return fail(err)
		}
	}
	// Referrers are carried even when the image was already there: an
	// SBOM or signature may have been attached to it since the last run.
	nref, err := r.carryReferrers(ctx, src, dst, m, desc.Digest)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", p.srcString(), err))
	}
	res := ImageResult{Status: StatusCopied, Digest: m.digest.String(), Referrers: nref}
	if same {
		res.Status, res.Reason = StatusSkipped, "destination has the same manifest"
		if nref > 0 {
			res.Reason += fmt.Sprintf("; %d new referrer(s) copied", nref)
		}
	}
	return res
}

// exists reports whether ref at the destination is the manifest with digest want (one HEAD).
func (r *runner) exists(ctx context.Context, c *repoClient, ref name.Reference, want v1.Hash) (bool, error) {
	d, err := c.puller.Head(ctx, ref)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return false, nil
		}
		return false, err
	}
	return d.Digest == want, nil
}

// copyManifest copies m's blobs (or children) and then m itself to ref.
func (r *runner) copyManifest(ctx context.Context, src, dst *repoClient, m manifest, ref name.Reference) error {
	switch {
	case m.mediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(m.raw))
		if err != nil {
			return fmt.Errorf("parsing index %s: %w", m.digest, err)
		}
		g, gctx := errgroup.WithContext(ctx)
		for _, d := range idx.Manifests {
			g.Go(func() error {
				_, err := r.copyChild(gctx, src, dst, d)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	case m.mediaType.IsSchema1():
		var s1 struct {
			FSLayers []struct {
				BlobSum v1.Hash `json:"blobSum"`
			} `json:"fsLayers"`
		}
		if err := json.Unmarshal(m.raw, &s1); err != nil {
			return fmt.Errorf("parsing schema 1 manifest %s: %w", m.digest, err)
		}
		var blobs []v1.Descriptor
		seen := map[v1.Hash]bool{}
		for _, l := range s1.FSLayers {
			if seen[l.BlobSum] {
				continue
			}
			seen[l.BlobSum] = true
			// Schema 1 does not record sizes; the uploader needs them.
			sl, err := src.puller.Layer(ctx, src.repo.Digest(l.BlobSum.String()))
			if err != nil {
				return err
			}
			size, err := sl.Size()
			if err != nil {
				return r.explain(err, "reading size of blob "+l.BlobSum.String()+" in", src.repo.String(), src)
			}
			blobs = append(blobs, v1.Descriptor{Digest: l.BlobSum, Size: size, MediaType: types.DockerLayer})
		}
		if err := r.copyBlobs(ctx, src, dst, blobs); err != nil {
			return err
		}
	default:
		im, err := v1.ParseManifest(bytes.NewReader(m.raw))
		if err != nil {
			return fmt.Errorf("parsing manifest %s (%s): %w", m.digest, m.mediaType, err)
		}
		blobs := append([]v1.Descriptor{im.Config}, im.Layers...)
		if err := r.copyBlobs(ctx, src, dst, blobs); err != nil {
			return err
		}
	}
	// All blobs and children are there: now the manifest can be put.
	if err := dst.pusher.Put(ctx, ref, m); err != nil {
		return r.explain(err, "writing manifest to", ref.String(), dst)
	}
	return nil
}

// copyChild copies one manifest of an index (or a referrer), unless the
// destination has it; copied says whether it was written.
func (r *runner) copyChild(ctx context.Context, src, dst *repoClient, d v1.Descriptor) (copied bool, err error) {
	ref := dst.repo.Digest(d.Digest.String())
	if !r.o.force {
		same, err := r.exists(ctx, dst, ref, d.Digest)
		if err != nil {
			return false, r.explain(err, "checking destination", ref.String(), dst)
		}
		if same {
			return false, nil
		}
	}
	// A digest reference makes go-containerregistry verify the bytes.
	desc, err := src.puller.Get(ctx, src.repo.Digest(d.Digest.String()))
	if err != nil {
		return false, r.explain(err, "reading source", src.repo.Digest(d.Digest.String()).String(), src)
	}
	m := manifest{raw: desc.Manifest, mediaType: desc.MediaType, digest: d.Digest}
	if d.MediaType != "" && d.MediaType != desc.MediaType {
		m.mediaType = d.MediaType
	}
	return true, r.copyManifest(ctx, src, dst, m, ref)
}

// copyBlobs streams blobs the destination lacks, at most procs at a time
// over the whole run.
func (r *runner) copyBlobs(ctx context.Context, src, dst *repoClient, blobs []v1.Descriptor) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range blobs {
		g.Go(func() error {
			select {
			case r.blobs <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			defer func() { <-r.blobs }()
			if done, err := r.copyChunked(gctx, src, dst, d); done || err != nil {
				return err
			}
			b := &blob{ctx: gctx, d: d, src: src, stats: &r.stats}
			srcRef := src.repo.Digest(d.Digest.String())
			// A MountableLayer lets the destination mount the blob from the
			// source repository when both are on the same registry.
			err := dst.pusher.Upload(gctx, dst.repo, &ggcr.MountableLayer{Layer: b, Reference: srcRef})
			if err != nil {
				return r.explain(err, fmt.Sprintf("copying blob %s to", d.Digest), dst.repo.String(), dst)
			}
			if b.sent.Load() {
				r.stats.blobsCopied.Add(1)
			} else {
				r.stats.blobsReused.Add(1)
			}
			return nil
		})
	}
	return g.Wait()
}

// filterPlatforms applies --os/--arch. An index keeps only the matching
// manifests (and is rewritten if any were dropped); a single image is kept or
// skipped by its config's platform. reason is set when nothing is left.
func (r *runner) filterPlatforms(ctx context.Context, src *repoClient, m manifest) (manifest, string, error) {
	if len(r.o.osList) == 0 && len(r.o.archList) == 0 {
		return m, "", nil
	}
	const none = "no manifest fits the platform filters"
	switch {
	case m.mediaType.IsIndex():
		var top map[string]json.RawMessage
		if err := json.Unmarshal(m.raw, &top); err != nil {
			return m, "", fmt.Errorf("parsing index: %w", err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(top["manifests"], &items); err != nil {
			return m, "", fmt.Errorf("parsing index manifests: %w", err)
		}
		var kept []json.RawMessage
		for _, it := range items {
			var d v1.Descriptor
			if err := json.Unmarshal(it, &d); err != nil {
				return m, "", fmt.Errorf("parsing index entry: %w", err)
			}
			if r.platformMatches(d.Platform) {
				kept = append(kept, it)
			}
		}
		if len(kept) == 0 {
			return m, none, nil
		}
		if len(kept) == len(items) {
			return m, "", nil
		}
		list, err := json.Marshal(kept)
		if err != nil {
			return m, "", err
		}
		top["manifests"] = list
		// Marshalling a map sorts its keys, so the same filter always
		// gives the same bytes and digest, and a second run can skip.
		raw, err := json.Marshal(top)
		if err != nil {
			return m, "", err
		}
		nm, err := newManifest(raw, m.mediaType)
		return nm, "", err
	case m.mediaType == types.DockerManifestSchema2 || m.mediaType == types.OCIManifestSchema1:
		im, err := v1.ParseManifest(bytes.NewReader(m.raw))
		if err != nil {
			return m, "", fmt.Errorf("parsing manifest: %w", err)
		}
		if !im.Config.MediaType.IsConfig() {
			return m, "", nil // an artifact: it has no platform to filter on
		}
		l, err := src.puller.Layer(ctx, src.repo.Digest(im.Config.Digest.String()))
		if err != nil {
			return m, "", err
		}
		rc, err := l.Compressed()
		if err != nil {
			return m, "", fmt.Errorf("reading config %s: %w", im.Config.Digest, err)
		}
		defer rc.Close()
		cf, err := v1.ParseConfigFile(io.LimitReader(rc, maxConfigSize))
		if err != nil {
			return m, "", fmt.Errorf("parsing config %s: %w", im.Config.Digest, err)
		}
		p := cf.Platform()
		if !r.platformMatches(p) {
			return m, none, nil
		}
	}
	return m, "", nil
}

// platformMatches follows image-syncer: each filter is "value" or
// "value:second" (os:osversion, arch:variant).
func (r *runner) platformMatches(p *v1.Platform) bool {
	if p == nil {
		p = &v1.Platform{}
	}
	return anyColonMatch(r.o.osList, p.OS, p.OSVersion) && anyColonMatch(r.o.archList, p.Architecture, p.Variant)
}

func anyColonMatch(filters []string, first, second string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		a, b, hasB := strings.Cut(f, ":")
		if a == first && (!hasB || b == second) {
			return true
		}
	}
	return false
}

// blob is a source blob seen as a v1.Layer, so go-containerregistry's
// uploader can check, mount or stream it. It is read from the source only
// when the destination lacks it.
type blob struct {
	ctx   context.Context
	d     v1.Descriptor
	src   *repoClient
	stats *stats
	sent  atomic.Bool
}

func (b *blob) Digest() (v1.Hash, error) { return b.d.Digest, nil }
func (b *blob) DiffID() (v1.Hash, error) {
	return v1.Hash{}, errors.New("a copied blob's diffID is not computed")
}
func (b *blob) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("a copied blob is not decompressed")
}
func (b *blob) Size() (int64, error)                { return b.d.Size, nil }
func (b *blob) MediaType() (types.MediaType, error) { return b.d.MediaType, nil }

func (b *blob) Compressed() (io.ReadCloser, error) {
	l, err := b.src.puller.Layer(b.ctx, b.src.repo.Digest(b.d.Digest.String()))
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("reading blob %s from %s: %w", b.d.Digest, b.src.repo, err)
	}
	b.sent.Store(true)
	return &countingReader{rc: rc, n: &b.stats.bytes}, nil
}

type countingReader struct {
	rc io.ReadCloser
	n  interface{ Add(int64) int64 }
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }
