package deb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"sort"
	"strings"

	"pault.ag/go/debian/version"
)

// A warm build must not parse the Packages indexes (tens of megabytes) just
// to learn again what it learnt last time. Resolutions, and what
// BaseRequest and EssentialRequest need of an index, are kept as small JSON
// files in <cache>/deb-resolve/<key>.json, keyed by everything they depend
// on: the verified Release texts (which name every index's hash) or a local
// directory's .deb digests, the architecture, suites and components, and
// for a resolution its requests and the installed packages.

const (
	// indexFormat changes whenever the universe read from the same
	// sources could change (the index parser).
	indexFormat = "assemble-deb-index-v1"
	// resolveFormat changes whenever Resolve could answer differently for
	// the same universe and requests, or the cached files' shape changes.
	resolveFormat = "assemble-deb-resolve-v1"
)

// keyHash builds a cache key from lines of fields; fields are separated by
// NUL and lines by newlines, so no two inputs give the same text.
type keyHash struct{ h hash.Hash }

func newKeyHash(kind string) *keyHash {
	k := &keyHash{h: sha256.New()}
	k.line(kind)
	return k
}

func (k *keyHash) line(fields ...string) {
	k.h.Write([]byte(strings.Join(fields, "\x00")))
	k.h.Write([]byte{'\n'})
}

func (k *keyHash) sum() string { return hex.EncodeToString(k.h.Sum(nil)) }

// resolveNamespace is the cache namespace resolutions are kept in.
const resolveNamespace = "deb-resolve"

// readCached decodes a cached file into v; false when it is absent or bad
// (a bad file is a miss and is written again).
func (c *Client) readCached(key string, v any) bool {
	b, ok, err := c.cache.Namespace(resolveNamespace).Get(key + ".json")
	if err != nil {
		c.log.Debug("deb: reading cached resolution", "key", key, "err", err)
	}
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.log.Debug("deb: bad cached resolution", "key", key, "err", err)
		return false
	}
	return true
}

// writeCached stores v under key atomically. A failure only costs the next
// build a parse, so it is logged, not returned.
func (c *Client) writeCached(key string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = c.cache.Namespace(resolveNamespace).Put(key+".json", b)
	}
	if err != nil {
		c.log.Debug("deb: caching resolution", "key", key, "err", err)
	}
}

// indexSummary is what BaseRequest and EssentialRequest need of an index.
type indexSummary struct {
	Format string `json:"format"`
	Key    string `json:"key"`
	// Required are the names whose candidate is Priority: required.
	Required []string `json:"required"`
	// Extras are the baseExtras in the index that are not required.
	Extras []string `json:"extras"`
	// Essential are the names whose candidate is Essential: yes.
	Essential []string `json:"essential"`
}

func (ix *Index) summaryKey() string {
	k := newKeyHash(resolveFormat)
	k.line("summary", ix.key)
	return k.sum()
}

// storeSummary keeps the summary of a loaded index (see finish) and
// caches it.
func (ix *Index) storeSummary(s *indexSummary) {
	ix.sumMu.Lock()
	ix.summary = s
	ix.sumMu.Unlock()
	if ix.key != "" {
		ix.c.writeCached(ix.summaryKey(), s)
	}
}

// getSummary returns the index's summary from memory or the cache, or
// parses the index for it. nil when the index cannot be loaded (Resolve
// then reports why).
func (ix *Index) getSummary() *indexSummary {
	ix.sumMu.Lock()
	s := ix.summary
	ix.sumMu.Unlock()
	if s != nil {
		return s
	}
	if ix.key != "" && ix.c != nil {
		var cs indexSummary
		if ix.c.readCached(ix.summaryKey(), &cs) && cs.Format == resolveFormat && cs.Key == ix.key {
			ix.sumMu.Lock()
			if ix.summary == nil {
				ix.summary = &cs
			}
			s = ix.summary
			ix.sumMu.Unlock()
			return s
		}
	}
	if ix.load() != nil {
		return nil
	}
	ix.sumMu.Lock()
	defer ix.sumMu.Unlock()
	return ix.summary
}

// cachedResolution is a successful Resolve: every package as Fetch and
// Layers need it. The requests' Where is not part of the key: a package
// names the request that brought it in by its index.
type cachedResolution struct {
	Format   string          `json:"format"`
	Key      string          `json:"key"`
	Origins  []cachedOrigin  `json:"origins"`
	Packages []cachedPackage `json:"packages"` // install order
}

type cachedOrigin struct {
	Mirror    string `json:"mirror,omitempty"`
	Suite     string `json:"suite,omitempty"`
	Component string `json:"component,omitempty"`
	LocalDir  string `json:"localDir,omitempty"`
	NotAuto   bool   `json:"notAutomatic,omitempty"`
}

type cachedPackage struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Architecture  string `json:"architecture"`
	MultiArch     string `json:"multiArch,omitempty"`
	Priority      string `json:"priority,omitempty"`
	Section       string `json:"section,omitempty"`
	Essential     bool   `json:"essential,omitempty"`
	Source        string `json:"source,omitempty"`
	Depends       string `json:"depends,omitempty"`
	PreDepends    string `json:"preDepends,omitempty"`
	Provides      string `json:"provides,omitempty"`
	Conflicts     string `json:"conflicts,omitempty"`
	Breaks        string `json:"breaks,omitempty"`
	Filename      string `json:"filename"`
	SHA256        string `json:"sha256"`
	Size          int64  `json:"size"`
	InstalledSize int64  `json:"installedSize,omitempty"`
	Origin        int    `json:"origin"`
	// Request is the index of the request that brought the package in,
	// Requested whether it was asked for by name, Chain the dependency
	// path from that request ("python3 -> libssl3").
	Request   int    `json:"request"`
	Requested bool   `json:"requested,omitempty"`
	Chain     string `json:"chain"`
}

// resolveKey is the cache key of a resolution, "" when the index is not
// cacheable.
func (ix *Index) resolveKey(reqs []Request, installed map[string]string) string {
	if ix.key == "" || ix.c == nil {
		return ""
	}
	k := newKeyHash(resolveFormat)
	k.line("index", ix.key)
	for _, r := range reqs {
		k.line("request", strings.TrimSpace(r.Name))
	}
	names := make([]string, 0, len(installed))
	for n := range installed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k.line("installed", n, installed[n])
	}
	return k.sum()
}

// storeResolution caches a resolution; reqOf maps a package's name to the
// index of the request that brought it in.
func (ix *Index) storeResolution(key string, pkgs []*Package, reqOf map[string]int) {
	cr := &cachedResolution{Format: resolveFormat, Key: key}
	origins := map[origin]int{}
	for _, p := range pkgs {
		if p.origin == nil {
			return // not from an index: nothing to cache
		}
		oi, ok := origins[*p.origin]
		if !ok {
			oi = len(cr.Origins)
			origins[*p.origin] = oi
			o := p.origin
			cr.Origins = append(cr.Origins, cachedOrigin{Mirror: o.mirror, Suite: o.suite, Component: o.component, LocalDir: o.localDir, NotAuto: o.notAuto})
		}
		cr.Packages = append(cr.Packages, cachedPackage{
			Name: p.Name, Version: p.Version, Architecture: p.Architecture, MultiArch: p.MultiArch,
			Priority: p.Priority, Section: p.Section, Essential: p.Essential, Source: p.Source,
			Depends: p.Depends, PreDepends: p.PreDepends, Provides: p.Provides, Conflicts: p.Conflicts, Breaks: p.Breaks,
			Filename: p.Filename, SHA256: p.SHA256, Size: p.Size, InstalledSize: p.InstalledSize,
			Origin: oi, Request: reqOf[p.Name], Requested: p.Requested != "", Chain: p.chain,
		})
	}
	ix.c.writeCached(key, cr)
}

// cachedResolve returns a cached resolution of reqs, with Requested and
// Reason naming reqs' Where, as Resolve would have set them.
func (ix *Index) cachedResolve(key string, reqs []Request) ([]*Package, bool) {
	var cr cachedResolution
	if !ix.c.readCached(key, &cr) || cr.Format != resolveFormat || cr.Key != key {
		return nil, false
	}
	origins := make([]*origin, len(cr.Origins))
	for i, o := range cr.Origins {
		origins[i] = &origin{mirror: o.Mirror, suite: o.Suite, component: o.Component, localDir: o.LocalDir, notAuto: o.NotAuto}
	}
	out := make([]*Package, 0, len(cr.Packages))
	for _, cp := range cr.Packages {
		v, err := version.Parse(cp.Version)
		if err != nil || !validName(cp.Name) || (cp.Architecture != ix.Arch && cp.Architecture != "all") ||
			checkPoolPath(cp.Filename) != nil || !isSHA256Hex(cp.SHA256) ||
			cp.Origin < 0 || cp.Origin >= len(origins) || cp.Request < 0 || cp.Request >= len(reqs) || cp.Chain == "" {
			ix.c.log.Debug("deb: bad cached resolution", "key", key, "package", cp.Name)
			return nil, false
		}
		where := reqs[cp.Request].Where
		if where == "" {
			where = "request"
		}
		p := &Package{
			Name: cp.Name, Version: cp.Version, Architecture: cp.Architecture, MultiArch: cp.MultiArch,
			Priority: cp.Priority, Section: cp.Section, Essential: cp.Essential, Source: cp.Source,
			Depends: cp.Depends, PreDepends: cp.PreDepends, Provides: cp.Provides, Conflicts: cp.Conflicts, Breaks: cp.Breaks,
			Filename: cp.Filename, SHA256: cp.SHA256, Size: cp.Size, InstalledSize: cp.InstalledSize,
			Reason: where + ": " + cp.Chain,
			ver:    v, origin: origins[cp.Origin], target: ix.Arch, where: where, chain: cp.Chain,
		}
		if cp.Requested {
			p.Requested = where
		}
		out = append(out, p)
	}
	return out, true
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
