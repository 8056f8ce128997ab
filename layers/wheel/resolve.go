package wheel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/redact"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers"
)

// Resolved is one distribution chosen for the image.
type Resolved struct {
	Name     string // as the distribution's metadata spells it
	Version  string
	Filename string
	// URL is where the wheel comes from, without credentials (a file:// URL
	// for a wheelhouse file; for a Direct requirement, its URL as written,
	// #sha256= fragment included). Empty for a distribution already in the base.
	URL    string
	SHA256 string // hex
	// Requested marks a top-level requirement (pip writes REQUESTED for it).
	Requested bool
	// Direct marks a URL or path requirement (pip writes direct_url.json for it).
	Direct bool
	// Installed marks a distribution already in the base image that satisfies
	// the requirements; it is not written again.
	Installed   bool
	RequestedBy []string
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithIndexURL replaces the default index (PEP 503/691 simple API base URL).
func WithIndexURL(u string) Option { return func(r *Resolver) { r.indexURL = u } }

// WithExtraIndexURLs adds indexes searched besides the main one.
func WithExtraIndexURLs(us ...string) Option {
	return func(r *Resolver) { r.extra = append(r.extra, us...) }
}

// WithFindLinks adds wheelhouse directories or find-links page URLs.
func WithFindLinks(ls ...string) Option {
	return func(r *Resolver) { r.findLinks = append(r.findLinks, ls...) }
}

// WithNoIndex uses only --find-links sources, as pip's --no-index.
func WithNoIndex() Option { return func(r *Resolver) { r.noIndex = true } }

// WithPre allows pre-releases, as pip's --pre.
func WithPre() Option { return func(r *Resolver) { r.pre = true } }

// WithOffline resolves from the cache only: index pages recorded by an
// earlier online run and files in the download store.
func WithOffline() Option { return func(r *Resolver) { r.offline = true } }

// WithHTTPClient sets the HTTP client (proxies, TLS roots, timeouts).
func WithHTTPClient(c *http.Client) Option { return func(r *Resolver) { r.httpClient = c } }

// WithNetrc reads credentials from this file instead of $NETRC or ~/.netrc.
func WithNetrc(path string) Option { return func(r *Resolver) { r.netrcPath = path } }

// WithMaxRounds bounds the backtracking search (default 200000 steps).
func WithMaxRounds(n int) Option { return func(r *Resolver) { r.maxRounds = n } }

// Resolver finds the distributions a set of requirements needs, as pip's
// resolver would, using wheels only.
type Resolver struct {
	cache      *layers.Cache
	indexURL   string
	extra      []string
	findLinks  []string
	noIndex    bool
	pre        bool
	offline    bool
	httpClient *http.Client
	netrcPath  string
	maxRounds  int

	client *client
}

// NewResolver returns a resolver that keeps index pages and wheels in cache.
func NewResolver(cache *layers.Cache, opts ...Option) *Resolver {
	r := &Resolver{cache: cache, maxRounds: 200000}
	for _, o := range opts {
		o(r)
	}
	if r.httpClient == nil {
		r.httpClient = remote.DefaultHTTPClient()
	}
	nrc := r.netrcPath
	if nrc == "" {
		nrc = os.Getenv("NETRC")
	}
	if nrc == "" {
		if home, err := os.UserHomeDir(); err == nil {
			nrc = filepath.Join(home, ".netrc")
		}
	}
	var n netrc
	if b, err := os.ReadFile(nrc); err == nil {
		n = parseNetrc(b)
	}
	r.client = &client{http: r.httpClient, cache: cache, offline: r.offline, netrc: n, creds: map[string]credential{}}
	return r
}

// candidate is one version of a project: its wheels (best first) or the
// copy already installed in the base.
type candidate struct {
	name      string // normalized
	version   Version
	files     []*fileLink
	installed *InstalledDist
	direct    bool
	meta      *Metadata
	// deps memoizes (*session).deps: collect asks for every pin's
	// requirements at each step of the search, and parsing them again
	// (markers evaluated once per extra) was most of a resolution's time.
	deps []dep
}

func (c *candidate) String() string { return c.name + " " + c.version.String() }

func (c *candidate) yanked() bool {
	for _, f := range c.files {
		if !f.Yanked {
			return false
		}
	}
	return len(c.files) > 0
}

// project is everything known about one project's distributions.
type project struct {
	cands []*candidate // newest first
	// why lists reasons files were not usable, for "no candidates" errors.
	why []string
	// sources says what each index and find-links source gave, in order.
	sources []sourceResult
}

type session struct {
	r         *Resolver
	ctx       context.Context
	t         *Target
	env       map[string]string
	rank      map[string]int // read only: shared by the sessions of one target (tagRanks)
	pyFull    Version
	indexes   []string
	findLinks []string
	pre       bool
	hashMode  bool
	top       []Requirement
	cons      map[string][]Requirement
	direct    map[string]Requirement
	projects  map[string]*project
	rounds    int
	best      *conflictError
	bestDepth int
	warned    map[string]bool // sources warned about (see warnSource)
	// listed memoizes the links of each find-links page and wheelhouse
	// directory: every project is looked up in every source, and one
	// listing (one request, or one directory read) serves them all.
	listed map[string][]fileLink
}

// conflictError says which requirements on a project cannot all hold.
type conflictError struct {
	name      string
	reqs      []Requirement
	reason    string
	available string // versions with a usable wheel, newest first
	// sources says what each source gave ("URL: cannot be reached (...)");
	// causes are the failures among them (offline: layers.ErrNotCached).
	sources     []string
	causes      []error
	hintNoIndex bool // an index did not answer
}

func (e *conflictError) Error() string {
	var b strings.Builder
	if e.reason != "" {
		fmt.Fprintf(&b, "cannot install %s: %s", e.name, e.reason)
	} else {
		fmt.Fprintf(&b, "conflicting requirements on %s: no version satisfies all of them", e.name)
	}
	if len(e.reqs) > 0 {
		b.WriteString("\n  requirements on " + e.name + ":")
		for _, r := range e.reqs {
			fmt.Fprintf(&b, "\n    %s (from %s)", r.String(), r.Source)
		}
	}
	if e.available != "" {
		fmt.Fprintf(&b, "\n  versions with a wheel for this target: %s", e.available)
	}
	if len(e.sources) > 0 {
		b.WriteString("\n  sources tried for " + e.name + ":")
		for _, s := range e.sources {
			b.WriteString("\n    " + s)
		}
	}
	if e.hintNoIndex {
		b.WriteString("\n  an index could not be used: if this machine cannot reach it, pass --no-index to install from --find-links only, or --index-url to name an index it can reach")
	}
	return b.String()
}

// ErrConflict is wrapped by errors that say no set of versions satisfies the requirements.
var ErrConflict = errors.New("requirements cannot be satisfied")

func (e *conflictError) Unwrap() []error { return append([]error{ErrConflict}, e.causes...) }

// Resolve picks a wheel for every distribution the requirements need on t.
// The result is sorted by name and includes distributions already installed
// in the base (Installed set), which the layer leaves alone.
func (r *Resolver) Resolve(ctx context.Context, reqs *Requirements, t *Target) ([]Resolved, error) {
	if reqs == nil {
		reqs = &Requirements{}
	}
	rank, err := t.tagRanks()
	if err != nil {
		return nil, err
	}
	s := &session{
		r: r, ctx: ctx, t: t, env: t.MarkerEnv(), rank: rank,
		pre: r.pre || reqs.Pre, hashMode: reqs.RequireHashes,
		cons: map[string][]Requirement{}, direct: map[string]Requirement{}, projects: map[string]*project{},
		warned: map[string]bool{}, listed: map[string][]fileLink{},
	}
	if s.pyFull, err = ParseVersion(s.env["python_full_version"]); err != nil {
		return nil, fmt.Errorf("target python version: %w", err)
	}
	if !(r.noIndex || reqs.NoIndex) {
		main := r.indexURL
		if reqs.IndexURL != "" {
			main = reqs.IndexURL
		}
		if main == "" {
			main = DefaultIndexURL
		}
		for _, u := range append(append([]string{main}, r.extra...), reqs.ExtraIndexURLs...) {
			if !slices.Contains(s.indexes, u) {
				s.indexes = append(s.indexes, u)
			}
		}
	}
	for _, fl := range append(append([]string{}, r.findLinks...), reqs.FindLinks...) {
		if !slices.Contains(s.findLinks, fl) {
			s.findLinks = append(s.findLinks, fl)
		}
	}
	for _, u := range append(append([]string{}, s.indexes...), s.findLinks...) {
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			p, _ := pu.User.Password()
			r.client.addCredential(pu.Host, credential{pu.User.Username(), p})
		}
	}
	for _, q := range reqs.Requirements {
		ok, err := q.Marker.Evaluate(s.env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.Source, err)
		}
		if !ok {
			logctx.From(ctx).Debug("wheel: requirement skipped by its marker", "requirement", q.String(), "source", q.Source)
			continue
		}
		if q.URL != "" {
			if d, dup := s.direct[q.Key()]; dup && d.URL != q.URL {
				return nil, fmt.Errorf("%s: %s is given as two different URLs (also at %s)", q.Source, q.Name, d.Source)
			}
			s.direct[q.Key()] = q
		}
		s.top = append(s.top, q)
	}
	for _, q := range reqs.Constraints {
		ok, err := q.Marker.Evaluate(s.env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.Source, err)
		}
		if ok {
			s.cons[q.Key()] = append(s.cons[q.Key()], q)
		}
	}
	pins, err := s.solve(map[string]*candidate{}, 0)
	if err != nil {
		if errors.Is(err, ErrConflict) && s.best != nil {
			s.explain(s.best)
			return nil, fmt.Errorf("resolving requirements for Python %s on %s: %w", t.Python, t.Arch, s.best)
		}
		return nil, fmt.Errorf("resolving requirements for Python %s on %s: %w", t.Python, t.Arch, err)
	}
	return s.result(pins)
}

type collected struct {
	reqs   map[string][]Requirement
	extras map[string][]string
	order  []string
}

// collect gathers every requirement in force given the pins: the top-level
// ones and the dependencies (with the extras asked of them) of each pin.
func (s *session) collect(pins map[string]*candidate) (*collected, error) {
	c := &collected{reqs: map[string][]Requirement{}, extras: map[string][]string{}}
	seen := map[string]bool{}
	add := func(q Requirement) {
		k := q.Key()
		if _, ok := c.reqs[k]; !ok {
			c.order = append(c.order, k)
		}
		c.reqs[k] = append(c.reqs[k], q)
		for _, e := range q.Extras {
			if !slices.Contains(c.extras[k], e) {
				c.extras[k] = append(c.extras[k], e)
			}
		}
	}
	for _, q := range s.top {
		add(q)
	}
	// Walk pins in the order they are reached so requirement order is stable.
	for i := 0; i < len(c.order); i++ {
		name := c.order[i]
		p := pins[name]
		if p == nil {
			continue
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		deps, err := s.deps(p)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			if d.extra == "" {
				add(d.req)
			}
		}
	}
	// Extras can be asked for after a pin's base deps were added: repeat until stable.
	done := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(c.order); i++ {
			name := c.order[i]
			p := pins[name]
			if p == nil {
				continue
			}
			deps, err := s.deps(p)
			if err != nil {
				return nil, err
			}
			for _, e := range c.extras[name] {
				if done[name+"["+e+"]"] {
					continue
				}
				done[name+"["+e+"]"] = true
				changed = true
				for _, d := range deps {
					if d.extra == e {
						add(d.req)
					}
				}
			}
		}
	}
	return c, nil
}

type dep struct {
	extra string // "" for the base requirements
	req   Requirement
}

// deps lists a candidate's requirements, each under the extra (or none)
// whose marker selects it on the target.
func (s *session) deps(c *candidate) ([]dep, error) {
	if c.deps != nil {
		return c.deps, nil
	}
	out, err := s.parseDeps(c)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []dep{} // non-nil: memoized, also when there are none
	}
	c.deps = out
	return out, nil
}

// parseDeps parses a candidate's requirements for deps.
func (s *session) parseDeps(c *candidate) ([]dep, error) {
	var lines []string
	if c.installed != nil {
		lines = c.installed.Requires
	} else {
		m, err := s.metadata(c)
		if err != nil {
			return nil, err
		}
		lines = m.RequiresDist
	}
	var provides []string
	if c.meta != nil {
		provides = c.meta.ProvidesExtra
	}
	var out []dep
	src := c.name + " " + c.version.String()
	for _, l := range lines {
		q, err := ParseRequirement(l)
		if err != nil {
			return nil, fmt.Errorf("%s: Requires-Dist %q: %w", src, l, err)
		}
		q.Source = src
		extras := []string{""}
		if q.Marker != nil && strings.Contains(q.Marker.String(), "extra") {
			extras = append(extras, provides...)
			// Markers may name extras that Provides-Extra omits.
			for _, e := range markerExtras(q.Marker) {
				if !slices.Contains(extras, e) {
					extras = append(extras, e)
				}
			}
		}
		for _, e := range extras {
			env := s.env
			if q.Marker != nil {
				env = maps(s.env, "extra", e)
			}
			ok, err := q.Marker.Evaluate(env)
			if err != nil {
				return nil, fmt.Errorf("%s: Requires-Dist %q: %w", src, l, err)
			}
			if ok {
				qq := q
				if e != "" {
					qq.Source = c.name + "[" + e + "] " + c.version.String()
				}
				out = append(out, dep{extra: e, req: qq})
				if e == "" {
					break // applies without any extra, so to every extra too
				}
			}
		}
	}
	return out, nil
}

func markerExtras(m *Marker) []string {
	var out []string
	var walk func(e markerExpr)
	walk = func(e markerExpr) {
		switch x := e.(type) {
		case boolExpr:
			walk(x.l)
			walk(x.r)
		case cmpExpr:
			if x.l.isVar && x.l.s == "extra" && !x.r.isVar {
				out = append(out, NormalizeName(x.r.s))
			}
			if x.r.isVar && x.r.s == "extra" && !x.l.isVar {
				out = append(out, NormalizeName(x.l.s))
			}
		}
	}
	walk(m.expr)
	return out
}

func maps(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// metadata loads a candidate's metadata and checks it describes the candidate.
func (s *session) metadata(c *candidate) (*Metadata, error) {
	if c.meta != nil {
		return c.meta, nil
	}
	f := c.files[0]
	m, err := s.r.client.metadata(s.ctx, f)
	if err != nil {
		return nil, err
	}
	if NormalizeName(m.Name) != c.name {
		return nil, fmt.Errorf("%s (from %s): its metadata names project %q, not %q; the file is mislabelled", f.Filename, f.From, m.Name, c.name)
	}
	if v, _ := ParseVersion(m.Version); v.Compare(c.version) != 0 {
		return nil, fmt.Errorf("%s (from %s): its metadata has version %s, not %s; the file is mislabelled", f.Filename, f.From, m.Version, c.version)
	}
	c.meta = m
	return m, nil
}

func (s *session) requiresPythonOK(spec string) bool {
	if spec == "" {
		return true
	}
	ss, err := ParseSpecifiers(spec)
	if err != nil {
		return true // pip ignores an invalid Requires-Python on an index link
	}
	for _, sp := range ss {
		if !sp.Contains(s.pyFull) {
			return false
		}
	}
	return true
}

// project lists a project's candidates from every source.
func (s *session) project(name string) (*project, error) {
	if p, ok := s.projects[name]; ok {
		return p, nil
	}
	p := &project{}
	links, err := s.projectLinks(name, p)
	if err != nil {
		return nil, err
	}
	byVersion, sdists := s.wheelCandidates(name, p, links)
	for _, c := range byVersion {
		sortFiles(c.files)
		p.cands = append(p.cands, c)
	}
	sort.Slice(p.cands, func(i, j int) bool { return p.cands[i].version.Compare(p.cands[j].version) > 0 })
	s.noteSdists(name, p, byVersion, sdists)
	s.projects[name] = p
	return p, nil
}

// projectLinks lists a project's files: its direct URL, else its page on
// every index and every find-links page or directory. A source that does not
// answer is skipped (see sourceFailed) and recorded in p.sources.
func (s *session) projectLinks(name string, p *project) ([]fileLink, error) {
	if d, ok := s.direct[name]; ok {
		l, err := directLink(d)
		if err != nil {
			return nil, err
		}
		return []fileLink{l}, nil
	}
	type source struct {
		loc, page string
		index     bool
	}
	var srcs []source
	for _, ix := range s.indexes {
		srcs = append(srcs, source{ix, strings.TrimSuffix(ix, "/") + "/" + name + "/", true})
	}
	for _, fl := range s.findLinks {
		srcs = append(srcs, source{fl, fl, false})
	}
	var links []fileLink
	for _, src := range srcs {
		ls, err := s.pageLinks(src.page, !isURL(src.loc), src.index)
		res := sourceResult{name: redact.Password(src.loc)}
		if err != nil {
			if res, err = s.sourceFailed(src.loc, name, src.index, err); err != nil {
				return nil, fmt.Errorf("looking up %s: %w", name, err)
			}
		}
		links = append(links, p.addSource(name, res, ls)...)
	}
	return links, nil
}

// wheelCandidates groups the project's usable wheels by version, noting in
// p.why why others were skipped, and lists its source distributions by
// version.
func (s *session) wheelCandidates(name string, p *project, links []fileLink) (map[string]*candidate, map[string][]string) {
	byVersion := map[string]*candidate{}
	sdists := map[string][]string{}
	for i := range links {
		l := &links[i]
		if !strings.HasSuffix(l.Filename, ".whl") {
			if v, ok := sdistVersion(l.Filename, name); ok {
				sdists[v] = append(sdists[v], l.Filename)
			}
			continue
		}
		if l.project != name {
			continue // another project's wheel, or a name that does not parse
		}
		wf, err := ParseWheelFilename(l.Filename)
		if err != nil || NormalizeName(wf.Name) != name {
			continue
		}
		v, _ := ParseVersion(wf.Version)
		if !s.requiresPythonOK(l.RequiresPython) {
			p.why = append(p.why, fmt.Sprintf("%s requires Python %s", l.Filename, l.RequiresPython))
			continue
		}
		best := -1
		for _, tag := range wf.Tags() {
			if r, ok := s.rank[tag]; ok && (best < 0 || r < best) {
				best = r
			}
		}
		if best < 0 {
			p.why = append(p.why, fmt.Sprintf("%s is not for this interpreter/platform", l.Filename))
			continue
		}
		key := v.String()
		c := byVersion[key]
		if c == nil {
			c = &candidate{name: name, version: v, direct: s.direct[name].URL != ""}
			byVersion[key] = c
		}
		l.rank, l.build = best, wf.Build
		c.files = append(c.files, l)
	}
	return byVersion, sdists
}

// sortFiles orders one version's wheels as pip prefers them: not yanked,
// the best tag, the highest build tag, then by name.
func sortFiles(files []*fileLink) {
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.Yanked != b.Yanked {
			return !a.Yanked
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		an, as := buildKey(a.build)
		bn, bs := buildKey(b.build)
		if an != bn {
			return an > bn
		}
		if as != bs {
			return as > bs
		}
		return a.Filename < b.Filename
	})
}

// noteSdists says when versions newer than every wheel have only source
// distributions: an error's reason when there is no wheel at all, else a
// debug line.
func (s *session) noteSdists(name string, p *project, byVersion map[string]*candidate, sdists map[string][]string) {
	var newestWheel *Version
	if len(p.cands) > 0 {
		newestWheel = &p.cands[0].version
	}
	var onlySdist []string
	for v, fs := range sdists {
		pv, err := ParseVersion(v)
		if err != nil {
			continue
		}
		if _, ok := byVersion[pv.String()]; ok {
			continue
		}
		if newestWheel == nil || pv.Compare(*newestWheel) > 0 {
			onlySdist = append(onlySdist, fs...)
		}
	}
	sort.Strings(onlySdist)
	if len(onlySdist) == 0 {
		return
	}
	if newestWheel == nil {
		p.why = append(p.why, fmt.Sprintf("%s has only source distributions (%s); assemble installs wheels only: build a wheel (pip wheel %s -w wheelhouse) and add --find-links wheelhouse", name, strings.Join(onlySdist, ", "), name))
	} else {
		logctx.From(s.ctx).Debug("wheel: newer versions have no wheel and are skipped", "project", name, "files", onlySdist)
	}
}

func sdistVersion(fn, name string) (string, bool) {
	lower := strings.ToLower(fn)
	base := ""
	for _, e := range sourceExts {
		if strings.HasSuffix(lower, e) {
			base = fn[:len(fn)-len(e)]
			break
		}
	}
	if base == "" {
		return "", false
	}
	for i := 0; i < len(base); i++ {
		if base[i] == '-' && NormalizeName(base[:i]) == name {
			return base[i+1:], true
		}
	}
	return "", false
}

func directLink(q Requirement) (fileLink, error) {
	u, err := url.Parse(q.URL)
	if err != nil {
		return fileLink{}, fmt.Errorf("%s: bad URL %q: %w", q.Source, redact.Password(q.URL), err)
	}
	l := fileLink{URL: q.URL, From: q.Source, Filename: filepath.Base(u.Path)}
	l.project = linkProject(l.Filename)
	if u.Scheme == "file" {
		l.Local = filepath.FromSlash(u.Path)
		if _, err := os.Stat(l.Local); err != nil {
			return fileLink{}, fmt.Errorf("%s: wheel %s: %w", q.Source, l.Local, err)
		}
	}
	if algo, h, ok := strings.Cut(u.Fragment, "="); ok && algo == "sha256" {
		l.SHA256 = strings.ToLower(h)
	}
	u.Fragment = ""
	l.URL = u.String()
	return l, nil
}

// hashes is the set of allowed sha256 digests for a project in hash mode.
func (s *session) hashes(reqs []Requirement) map[string]bool {
	var out map[string]bool
	for _, q := range reqs {
		if len(q.Hashes) == 0 {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		for _, h := range q.Hashes {
			out[strings.TrimPrefix(h, "sha256:")] = true
		}
	}
	return out
}

// options lists the candidates that fit every requirement on a project,
// best first: an installed copy, then versions newest first.
func (s *session) options(name string, reqs []Requirement) ([]*candidate, *conflictError, error) {
	all := append(append([]Requirement{}, reqs...), s.cons[name]...)
	var specs Specifiers
	pinned := false
	for _, q := range all {
		specs = append(specs, q.Specifier...)
		pinned = pinned || q.Specifier.IsPinned()
	}
	var out []*candidate
	if inst, ok := s.t.Installed[name]; ok && s.direct[name].URL == "" {
		if v, err := ParseVersion(inst.Version); err == nil && specs.Contains(v, true) && (!s.hashMode || s.hashes(all) == nil) {
			out = append(out, &candidate{name: name, version: v, installed: &inst})
		}
	}
	p, err := s.project(name)
	if err != nil {
		if len(out) > 0 {
			// The base's copy fits; an unreachable index (offline, air-gapped)
			// only matters if backtracking needs another version.
			logctx.From(s.ctx).Debug("wheel: index lookup failed; using the installed copy only", "project", name, "err", err)
			return out, nil, nil
		}
		return nil, nil, err
	}
	allowed := s.hashes(all)
	var versions []Version
	byV := map[string]*candidate{}
	for _, c := range p.cands {
		if c.yanked() && !pinned {
			continue
		}
		if allowed != nil {
			// pip's hash-checking mode: only files whose hash was given qualify.
			var keep []*fileLink
			for _, f := range c.files {
				if f.SHA256 == "" {
					if _, h, err := s.r.client.fetchFile(s.ctx, *f); err == nil {
						f.SHA256 = h
					}
				}
				if allowed[f.SHA256] {
					keep = append(keep, f)
				}
			}
			if len(keep) == 0 {
				continue
			}
			c.files = keep
		}
		versions = append(versions, c.version)
		byV[c.version.String()] = c
	}
	for _, v := range specs.Filter(versions, s.pre) {
		c := byV[v.String()]
		if len(out) > 0 && out[0].installed != nil && out[0].version.Compare(v) == 0 {
			continue
		}
		if c.yanked() {
			logctx.From(s.ctx).Warn("wheel: installing a yanked release because it is pinned", "project", name, "version", v.String(), "reason", c.files[0].YankedReason)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		ce := &conflictError{name: name, reqs: all}
		switch {
		case len(p.cands) == 0 && len(p.why) > 0:
			ce.reason = "no usable wheel: " + strings.Join(p.why, "; ")
		case len(p.cands) == 0 && len(p.sources) > 0:
			ce.reason = "no distributions found" // explain lists what each source said
		case len(p.cands) == 0:
			ce.reason = "no distributions found in " + strings.Join(s.sourceNames(), ", ")
		case allowed != nil:
			ce.reason = "no file matches the --hash values given (hash-checking mode)"
		default:
			var avail []string
			for _, c := range p.cands {
				v := c.version.String()
				if c.yanked() {
					v += " (yanked)"
				}
				avail = append(avail, v)
			}
			ce.available = strings.Join(avail, ", ")
		}
		return nil, ce, nil
	}
	return out, nil, nil
}

func (s *session) sourceNames() []string {
	var out []string
	for _, i := range s.indexes {
		out = append(out, redact.Password(i))
	}
	out = append(out, s.findLinks...)
	if len(out) == 0 {
		out = []string{"no index (--no-index without --find-links)"}
	}
	return out
}

func satisfies(c *candidate, q Requirement) bool {
	if q.URL != "" && c.installed != nil {
		return false
	}
	return q.Specifier.Contains(c.version, true)
}

// solve is a depth-first search with chronological backtracking: pin the
// next unpinned project to its best remaining candidate, and back up when
// some project's requirements cannot all hold.
func (s *session) solve(pins map[string]*candidate, depth int) (map[string]*candidate, error) {
	s.rounds++
	if s.rounds > s.r.maxRounds {
		return nil, fmt.Errorf("gave up after %d resolution steps; pin some versions to narrow the search", s.r.maxRounds)
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	col, err := s.collect(pins)
	if err != nil {
		return nil, err
	}
	for _, name := range col.order {
		c := pins[name]
		if c == nil {
			continue
		}
		for _, q := range append(col.reqs[name], s.cons[name]...) {
			if !satisfies(c, q) {
				return nil, s.conflict(&conflictError{name: name, reqs: append(col.reqs[name], s.cons[name]...)}, depth)
			}
		}
	}
	next := ""
	for _, name := range col.order { // exact pins first: they cannot branch
		if pins[name] == nil && slices.ContainsFunc(col.reqs[name], func(q Requirement) bool { return q.Specifier.IsPinned() || q.URL != "" }) {
			next = name
			break
		}
	}
	if next == "" {
		for _, name := range col.order {
			if pins[name] == nil {
				next = name
				break
			}
		}
	}
	if next == "" {
		return pins, nil
	}
	opts, ce, err := s.options(next, col.reqs[next])
	if err != nil {
		return nil, err
	}
	if ce != nil {
		return nil, s.conflict(ce, depth)
	}
	var last error
	for _, c := range opts {
		np := make(map[string]*candidate, len(pins)+1)
		for k, v := range pins {
			np[k] = v
		}
		np[next] = c
		if c.installed == nil {
			if _, err := s.metadata(c); err != nil {
				return nil, err
			}
			if !s.requiresPythonOK(c.meta.RequiresPython) {
				last = s.conflict(&conflictError{name: next, reqs: col.reqs[next], reason: fmt.Sprintf("%s %s requires Python %s", c.meta.Name, c.meta.Version, c.meta.RequiresPython)}, depth)
				continue
			}
		}
		res, err := s.solve(np, depth+1)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		last = err
	}
	return nil, last
}

// conflict records the conflict found deepest in the search: the one that
// explains the failure best.
func (s *session) conflict(ce *conflictError, depth int) error {
	if s.best == nil || depth > s.bestDepth {
		s.best, s.bestDepth = ce, depth
	}
	return ce
}

func (s *session) result(pins map[string]*candidate) ([]Resolved, error) {
	col, err := s.collect(pins)
	if err != nil {
		return nil, err
	}
	topNames := map[string]bool{}
	for _, q := range s.top {
		topNames[q.Key()] = true
	}
	var out []Resolved
	for _, name := range col.order {
		c := pins[name]
		var by []string
		for _, q := range col.reqs[name] {
			if !slices.Contains(by, q.Source) {
				by = append(by, q.Source)
			}
		}
		res := Resolved{Name: c.name, Version: c.version.String(), Requested: topNames[name], RequestedBy: by}
		if c.installed != nil {
			res.Name, res.Version, res.Installed = c.installed.Name, c.installed.Version, true
			out = append(out, res)
			continue
		}
		f := c.files[0]
		if f.SHA256 == "" {
			_, h, err := s.r.client.fetchFile(s.ctx, *f)
			if err != nil {
				return nil, err
			}
			f.SHA256 = h
		}
		if s.hashMode {
			allowed := s.hashes(append(col.reqs[name], s.cons[name]...))
			if allowed == nil {
				return nil, fmt.Errorf("hash-checking mode: %s %s (required by %s) has no --hash; add \"%s==%s --hash=sha256:%s\" to the requirements file", c.name, c.version, strings.Join(by, ", "), c.meta.Name, c.version, f.SHA256)
			}
			if !allowed[f.SHA256] {
				return nil, fmt.Errorf("hash-checking mode: %s has sha256 %s, which is not among the --hash values given for %s", f.Filename, f.SHA256, c.name)
			}
			if !c.direct && !slices.ContainsFunc(append(col.reqs[name], s.cons[name]...), func(q Requirement) bool { return len(q.Hashes) > 0 && q.Specifier.IsPinned() }) {
				return nil, fmt.Errorf("hash-checking mode: %s is not pinned with ==; pin it (%s==%s) next to its --hash", c.name, c.meta.Name, c.version)
			}
		}
		res.Name = c.meta.Name
		res.Filename = f.Filename
		res.URL = redact.Userinfo(f.URL)
		res.SHA256 = f.SHA256
		res.Direct = c.direct
		if c.direct {
			// Keep the requirement's URL as written (without credentials):
			// direct_url.json records it, with its hash fragment if any.
			res.URL = redact.Userinfo(s.direct[name].URL)
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return NormalizeName(out[i].Name) < NormalizeName(out[j].Name) })
	return out, nil
}

// Download stores a resolved wheel in the cache's download store (fetching
// it when missing) and returns its path.
func (r *Resolver) Download(ctx context.Context, res Resolved) (string, error) {
	l := fileLink{Filename: res.Filename, URL: res.URL, SHA256: res.SHA256, From: res.URL}
	if u, err := url.Parse(res.URL); err == nil && u.Scheme == "file" {
		l.Local = filepath.FromSlash(u.Path)
	}
	p, _, err := r.client.fetchFile(ctx, l)
	return p, err
}
