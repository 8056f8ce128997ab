package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/iocount"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
)

// DefaultMirror is the Debian archive used when a Source names none.
const DefaultMirror = "http://deb.debian.org/debian"

// DefaultSuite is the suite used when a Source names none.
const DefaultSuite = "bookworm"

// Source is where packages come from: a Debian archive (Mirror, Suites,
// Components) or, when LocalDir is set, a directory of .deb files, which is
// used instead of the mirror and never touches the network (air-gapped
// builds). A local directory is trusted as it is: it has no signature.
type Source struct {
	// Mirror is the archive's base URL (http, https or file), e.g.
	// "http://deb.debian.org/debian". Default DefaultMirror.
	Mirror string
	// Suites are suite or codename names ("bookworm", "bookworm-updates").
	// Default [DefaultSuite].
	Suites []string
	// Components default to ["main"].
	Components []string
	// Arch is the Debian architecture ("amd64", "arm64"). Default "amd64".
	Arch string
	// LocalDir is a directory of .deb files (searched recursively).
	LocalDir string
	// Keyring is an OpenPGP keyring file the archive's Release must be
	// signed with. Default: the client's keyring.
	Keyring string
}

func (s Source) withDefaults() Source {
	if s.Mirror == "" {
		s.Mirror = DefaultMirror
	}
	if len(s.Suites) == 0 {
		s.Suites = []string{DefaultSuite}
	}
	if len(s.Components) == 0 {
		s.Components = []string{"main"}
	}
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	s.Mirror = strings.TrimRight(s.Mirror, "/")
	return s
}

// String describes the source for messages.
func (s Source) String() string {
	s = s.withDefaults()
	if s.LocalDir != "" {
		return fmt.Sprintf("local directory %s (%s)", s.LocalDir, s.Arch)
	}
	return fmt.Sprintf("%s %s %s (%s)", s.Mirror, strings.Join(s.Suites, ","), strings.Join(s.Components, ","), s.Arch)
}

// DebianArch maps an OCI/Go architecture name (optionally "os/arch[/variant]")
// to Debian's name for it.
func DebianArch(platform string) (string, error) {
	p := platform
	if i := strings.IndexByte(p, '/'); i >= 0 && strings.HasPrefix(p, "linux/") {
		p = p[i+1:]
	}
	switch p {
	case "amd64", "x86_64":
		return "amd64", nil
	case "arm64", "arm64/v8", "aarch64":
		return "arm64", nil
	case "arm/v7", "armhf":
		return "armhf", nil
	case "arm/v5", "arm/v6", "armel":
		return "armel", nil
	case "386", "i386":
		return "i386", nil
	case "ppc64le", "ppc64el":
		return "ppc64el", nil
	case "s390x":
		return "s390x", nil
	case "riscv64":
		return "riscv64", nil
	case "mips64le", "mips64el":
		return "mips64el", nil
	}
	return "", fmt.Errorf("platform %q has no Debian architecture (want e.g. linux/amd64 or linux/arm64)", platform)
}

// Client reads Debian archives through the cache's download store.
type Client struct {
	cache    *layers.Cache
	http     *http.Client
	offline  bool
	keyring  string
	parallel int
	// workers and unpackMem: see WithUnpackWorkers and WithUnpackMemory.
	workers   int
	unpackMem int64

	metaMu sync.Mutex
	meta   map[string]*debMeta // by .deb sha256, within this process

	// stageDir, when set, replaces the cache's tmp for staging (tmpDir).
	stageDir string

	// log is for what has no context to log to (the resolution cache).
	log *slog.Logger

	// license reads a copyright file's license (see WithLicenseReader).
	license func([]byte) string
}

// Option configures a Client.
type Option func(*Client)

// WithOffline makes the client use only the cache and local directories; it
// never touches the network and fails naming everything that is missing.
func WithOffline(offline bool) Option { return func(c *Client) { c.offline = offline } }

// WithLogger sets where the client logs what no context carries a logger
// for (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithHTTPClient sets the HTTP client (default: remote.DefaultHTTPClient(), with
// proxies from the environment, timeouts and retries).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithKeyring sets the OpenPGP keyring archives are verified with, for
// sources that name none. Default: SystemKeyring, else a built-in copy.
func WithKeyring(path string) Option { return func(c *Client) { c.keyring = path } }

// WithParallelDownloads sets how many .deb files are fetched at once (default 4).
func WithParallelDownloads(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.parallel = n
		}
	}
}

// WithUnpackWorkers sets how many packages a layer's Entries unpacks at
// once (default runtime.GOMAXPROCS(0)). The entries do not depend on it.
func WithUnpackWorkers(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.workers = n
		}
	}
}

// DefaultUnpackMemory is how many bytes of small files (up to 64 KiB each)
// a layer's Entries keeps in memory by default, rather than in staging
// files in the cache's tmp directory.
const DefaultUnpackMemory = 256 << 20

// WithUnpackMemory sets how many bytes of small files a layer's Entries
// keeps in memory until they are written (default DefaultUnpackMemory; 0
// stages every file on disk). The entries do not depend on it.
func WithUnpackMemory(n int64) Option {
	return func(c *Client) {
		if n >= 0 {
			c.unpackMem = n
		}
	}
}

// New returns a client that keeps indexes and .deb files in cache.
func New(cache *layers.Cache, opts ...Option) *Client {
	c := &Client{cache: cache, http: remote.DefaultHTTPClient(), parallel: 4, unpackMem: DefaultUnpackMemory, meta: map[string]*debMeta{}}
	for _, o := range opts {
		o(c)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// errNotFound is a 404 (or a missing file:// path).
var errNotFound = errors.New("not found")

// get writes the content at rawURL (http, https or file) to w.
func (c *Client) get(ctx context.Context, rawURL string, w io.Writer) error {
	if c.offline {
		return fmt.Errorf("%s: offline: %w", rawURL, layers.ErrNotCached)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", rawURL, errNotFound)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", rawURL, err)
		}
		defer f.Close()
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("reading %s: %w", rawURL, err)
		}
		return nil
	case "http", "https":
	default:
		return fmt.Errorf("unsupported URL scheme in %q (want http, https or file)", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	logctx.From(ctx).Debug("deb: fetching", "url", rawURL)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return fmt.Errorf("fetching %s: %s: %w", rawURL, resp.Status, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", rawURL, resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("fetching %s: got %d of %d bytes", rawURL, n, resp.ContentLength)
	}
	return nil
}

// download returns the cached path of content with the given sha256 hex,
// fetching it from one of urls (tried in order) when it is not cached.
func (c *Client) download(ctx context.Context, sha256hex string, urls ...string) (string, error) {
	want := "sha256:" + sha256hex
	var fetch func(context.Context, io.Writer) error
	if !c.offline {
		fetch = func(ctx context.Context, w io.Writer) error {
			// Write through a counter so a failed first URL that already
			// wrote bytes is not retried into the same stream.
			var lastErr error
			for i, u := range urls {
				cw := &iocount.Writer{W: w}
				err := c.get(ctx, u, cw)
				if err == nil {
					return nil
				}
				lastErr = err
				if cw.N > 0 || !errors.Is(err, errNotFound) || i == len(urls)-1 {
					return err
				}
			}
			return lastErr
		}
	}
	p, _, err := c.cache.Download(ctx, want, fetch)
	if err != nil {
		if errors.Is(err, layers.ErrNotCached) {
			return "", &missingError{what: urls[len(urls)-1], digest: want}
		}
		return "", err
	}
	return p, nil
}

// missingError is something an offline build needs but the cache lacks.
type missingError struct {
	what   string
	digest string
}

func (e *missingError) Error() string {
	if e.digest != "" {
		return fmt.Sprintf("not in the cache (offline): %s (%s)", e.what, e.digest)
	}
	return fmt.Sprintf("not in the cache (offline): %s", e.what)
}

func (e *missingError) Unwrap() error { return layers.ErrNotCached }

// release is a verified Release file.
type release struct {
	url        string // dists/SUITE/ URL
	suite      string
	byHash     bool
	notAuto    bool // NotAutomatic: yes (backports, experimental)
	archs      map[string]bool
	components map[string]bool
	sha256     map[string]releaseFile
	digest     string // sha256 hex of the verified text
}

type releaseFile struct {
	hex  string
	size int64
}

// fetchRelease fetches (or, offline, finds in the cache) and verifies a
// suite's InRelease, or Release + Release.gpg.
func (c *Client) fetchRelease(ctx context.Context, src Source, suite string, keys *keyring) (*release, error) {
	dists := src.Mirror + "/dists/" + suite + "/"
	inURL := dists + "InRelease"
	var text []byte

	readVerified := func(p string) ([]byte, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading cached %s: %w", inURL, err)
		}
		t, err := verifyInRelease(b, keys)
		if err != nil {
			return nil, fmt.Errorf("%s: signature check against %s failed: %w", inURL, keys.name, err)
		}
		return t, nil
	}

	if c.offline {
		if d, ok := c.cache.Ref(inURL); ok {
			t, err := readVerified(c.downloadPathOf(d))
			if err != nil {
				return nil, err
			}
			text = t
		} else {
			rd, ok1 := c.cache.Ref(dists + "Release")
			gd, ok2 := c.cache.Ref(dists + "Release.gpg")
			if !ok1 || !ok2 {
				return nil, &missingError{what: inURL}
			}
			t, err := c.readDetached(dists, c.downloadPathOf(rd), c.downloadPathOf(gd), keys)
			if err != nil {
				return nil, err
			}
			text = t
		}
	} else {
		p, d, err := c.cache.Download(ctx, "", func(ctx context.Context, w io.Writer) error { return c.get(ctx, inURL, w) })
		switch {
		case err == nil:
			t, verr := readVerified(p)
			if verr != nil {
				os.Remove(p) // never keep what failed verification
				return nil, verr
			}
			text = t
			if err := c.cache.SetRef(inURL, d); err != nil {
				return nil, err
			}
		case errors.Is(err, errNotFound):
			rp, rd, err := c.cache.Download(ctx, "", func(ctx context.Context, w io.Writer) error { return c.get(ctx, dists+"Release", w) })
			if err != nil {
				return nil, err
			}
			gp, gd, err := c.cache.Download(ctx, "", func(ctx context.Context, w io.Writer) error { return c.get(ctx, dists+"Release.gpg", w) })
			if err != nil {
				return nil, err
			}
			t, err := c.readDetached(dists, rp, gp, keys)
			if err != nil {
				os.Remove(rp)
				os.Remove(gp)
				return nil, err
			}
			text = t
			if err := c.cache.SetRef(dists+"Release", rd); err != nil {
				return nil, err
			}
			if err := c.cache.SetRef(dists+"Release.gpg", gd); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	rel, err := parseRelease(text, dists, suite)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(text)
	rel.digest = hex.EncodeToString(sum[:])
	return rel, nil
}

func (c *Client) readDetached(dists, relPath, sigPath string, keys *keyring) ([]byte, error) {
	rel, err := os.ReadFile(relPath)
	if err != nil {
		return nil, fmt.Errorf("reading cached %sRelease: %w", dists, err)
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, fmt.Errorf("reading cached %sRelease.gpg: %w", dists, err)
	}
	if err := verifyDetached(rel, sig, keys); err != nil {
		return nil, fmt.Errorf("%sRelease: signature check against %s failed: %w", dists, keys.name, err)
	}
	return rel, nil
}

func (c *Client) downloadPathOf(digest string) string { return c.cache.DownloadPath(digest) }

func parseRelease(text []byte, dists, suite string) (*release, error) {
	var p *paragraph
	err := readParagraphs(bytes.NewReader(text), dists+"InRelease", func(q *paragraph) error {
		if p == nil {
			p = q
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%sInRelease is empty", dists)
	}
	r := &release{url: dists, suite: suite, archs: map[string]bool{}, components: map[string]bool{}, sha256: map[string]releaseFile{}}
	// A signed Release for another suite must not be accepted in its place.
	if p.get("Suite") != suite && p.get("Codename") != suite {
		return nil, fmt.Errorf("%sInRelease is for suite %q (codename %q), not %q", dists, p.get("Suite"), p.get("Codename"), suite)
	}
	r.byHash = strings.EqualFold(p.get("Acquire-By-Hash"), "yes")
	r.notAuto = strings.EqualFold(p.get("NotAutomatic"), "yes")
	for _, a := range strings.Fields(p.get("Architectures")) {
		r.archs[a] = true
	}
	for _, comp := range strings.Fields(p.get("Components")) {
		r.components[comp] = true
	}
	for _, line := range strings.Split(p.get("SHA256"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || len(f[0]) != 64 {
			return nil, fmt.Errorf("%sInRelease: bad SHA256 line %q", dists, line)
		}
		r.sha256[f[2]] = releaseFile{hex: strings.ToLower(f[0]), size: size}
	}
	if len(r.sha256) == 0 {
		return nil, fmt.Errorf("%sInRelease has no SHA256 file list", dists)
	}
	return r, nil
}

// Index returns the verified package universe of the sources for one
// architecture (all sources must name the same Arch). Every Release is
// fetched and verified (offline: the cached one), and every Packages index
// must be in the cache or is fetched and checked against its signed
// Release now; the indexes are parsed only when a resolution is not in the
// cache (see Index.Resolve). A local directory is read at once.
func (c *Client) Index(ctx context.Context, srcs ...Source) (*Index, error) {
	if len(srcs) == 0 {
		srcs = []Source{{}}
	}
	arch := srcs[0].withDefaults().Arch
	ix := &Index{Arch: arch, c: c}
	key := newKeyHash(indexFormat)
	key.line("arch", arch)
	var errs []error
	for _, src := range srcs {
		src = src.withDefaults()
		if src.Arch != arch {
			return nil, fmt.Errorf("sources disagree on the architecture (%s and %s)", arch, src.Arch)
		}
		ix.sources = append(ix.sources, src.String())
		if src.LocalDir != "" {
			dir, pkgs, err := c.scanLocal(ctx, src, arch)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ix.parts = append(ix.parts, indexPart{local: pkgs})
			key.line("local", dir)
			for _, p := range pkgs {
				key.line("deb", p.Filename, p.SHA256, strconv.FormatInt(p.Size, 10))
			}
			continue
		}
		keyPath := src.Keyring
		if keyPath == "" {
			keyPath = c.keyring
		}
		keys, err := loadKeyring(keyPath)
		if err != nil {
			return nil, err
		}
		key.line("mirror", src.Mirror)
		for _, suite := range src.Suites {
			rel, err := c.fetchRelease(ctx, src, suite, keys)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			key.line("release", suite, rel.digest)
			if !rel.archs[arch] {
				errs = append(errs, fmt.Errorf("%s: suite %s has no architecture %s", src.Mirror, suite, arch))
				continue
			}
			for _, comp := range src.Components {
				if len(rel.components) > 0 && !rel.components[comp] {
					errs = append(errs, fmt.Errorf("%s: suite %s has no component %s", src.Mirror, suite, comp))
					continue
				}
				pf, err := c.preparePackages(ctx, src, rel, comp)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				key.line("component", suite, comp)
				ix.parts = append(ix.parts, indexPart{file: pf})
			}
		}
	}
	if err := joinMissing(errs); err != nil {
		return nil, err
	}
	ix.key = key.sum()
	return ix, nil
}

// joinMissing joins errors; when some are missing-from-cache errors it lists
// them together so an offline build names everything it lacks at once.
func joinMissing(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var missing []string
	var other []error
	for _, e := range errs {
		var m *missingError
		if errors.As(e, &m) {
			missing = append(missing, m.Error())
			continue
		}
		other = append(other, e)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		other = append(other, fmt.Errorf("offline build: %d input(s) missing from the cache (run once online with the same sources to fill it, or add them to a local directory):\n  %s: %w",
			len(missing), strings.Join(missing, "\n  "), layers.ErrNotCached))
	}
	return errors.Join(other...)
}
