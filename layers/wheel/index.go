package wheel

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/layers"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// DefaultIndexURL is where pip looks when no --index-url is given.
const DefaultIndexURL = "https://pypi.org/simple/"

// fileLink is one distribution file offered by an index, a find-links page
// or a wheelhouse directory.
type fileLink struct {
	Filename       string
	URL            string // absolute; may carry credentials (never printed)
	Local          string // a wheelhouse file's path
	SHA256         string // hex, when the index gives it
	RequiresPython string
	Yanked         bool
	YankedReason   string
	// PEP 658: the index serves the wheel's METADATA at URL + ".metadata".
	HasMetadata    bool
	MetadataSHA256 string
	From           string // the page or directory it was listed on (redacted)

	rank  int    // best tag priority on the target (lower is better)
	build string // build tag
	src   int    // which of its project's sources listed it
	// project is linkProject(Filename), worked out once when the source is
	// listed: a find-links listing is looked through for every project.
	project string
}

type credential struct{ user, password string }

// netrc is the subset of ~/.netrc that HTTP clients use: machine, login,
// password and default.
type netrc map[string]credential

func parseNetrc(b []byte) netrc {
	out := netrc{}
	var toks []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	inMacro := false
	for sc.Scan() {
		line := sc.Text()
		if inMacro {
			if strings.TrimSpace(line) == "" {
				inMacro = false
			}
			continue
		}
		fields := strings.Fields(line)
		for i, f := range fields {
			if strings.HasPrefix(f, "#") {
				fields = fields[:i]
				break
			}
		}
		for i := 0; i < len(fields); i++ {
			if fields[i] == "macdef" {
				inMacro = true
				fields = fields[:i]
				break
			}
		}
		toks = append(toks, fields...)
	}
	var machine string
	var cur credential
	flush := func() {
		if machine != "" {
			if _, ok := out[machine]; !ok {
				out[machine] = cur
			}
		}
		machine, cur = "", credential{}
	}
	for i := 0; i < len(toks); i++ {
		next := func() string {
			if i+1 < len(toks) {
				i++
				return toks[i]
			}
			return ""
		}
		switch toks[i] {
		case "machine":
			flush()
			machine = next()
		case "default":
			flush()
			machine = "*default*"
		case "login":
			cur.user = next()
		case "password":
			cur.password = next()
		case "account":
			next()
		}
	}
	flush()
	return out
}

func (n netrc) lookup(host string) (credential, bool) {
	if c, ok := n[host]; ok {
		return c, true
	}
	c, ok := n["*default*"]
	return c, ok
}

// client fetches index pages, metadata and wheels, keeping them in the cache.
type client struct {
	http    *http.Client
	cache   *layers.Cache
	offline bool
	netrc   netrc

	mu    sync.Mutex
	creds map[string]credential // host:port -> credentials given in index URLs
	down  map[string]error      // host:port -> why it could not be reached
}

func (c *client) addCredential(host string, cr credential) {
	c.mu.Lock()
	c.creds[host] = cr
	c.mu.Unlock()
}

func (c *client) credential(host string) (credential, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cr, ok := c.creds[host]
	return cr, ok
}

// request builds a GET with credentials from the URL, an index URL on the same
// host, or ~/.netrc, as pip does.
func (c *client) request(ctx context.Context, raw string, accept string) (*http.Request, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL %s: %w", redact.Password(raw), err)
	}
	var cred *credential
	if u.User != nil {
		p, _ := u.User.Password()
		cred = &credential{u.User.Username(), p}
		u.User = nil
	} else if cr, ok := c.credential(u.Host); ok {
		cred = &cr
	} else if cr, ok := c.netrc.lookup(u.Hostname()); ok {
		cred = &cr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("bad URL %s: %w", redact.Password(raw), err)
	}
	if cred != nil {
		req.SetBasicAuth(cred.user, cred.password)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", "assemble (pip-compatible wheel installer)")
	return req, nil
}

// httpError is an index answering with a status other than 200.
type httpError struct {
	url    string
	status int
}

func (e *httpError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %d %s", redact.Password(e.url), e.status, http.StatusText(e.status))
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (give credentials in the index URL or in ~/.netrc)"
	}
	return msg
}

func (c *client) get(ctx context.Context, raw, accept string) (*http.Response, error) {
	req, err := c.request(ctx, raw, accept)
	if err != nil {
		return nil, err
	}
	if c.offline {
		// Callers check the cache first; this keeps --offline off the network
		// whatever path a request takes.
		return nil, fmt.Errorf("GET %s: not allowed offline: %w", redact.Password(raw), layers.ErrNotCached)
	}
	host := req.URL.Host
	if err := c.hostDown(host); err != nil {
		return nil, &unreachableError{url: raw, err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", redact.Password(raw), err)
		}
		// No answer at all (after the client's retries): remember it, so
		// that every later lookup on this host fails at once.
		c.markDown(host, err)
		return nil, &unreachableError{url: raw, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &httpError{url: raw, status: resp.StatusCode}
	}
	return resp, nil
}

const simpleAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01"

// errNotFound means an index has no page for a project.
var errNotFound = errors.New("not found")

// page fetches an index or find-links page and parses its links. Online, the
// page is always fetched (it changes) and recorded in the cache; offline, the
// recorded copy is used.
func (c *client) page(ctx context.Context, pageURL string) ([]fileLink, error) {
	refJSON, refHTML := "wheel-index-json:"+pageURL, "wheel-index-html:"+pageURL
	if c.offline {
		for _, r := range []struct {
			ref  string
			json bool
		}{{refJSON, true}, {refHTML, false}} {
			if d, ok := c.cache.Ref(r.ref); ok {
				p, _, err := c.cache.Download(ctx, d, nil)
				if err != nil {
					return nil, err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return nil, fmt.Errorf("reading cached index page: %w", err)
				}
				return parsePage(pageURL, b, r.json)
			}
		}
		if _, ok := c.cache.Ref("wheel-index-missing:" + pageURL); ok {
			return nil, errNotFound
		}
		return nil, fmt.Errorf("index page %s is not in the cache (offline): %w", redact.Password(pageURL), layers.ErrNotCached)
	}
	var final string
	var isJSON bool
	_, digest, err := c.cache.Download(ctx, "", func(ctx context.Context, w io.Writer) error {
		resp, err := c.get(ctx, pageURL, simpleAccept)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		final = resp.Request.URL.String()
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		switch ct {
		case "application/vnd.pypi.simple.v1+json":
			isJSON = true
		case "text/html", "application/vnd.pypi.simple.v1+html", "":
		default:
			return fmt.Errorf("GET %s: unexpected content type %q (want a PEP 503/691 simple index page)", redact.Password(pageURL), ct)
		}
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("GET %s: %w", redact.Password(pageURL), err)
		}
		return nil
	})
	if err != nil {
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusNotFound {
			_, d, derr := c.cache.Download(ctx, "", func(context.Context, io.Writer) error { return nil })
			if derr == nil {
				_ = c.cache.SetRef("wheel-index-missing:"+pageURL, d)
			}
			return nil, errNotFound
		}
		return nil, err
	}
	ref := refHTML
	if isJSON {
		ref = refJSON
	}
	if err := c.cache.SetRef(ref, digest); err != nil {
		return nil, err
	}
	p, _, err := c.cache.Download(ctx, digest, nil)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading cached index page: %w", err)
	}
	if final == "" {
		final = pageURL
	}
	return parsePage(final, b, isJSON)
}

func parsePage(pageURL string, b []byte, isJSON bool) ([]fileLink, error) {
	if isJSON {
		return parseJSONPage(pageURL, b)
	}
	return parseHTMLPage(pageURL, b)
}

// parseHTMLPage reads a PEP 503 page (or a find-links page) and its PEP 592
// and PEP 658 attributes. As pip's parser, it takes every <a> start tag and
// the first <base>; the tokenizer unescapes entities in attribute values.
func parseHTMLPage(pageURL string, b []byte) ([]fileLink, error) {
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil, fmt.Errorf("bad page URL %s: %w", redact.Password(pageURL), err)
	}
	var anchors []map[string]string
	sawBase := false
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("index page %s: %w", redact.Password(pageURL), err)
			}
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		switch atom.Lookup(name) {
		case atom.A:
			anchors = append(anchors, tagAttrs(z, hasAttr))
		case atom.Base:
			if sawBase {
				continue
			}
			sawBase = true
			if h, ok := tagAttrs(z, hasAttr)["href"]; ok {
				if bu, err := base.Parse(h); err == nil {
					base = bu
				}
			}
		}
	}
	var out []fileLink
	for _, attrs := range anchors {
		if l, ok := anchorLink(base, pageURL, attrs); ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// tagAttrs reads the current tag's attributes (names lower-cased, values
// unescaped); the first of a repeated attribute wins.
func tagAttrs(z *html.Tokenizer, more bool) map[string]string {
	out := map[string]string{}
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		if _, dup := out[string(k)]; !dup {
			out[string(k)] = string(v)
		}
	}
	return out
}

// anchorLink turns one <a>'s attributes into a link: href (resolved against
// the base), data-requires-python, data-yanked and data-core-metadata (or
// its older name data-dist-info-metadata).
func anchorLink(base *url.URL, pageURL string, attrs map[string]string) (fileLink, bool) {
	href := attrs["href"]
	if href == "" {
		return fileLink{}, false
	}
	l, err := newLink(base, href, pageURL)
	if err != nil {
		return fileLink{}, false
	}
	if rp, ok := attrs["data-requires-python"]; ok {
		l.RequiresPython = rp
	}
	if y, ok := attrs["data-yanked"]; ok {
		l.Yanked, l.YankedReason = true, y
	}
	md, ok := attrs["data-core-metadata"]
	if !ok {
		md, ok = attrs["data-dist-info-metadata"]
	}
	if ok && md != "false" {
		l.HasMetadata = true
		if algo, h, found := strings.Cut(md, "="); found && algo == "sha256" {
			l.MetadataSHA256 = strings.ToLower(h)
		}
	}
	return l, true
}

func newLink(base *url.URL, href, pageURL string) (fileLink, error) {
	u, err := base.Parse(href)
	if err != nil {
		return fileLink{}, err
	}
	l := fileLink{From: redact.Password(pageURL)}
	if frag := u.Fragment; frag != "" {
		if algo, h, ok := strings.Cut(frag, "="); ok && algo == "sha256" {
			l.SHA256 = strings.ToLower(h)
		}
		u.Fragment = ""
	}
	// Links to files on the index's host carry its credentials.
	if u.User == nil && base.User != nil && u.Host == base.Host {
		u.User = base.User
	}
	l.URL = u.String()
	l.Filename = path.Base(u.Path)
	if fn, err := url.PathUnescape(l.Filename); err == nil {
		l.Filename = fn
	}
	return l, nil
}

type jsonPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Files []struct {
		Filename         string            `json:"filename"`
		URL              string            `json:"url"`
		Hashes           map[string]string `json:"hashes"`
		RequiresPython   *string           `json:"requires-python"`
		Yanked           json.RawMessage   `json:"yanked"`
		CoreMetadata     json.RawMessage   `json:"core-metadata"`
		DistInfoMetadata json.RawMessage   `json:"dist-info-metadata"`
	} `json:"files"`
}

// parseJSONPage reads a PEP 691 project page.
func parseJSONPage(pageURL string, b []byte) ([]fileLink, error) {
	var p jsonPage
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("index page %s: bad PEP 691 JSON: %w", redact.Password(pageURL), err)
	}
	if !strings.HasPrefix(p.Meta.APIVersion, "1.") {
		return nil, fmt.Errorf("index page %s: unsupported simple API version %q (want 1.x)", redact.Password(pageURL), p.Meta.APIVersion)
	}
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil, fmt.Errorf("bad page URL %s: %w", redact.Password(pageURL), err)
	}
	var out []fileLink
	for _, f := range p.Files {
		l, err := newLink(base, f.URL, pageURL)
		if err != nil {
			continue
		}
		if f.Filename != "" {
			l.Filename = f.Filename
		}
		if h := f.Hashes["sha256"]; h != "" {
			l.SHA256 = strings.ToLower(h)
		}
		if f.RequiresPython != nil {
			l.RequiresPython = *f.RequiresPython
		}
		var yb bool
		var ys string
		if json.Unmarshal(f.Yanked, &yb) == nil {
			l.Yanked = yb
		} else if json.Unmarshal(f.Yanked, &ys) == nil {
			l.Yanked, l.YankedReason = true, ys
		}
		md := f.CoreMetadata
		if len(md) == 0 {
			md = f.DistInfoMetadata
		}
		var mb bool
		var mh map[string]string
		if json.Unmarshal(md, &mb) == nil {
			l.HasMetadata = mb
		} else if json.Unmarshal(md, &mh) == nil {
			l.HasMetadata = true
			l.MetadataSHA256 = strings.ToLower(mh["sha256"])
		}
		out = append(out, l)
	}
	return out, nil
}

// dirLinks lists a wheelhouse directory. When the cache records inputs
// for a bundle, the listing goes to the download store under the
// directory's name (and each wheel read from it, by fetchFile, under its
// file:// URL); offline, a directory that is not there is listed from
// that record, and its wheels come from the store, checked by digest.
func (c *client) dirLinks(ctx context.Context, dir string) ([]fileLink, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("wheelhouse (--find-links) %s: %w", dir, err)
	}
	ref := "wheel-dir:" + abs
	var names []string
	ents, err := os.ReadDir(dir)
	here := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.offline:
		if names, err = c.storedDir(ref); err != nil {
			return nil, fmt.Errorf("reading wheelhouse (--find-links) %s: it is not here: %w", dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading wheelhouse (--find-links) %s: %w", dir, err)
	default:
		for _, e := range ents {
			if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
				names = append(names, e.Name())
			}
		}
		if c.cache.LoggingInputs() {
			if err := c.storeDir(ctx, ref, names); err != nil {
				return nil, fmt.Errorf("recording wheelhouse (--find-links) %s: %w", dir, err)
			}
		}
	}
	var out []fileLink
	for _, n := range names {
		p := filepath.Join(dir, n)
		l := fileLink{Filename: n, From: dir, URL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()}
		if here {
			l.Local = p
		}
		out = append(out, l)
	}
	return out, nil
}

// storeDir keeps a wheelhouse's file names in the download store.
func (c *client) storeDir(ctx context.Context, ref string, names []string) error {
	b, err := json.Marshal(names)
	if err != nil {
		return err
	}
	_, d, err := c.cache.Download(ctx, "", func(_ context.Context, w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	return c.cache.SetRef(ref, d)
}

// storedDir reads the file names storeDir kept.
func (c *client) storedDir(ref string) ([]string, error) {
	d, ok := c.cache.Ref(ref)
	if !ok {
		return nil, fmt.Errorf("no bundle carried it: %w", layers.ErrNotCached)
	}
	b, err := os.ReadFile(c.cache.DownloadPath(d))
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("its record %s: %w", d, err)
	}
	return names, nil
}

// fetchFile stores a link's file in the download store, verifying the
// index's hash, and returns its path and hex digest.
func (c *client) fetchFile(ctx context.Context, l fileLink) (string, string, error) {
	want := ""
	if l.SHA256 != "" {
		want = "sha256:" + l.SHA256
	}
	ref := "wheel-file:" + l.URL
	if want == "" && l.Local == "" {
		if d, ok := c.cache.Ref(ref); ok && c.offline {
			want = d
		}
	}
	fetch := func(ctx context.Context, w io.Writer) error {
		if l.Local != "" {
			f, err := os.Open(l.Local)
			if err != nil {
				return fmt.Errorf("reading %s: %w", l.Local, err)
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		}
		if c.offline {
			return fmt.Errorf("%s is not in the cache (offline): %w", redact.Password(l.URL), layers.ErrNotCached)
		}
		resp, err := c.get(ctx, l.URL, "")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("downloading %s: %w", redact.Password(l.URL), err)
		}
		return nil
	}
	p, digest, err := c.cache.Download(ctx, c.localDigest(want, l.Local), fetch)
	if err != nil {
		if errors.Is(err, layers.ErrDigestMismatch) {
			return "", "", fmt.Errorf("%s from %s does not match the index's sha256 %s; the file or the index is corrupt (or tampered with): %w", l.Filename, l.From, l.SHA256, err)
		}
		return "", "", fmt.Errorf("fetching %s: %w", l.Filename, err)
	}
	// A wheelhouse file is found by its file:// URL offline when a bundle
	// carries it (the directory may not be there).
	if want == "" && (l.Local == "" || c.cache.LoggingInputs()) {
		_ = c.cache.SetRef(ref, digest)
	}
	return p, strings.TrimPrefix(digest, "sha256:"), nil
}

// metadata returns a wheel's core metadata: the PEP 658 file when the index
// serves one, else the METADATA inside the wheel.
func (c *client) metadata(ctx context.Context, l *fileLink) (*Metadata, error) {
	if l.HasMetadata && l.Local == "" {
		b, err := c.metadataFile(ctx, l)
		if err != nil {
			return nil, err
		}
		m, err := ParseMetadata(b)
		if err != nil {
			return nil, fmt.Errorf("%s (metadata file from %s): %w", l.Filename, l.From, err)
		}
		return m, nil
	}
	p, hexd, err := c.fetchFile(ctx, *l)
	if err != nil {
		return nil, err
	}
	l.SHA256 = hexd
	b, err := wheelMetadata(c.cache, p, hexd, l.Filename)
	if err != nil {
		return nil, err
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Filename, err)
	}
	return m, nil
}

func (c *client) metadataFile(ctx context.Context, l *fileLink) ([]byte, error) {
	mu := l.URL + ".metadata"
	want := ""
	if l.MetadataSHA256 != "" {
		want = "sha256:" + l.MetadataSHA256
	}
	ref := "wheel-metadata:" + mu
	if want == "" && c.offline {
		if d, ok := c.cache.Ref(ref); ok {
			want = d
		}
	}
	p, digest, err := c.cache.Download(ctx, want, func(ctx context.Context, w io.Writer) error {
		if c.offline {
			return fmt.Errorf("%s is not in the cache (offline): %w", redact.Password(mu), layers.ErrNotCached)
		}
		resp, err := c.get(ctx, mu, "")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(w, resp.Body)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", l.Filename, err)
	}
	if want == "" {
		_ = c.cache.SetRef(ref, digest)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading cached metadata: %w", err)
	}
	return b, nil
}

// readWheelMetadata reads <name>-<version>.dist-info/METADATA from a wheel.
func readWheelMetadata(p, filename string) ([]byte, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("wheel %s is not a valid zip file: %w", filename, err)
	}
	defer zr.Close()
	di, err := findDistInfo(&zr.Reader, filename)
	if err != nil {
		return nil, err
	}
	// Looked up in the central directory as listed: zip.Reader.Open would
	// sort every entry of the wheel first (pip's has over 800) to find one.
	i := slices.IndexFunc(zr.File, func(f *zip.File) bool { return f.Name == di+"/METADATA" })
	if i < 0 {
		return nil, fmt.Errorf("wheel %s has no %s/METADATA", filename, di)
	}
	f, err := zr.File[i].Open()
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s/METADATA: %w", filename, di, err)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// findDistInfo finds the wheel's single .dist-info directory and checks it
// names the same project as the file name.
func findDistInfo(zr *zip.Reader, filename string) (string, error) {
	wf, err := ParseWheelFilename(filename)
	if err != nil {
		return "", err
	}
	var found []string
	seen := map[string]bool{}
	for _, f := range zr.File {
		top, _, _ := strings.Cut(f.Name, "/")
		if strings.HasSuffix(top, ".dist-info") && !seen[top] {
			seen[top] = true
			found = append(found, top)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("wheel %s has %d .dist-info directories, want exactly one", filename, len(found))
	}
	di := found[0]
	name, _, _ := strings.Cut(strings.TrimSuffix(di, ".dist-info"), "-")
	if NormalizeName(name) != NormalizeName(wf.Name) {
		return "", fmt.Errorf("wheel %s: .dist-info directory %s is for another project", filename, di)
	}
	return di, nil
}
