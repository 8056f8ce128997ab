package conda

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
)

// DefaultChannelAlias is where channel names point, as conda's
// channel_alias: "conda-forge" is DefaultChannelAlias + "/conda-forge".
const DefaultChannelAlias = "https://conda.anaconda.org"

// DefaultChannels are repo2docker's channels when environment.yml names none.
var DefaultChannels = []string{"conda-forge"}

// Channel is one channel: the name it was given by and its canonical URL
// (without a subdir or trailing slash).
type Channel struct {
	Name string
	URL  string
}

// ParseChannel turns a channel as environment.yml writes it (a name, a
// URL, an absolute path) into a Channel; names go through alias.
func ParseChannel(s, alias string) (Channel, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if alias == "" {
		alias = DefaultChannelAlias
	}
	switch {
	case s == "":
		return Channel{}, fmt.Errorf("empty channel")
	case s == "defaults":
		return Channel{}, fmt.Errorf("channel \"defaults\" (Anaconda's repository, under its terms of service) is not used: name conda-forge, or the channel's URL")
	case strings.HasPrefix(s, "/"):
		return Channel{Name: s, URL: "file://" + filepath.ToSlash(filepath.Clean(s))}, nil
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil {
			return Channel{}, fmt.Errorf("channel %q: %w", s, err)
		}
		switch u.Scheme {
		case "http", "https", "file":
		default:
			return Channel{}, fmt.Errorf("channel %q: scheme %q is not supported (https, http or file)", s, u.Scheme)
		}
		return Channel{Name: s, URL: s}, nil
	}
	if strings.HasPrefix(s, ".") {
		return Channel{}, fmt.Errorf("channel %q: a relative path; give the channel's URL (file:///abs/path for a directory)", s)
	}
	if strings.ContainsAny(s, " :\\") {
		return Channel{}, fmt.Errorf("channel %q: not a channel name or URL", s)
	}
	return Channel{Name: s, URL: strings.TrimRight(alias, "/") + "/" + s}, nil
}

// Matches reports whether a MatchSpec's channel ("conda-forge", a URL)
// names c.
func (c Channel) Matches(spec string) bool {
	spec = strings.TrimRight(spec, "/")
	return spec == c.Name || spec == c.URL || strings.HasSuffix(c.URL, "/"+spec)
}

// Client fetches repodata.json through the download store.
type Client struct {
	cache   *layers.Cache
	http    *http.Client
	offline bool
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithOffline reads repodata only from the download store.
func WithOffline(offline bool) ClientOption { return func(c *Client) { c.offline = offline } }

// WithIndexHTTPClient sets the HTTP client repodata is fetched with
// (default: the project's shared client, with retries and proxies).
func WithIndexHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// NewClient returns a channel client over the cache's download store.
func NewClient(cache *layers.Cache, opts ...ClientOption) *Client {
	c := &Client{cache: cache, http: remote.DefaultHTTPClient()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// repodataForms are the file names a subdir's index is offered under, best first.
var repodataForms = []string{"repodata.json.zst", "repodata.json.bz2", "repodata.json"}

// Repodata returns the index of one subdir of ch. A subdir the channel does
// not have is empty, except noarch, which every channel has. Online, the
// index is fetched (it changes) and recorded in the download store;
// offline, the recorded copy is used.
func (c *Client) Repodata(ctx context.Context, ch Channel, subdir string) (*Repodata, error) {
	b, form, digest, err := c.fetchIndex(ctx, ch, subdir)
	if errors.Is(err, errNoIndex) {
		if subdir == "noarch" {
			return nil, fmt.Errorf("channel %s has no noarch/repodata.json (is %s a conda channel?)", ch.Name, redact.Password(ch.URL))
		}
		logctx.From(ctx).Debug("conda: channel has no such subdir", "channel", ch.Name, "subdir", subdir)
		return &Repodata{Channel: ch, Subdir: subdir}, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := decompress(b, form)
	if err != nil {
		return nil, fmt.Errorf("%s/%s/%s: %w", redact.Password(ch.URL), subdir, form, err)
	}
	rd, err := ParseRepodata(ch, subdir, raw)
	if err != nil {
		return nil, fmt.Errorf("%s/%s/%s: %w", redact.Password(ch.URL), subdir, form, err)
	}
	rd.File = IndexFile{URL: ch.URL + "/" + subdir + "/" + form, SHA256: strings.TrimPrefix(digest, "sha256:")}
	return rd, nil
}

var errNoIndex = errors.New("no repodata")

// fetchIndex returns the best form of a subdir's index the channel has,
// its form and its digest.
func (c *Client) fetchIndex(ctx context.Context, ch Channel, subdir string) ([]byte, string, string, error) {
	base := ch.URL + "/" + subdir + "/"
	if strings.HasPrefix(base, "file://") {
		b, form, err := readLocalIndex(strings.TrimPrefix(base, "file://"))
		if err != nil {
			return nil, "", "", err
		}
		sum := sha256.Sum256(b)
		return b, form, "sha256:" + hex.EncodeToString(sum[:]), nil
	}
	if c.offline {
		for _, form := range repodataForms {
			if d, ok := c.cache.Ref("conda-repodata:" + base + form); ok {
				b, err := c.readDownload(ctx, d)
				return b, form, d, err
			}
		}
		if _, ok := c.cache.Ref("conda-repodata-missing:" + base); ok {
			return nil, "", "", errNoIndex
		}
		return nil, "", "", fmt.Errorf("%srepodata.json is not in the cache (offline; build once online first): %w", redact.Password(base), layers.ErrNotCached)
	}
	for _, form := range repodataForms {
		d, err := c.download(ctx, base+form)
		if errors.Is(err, errNoIndex) {
			continue
		}
		if err != nil {
			return nil, "", "", err
		}
		if err := c.cache.SetRef("conda-repodata:"+base+form, d); err != nil {
			return nil, "", "", err
		}
		b, err := c.readDownload(ctx, d)
		return b, form, d, err
	}
	if _, d, err := c.cache.Download(ctx, "", func(context.Context, io.Writer) error { return nil }); err == nil {
		_ = c.cache.SetRef("conda-repodata-missing:"+base, d)
	}
	return nil, "", "", errNoIndex
}

// download fetches u into the download store; a 404 is errNoIndex.
func (c *Client) download(ctx context.Context, u string) (string, error) {
	_, d, err := c.cache.Download(ctx, "", func(ctx context.Context, w io.Writer) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "assemble (conda-compatible)")
		resp, err := c.http.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", redact.Password(u), err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusNotFound, http.StatusForbidden:
			return errNoIndex
		default:
			return fmt.Errorf("GET %s: HTTP %s", redact.Password(u), resp.Status)
		}
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("GET %s: %w", redact.Password(u), err)
		}
		return nil
	})
	return d, err
}

func (c *Client) readDownload(ctx context.Context, digest string) ([]byte, error) {
	p, _, err := c.cache.Download(ctx, digest, nil)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// readLocalIndex reads a file:// channel's index straight from its directory.
func readLocalIndex(dir string) ([]byte, string, error) {
	dir, err := url.PathUnescape(dir)
	if err != nil {
		return nil, "", err
	}
	for _, form := range repodataForms {
		b, err := os.ReadFile(filepath.Join(filepath.FromSlash(dir), form))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading the channel's index: %w", err)
		}
		return b, form, nil
	}
	return nil, "", errNoIndex
}

func decompress(b []byte, form string) ([]byte, error) {
	switch {
	case strings.HasSuffix(form, ".zst"):
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(b, nil)
	case strings.HasSuffix(form, ".bz2"):
		return io.ReadAll(bzip2.NewReader(bytes.NewReader(b)))
	}
	return b, nil
}

// Subdir is the conda subdir of a platform ("linux/amd64" -> "linux-64").
func Subdir(os, arch string) (string, error) {
	if os != "linux" {
		return "", fmt.Errorf("conda environments are built for Linux, not %s", os)
	}
	switch arch {
	case "amd64":
		return "linux-64", nil
	case "arm64":
		return "linux-aarch64", nil
	case "ppc64le", "s390x":
		return "linux-" + arch, nil
	case "386":
		return "linux-32", nil
	case "arm":
		return "linux-armv7l", nil
	}
	return "", fmt.Errorf("no conda subdir for linux/%s", arch)
}

// Archspec is __archspec's build string for a platform's architecture: the
// generic microarchitecture, as conda reports it where it cannot tell more.
func Archspec(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "arm":
		return "armv7l"
	case "386":
		return "x86"
	}
	return arch
}
