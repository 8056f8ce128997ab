package conda

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
)

// Index is the repodata of a list of channels, in priority order (the first
// channel wins under strict priority), each channel's subdirs in order.
type Index struct {
	subdirs []*Repodata
	rank    map[string]int // channel URL -> priority (0 best)
}

// NewIndex makes an index of subdirs, whose channels rank in the order they
// first appear.
func NewIndex(subdirs ...*Repodata) *Index {
	ix := &Index{subdirs: subdirs, rank: map[string]int{}}
	for _, rd := range subdirs {
		if _, ok := ix.rank[rd.Channel.URL]; !ok {
			ix.rank[rd.Channel.URL] = len(ix.rank)
		}
	}
	return ix
}

// Files are the repodata files the index was read from, in channel order.
func (ix *Index) Files() []IndexFile {
	var out []IndexFile
	for _, rd := range ix.subdirs {
		if rd.File.URL != "" {
			out = append(out, rd.File)
		}
	}
	return out
}

// Index reads the repodata of channels for a platform subdir ("linux-64")
// and noarch.
func (c *Client) Index(ctx context.Context, channels []Channel, subdir string) (*Index, error) {
	var rds []*Repodata
	for _, ch := range channels {
		for _, sd := range []string{subdir, "noarch"} {
			rd, err := c.Repodata(ctx, ch, sd)
			if err != nil {
				return nil, err
			}
			rds = append(rds, rd)
		}
	}
	return NewIndex(rds...), nil
}

// Request is one MatchSpec asked for, and where ("environment.yml:5").
type Request struct {
	Spec  string
	Where string
}

// SolveOption adjusts Solve.
type SolveOption func(*solveOptions)

type solveOptions struct {
	virtual   []Record
	installed []Record
	flexible  bool
	maxSteps  int
}

// WithVirtual gives the virtual packages the target provides (see
// VirtualPackages).
func WithVirtual(recs ...Record) SolveOption {
	return func(o *solveOptions) { o.virtual = append(o.virtual, recs...) }
}

// WithInstalled gives packages already in the environment (a layer below):
// they are kept as they are, satisfy what depends on them, and are not part
// of the solution.
func WithInstalled(recs ...Record) SolveOption {
	return func(o *solveOptions) { o.installed = append(o.installed, recs...) }
}

// WithFlexiblePriority lets a package come from a lower channel when a
// higher one has it too (conda's channel_priority: flexible); the default
// is strict, as conda-forge recommends.
func WithFlexiblePriority() SolveOption { return func(o *solveOptions) { o.flexible = true } }

// WithMaxSteps bounds the search (default 200000 decisions).
func WithMaxSteps(n int) SolveOption { return func(o *solveOptions) { o.maxSteps = n } }

// VirtualPackages are the virtual packages of a Linux target: __unix,
// __linux (the kernel is the runtime host's, unknown at build time: a
// version conda-forge's packages accept is assumed), __glibc from the
// image's C library ("" when it has none), __archspec for the machine.
func VirtualPackages(glibc, arch string) []Record {
	v := []Record{
		{Name: "__unix", Version: "0", Build: "0"},
		{Name: "__linux", Version: DefaultLinuxVersion, Build: "0"},
	}
	if glibc != "" {
		v = append(v, Record{Name: "__glibc", Version: glibc, Build: "0"})
	}
	if arch != "" {
		v = append(v, Record{Name: "__archspec", Version: "1", Build: arch})
	}
	return v
}

// DefaultLinuxVersion is __linux's version: the kernel an image runs on is
// not known when it is built.
const DefaultLinuxVersion = "5.10"

// Solve resolves reqs against ix: every request and every dependency of a
// chosen package satisfied, every constrains of a chosen package respected,
// preferring (per package) the higher channel, fewer track_features, the
// higher version, then the higher build number, and backtracking when a
// choice leads to a conflict. The solution is in install order.
func (ix *Index) Solve(reqs []Request, opts ...SolveOption) (Solution, error) {
	o := solveOptions{maxSteps: 200000}
	for _, f := range opts {
		f(&o)
	}
	s := &solver{ix: ix, o: o, specs: map[string]*MatchSpec{}, cands: map[string][]*Record{}, top: map[string]int{}}
	st := &state{assigned: map[string]*Record{}, reqs: map[string][]req{}, cons: map[string][]req{}, fixed: map[string]string{}, memo: map[string][]*Record{}}
	for i := range o.virtual {
		r := &o.virtual[i]
		st.assigned[r.Name], st.fixed[r.Name] = r, "provided by the image"
	}
	for i := range o.installed {
		r := &o.installed[i]
		st.assigned[r.Name], st.fixed[r.Name] = r, installedBelow
	}
	sol := Solution{}
	for _, q := range reqs {
		ms, err := ParseMatchSpec(q.Spec)
		if err != nil {
			return Solution{}, fmt.Errorf("%s: %w", q.Where, err)
		}
		sol.Requested = append(sol.Requested, q.Spec)
		st.reqs[ms.Name] = append(st.reqs[ms.Name], req{spec: ms, why: q.Where + " asks for " + ms.String()})
		if _, ok := s.top[ms.Name]; !ok {
			s.top[ms.Name] = len(s.top)
		}
	}
	if err := s.checkFixed(st); err != nil {
		return Solution{}, err
	}
	final, err := s.search(st, 0)
	if err != nil {
		return Solution{}, err
	}
	if final == nil {
		return Solution{}, s.conflictError()
	}
	sol.Records = installOrder(final, s)
	return sol, nil
}

// req is one constraint on a package name and the chain that led to it.
type req struct {
	spec *MatchSpec
	why  string
}

// state is one point of the search: what is chosen, and what is required
// (reqs) or allowed (cons) of each name.
type state struct {
	assigned map[string]*Record
	reqs     map[string][]req
	cons     map[string][]req
	fixed    map[string]string // names not chosen by the solver, and why
	memo     map[string][]*Record
}

func (st *state) clone() *state {
	return &state{assigned: maps.Clone(st.assigned), reqs: maps.Clone(st.reqs), cons: maps.Clone(st.cons), fixed: st.fixed, memo: maps.Clone(st.memo)}
}

type solver struct {
	ix    *Index
	o     solveOptions
	top   map[string]int // names the user asked for, in order
	specs map[string]*MatchSpec
	cands map[string][]*Record
	steps int
	best  *conflict
}

// conflict is a name no candidate could satisfy, with every request on it.
type conflict struct {
	name  string
	depth int
	reqs  []req
	fixed string
	tried []*Record
}

func (s *solver) search(st *state, depth int) (*state, error) {
	if s.steps++; s.steps > s.o.maxSteps {
		return nil, fmt.Errorf("the solver gave up after %d decisions: pin more versions in the environment file, or give an explicit lock file", s.o.maxSteps)
	}
	name, viable, err := s.pick(st)
	if err != nil || name == "" {
		return st, err
	}
	if len(viable) == 0 {
		s.noteConflict(st, name, depth)
		return nil, nil
	}
	for _, c := range viable {
		next, ok, err := s.assign(st, name, c, depth)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		done, err := s.search(next, depth+1)
		if err != nil || done != nil {
			return done, err
		}
	}
	return nil, nil
}

// pick chooses the next name to decide, of the required names not yet
// chosen: one with no candidate left (a dead end shows at once), else the
// first the user asked for (so what was asked for gets the newest versions,
// as conda maximises requested packages first), else the one with fewest
// candidates; ties by name.
func (s *solver) pick(st *state) (string, []*Record, error) {
	var best string
	var bestViable []*Record
	names := make([]string, 0, len(st.reqs))
	for n := range st.reqs {
		if st.assigned[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	topName, topRank := "", len(s.top)
	for _, n := range names {
		v, err := s.viable(st, n)
		if err != nil {
			return "", nil, err
		}
		if len(v) == 0 {
			return n, nil, nil
		}
		if r, ok := s.top[n]; ok && r < topRank {
			topName, topRank = n, r
		}
		if best == "" || len(v) < len(bestViable) {
			best, bestViable = n, v
		}
	}
	if topName != "" {
		return topName, st.memo[topName], nil
	}
	return best, bestViable, nil
}

// viable lists name's candidates that satisfy every request and constraint
// on it, best first; kept in the state until they change.
func (s *solver) viable(st *state, name string) ([]*Record, error) {
	if v, ok := st.memo[name]; ok {
		return v, nil
	}
	all, err := s.candidates(name, st.reqs[name])
	if err != nil {
		return nil, err
	}
	out := []*Record{}
	for _, r := range all {
		if s.satisfies(r, st.reqs[name]) && s.satisfies(r, st.cons[name]) {
			out = append(out, r)
		}
	}
	st.memo[name] = out
	return out, nil
}

func (s *solver) satisfies(r *Record, reqs []req) bool {
	for _, q := range reqs {
		if !q.spec.Match(r) {
			return false
		}
		if q.spec.Channel != "" && r.Channel != "" && !s.channelOf(r).Matches(q.spec.Channel) {
			return false
		}
	}
	return true
}

func (s *solver) channelOf(r *Record) Channel {
	for _, rd := range s.ix.subdirs {
		if rd.Channel.URL == r.Channel {
			return rd.Channel
		}
	}
	return Channel{Name: r.Channel, URL: r.Channel}
}

// assign chooses c for name: its depends must hold of what is chosen and
// leave every new dependency a candidate, its constrains must hold of
// what is chosen.
func (s *solver) assign(st *state, name string, c *Record, depth int) (*state, bool, error) {
	next := st.clone()
	next.assigned[name] = c
	why := firstWhy(st.reqs[name])
	who := why + " → " + c.Name + " " + c.Version + " " + c.Build
	for _, cs := range c.Constrains {
		ms, err := s.spec(cs, c)
		if err != nil {
			return nil, false, err
		}
		q := req{spec: ms, why: who + " constrains " + cs}
		next.cons[ms.Name] = append(append([]req(nil), next.cons[ms.Name]...), q)
		delete(next.memo, ms.Name)
		if a := next.assigned[ms.Name]; a != nil && !s.satisfies(a, []req{q}) {
			s.noteConflict(next, ms.Name, depth+1)
			return nil, false, nil
		}
	}
	var added []string
	for _, d := range c.Depends {
		ms, err := s.spec(d, c)
		if err != nil {
			return nil, false, err
		}
		q := req{spec: ms, why: who + " depends on " + d}
		next.reqs[ms.Name] = append(append([]req(nil), next.reqs[ms.Name]...), q)
		delete(next.memo, ms.Name)
		if a := next.assigned[ms.Name]; a != nil && !s.satisfies(a, []req{q}) {
			s.noteConflict(next, ms.Name, depth+1)
			return nil, false, nil
		}
		added = append(added, ms.Name)
	}
	// Forward check: a dependency left with no candidate fails here, where
	// the conflict is easiest to explain.
	for _, n := range added {
		if next.assigned[n] != nil {
			continue
		}
		v, err := s.viable(next, n)
		if err != nil {
			return nil, false, err
		}
		if len(v) == 0 {
			s.noteConflict(next, n, depth+1)
			return nil, false, nil
		}
	}
	return next, true, nil
}

func firstWhy(reqs []req) string {
	if len(reqs) == 0 {
		return ""
	}
	return reqs[0].why
}

// spec parses a record's dependency, once.
func (s *solver) spec(text string, of *Record) (*MatchSpec, error) {
	if ms, ok := s.specs[text]; ok {
		return ms, nil
	}
	ms, err := ParseMatchSpec(text)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", of.Filename, of.Channel, err)
	}
	s.specs[text] = ms
	return ms, nil
}

// candidates lists every record of name, best first: the channel's rank
// (and, under strict priority, only the best channel that has the name,
// unless a request names another), fewer track_features, higher version,
// higher build number, newer.
func (s *solver) candidates(name string, reqs []req) ([]*Record, error) {
	all, ok := s.cands[name]
	if !ok {
		for _, rd := range s.ix.subdirs {
			recs, err := rd.Records(name)
			if err != nil {
				return nil, err
			}
			for i := range recs {
				all = append(all, &recs[i])
			}
		}
		sort.SliceStable(all, func(i, j int) bool { return s.better(all[i], all[j]) })
		s.cands[name] = all
	}
	if s.o.flexible || len(all) == 0 {
		return all, nil
	}
	for _, q := range reqs {
		if q.spec.Channel != "" {
			return all, nil // a request names its channel: priority does not choose
		}
	}
	top := s.ix.rank[all[0].Channel]
	n := 0
	for n < len(all) && s.ix.rank[all[n].Channel] == top {
		n++
	}
	return all[:n], nil
}

func (s *solver) better(a, b *Record) bool {
	if ra, rb := s.ix.rank[a.Channel], s.ix.rank[b.Channel]; ra != rb {
		return ra < rb
	}
	if fa, fb := trackFeatureCount(a), trackFeatureCount(b); fa != fb {
		return fa < fb
	}
	va, ea := parseVersionCached(a.Version)
	vb, eb := parseVersionCached(b.Version)
	if ea == nil && eb == nil {
		if c := va.Compare(vb); c != 0 {
			return c > 0
		}
	}
	if a.BuildNumber != b.BuildNumber {
		return a.BuildNumber > b.BuildNumber
	}
	if a.Timestamp != b.Timestamp {
		return a.Timestamp > b.Timestamp
	}
	return a.Filename < b.Filename
}

func (s *solver) noteConflict(st *state, name string, depth int) {
	if s.best != nil && s.best.depth <= depth {
		return
	}
	all, _ := s.candidates(name, st.reqs[name])
	c := &conflict{name: name, depth: depth, reqs: append(append([]req(nil), st.reqs[name]...), st.cons[name]...), tried: all}
	if a := st.assigned[name]; a != nil {
		why := st.fixed[name]
		if why == "" {
			why = "chosen for " + firstWhy(st.reqs[name])
		}
		c.fixed = fmt.Sprintf("%s %s %s (%s)", a.Name, a.Version, a.Build, why)
	}
	s.best = c
}

const installedBelow = "installed in the environment below"

// ConflictError is an unsatisfiable environment: the package no choice
// could satisfy, and every request on it with the chain that led to it.
type ConflictError struct {
	Name     string
	Requests []string
	// Below is set when the package is one the environment below holds,
	// which a layer above cannot change.
	Below bool
	// Fixed is the package's record when the image or the environment
	// below already has it.
	Fixed     string
	Available []string
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot satisfy %s:", e.Name)
	for _, r := range e.Requests {
		fmt.Fprintf(&b, "\n  %s", r)
	}
	switch {
	case e.Fixed != "":
		fmt.Fprintf(&b, "\n  but %s is %s", e.Name, e.Fixed)
	case strings.HasPrefix(e.Name, "__"):
		fmt.Fprintf(&b, "\n  but %s is a virtual package the image does not provide (or not in that version)", e.Name)
	case len(e.Available) == 0:
		fmt.Fprintf(&b, "\n  but no channel has a package %s", e.Name)
	default:
		const show = 8
		av := e.Available
		more := ""
		if len(av) > show {
			av, more = av[:show], fmt.Sprintf(", and %d more", len(e.Available)-show)
		}
		fmt.Fprintf(&b, "\n  available: %s%s", strings.Join(av, ", "), more)
	}
	return b.String()
}

func (s *solver) conflictError() error {
	c := s.best
	if c == nil {
		return fmt.Errorf("the environment cannot be resolved")
	}
	e := &ConflictError{Name: c.name, Fixed: c.fixed, Below: strings.HasSuffix(c.fixed, "("+installedBelow+")")}
	for _, q := range c.reqs {
		e.Requests = append(e.Requests, q.why)
	}
	for _, r := range c.tried {
		e.Available = append(e.Available, r.Version+" "+r.Build)
	}
	return e
}

// checkFixed checks requests on names the image or the environment below
// already fixes.
func (s *solver) checkFixed(st *state) error {
	for name, reqs := range st.reqs {
		if a := st.assigned[name]; a != nil && !s.satisfies(a, reqs) {
			s.noteConflict(st, name, 0)
			return s.conflictError()
		}
	}
	return nil
}

// installOrder lists the solver's choices (not the fixed packages) so that
// each comes after what it depends on; ties, and cycles, by name.
func installOrder(st *state, s *solver) []Record {
	names := make([]string, 0, len(st.assigned))
	for n := range st.assigned {
		if _, fixed := st.fixed[n]; !fixed {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	seen := map[string]bool{}
	var out []Record
	var visit func(n string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		r := st.assigned[n]
		var deps []string
		for _, d := range r.Depends {
			if ms := s.specs[d]; ms != nil {
				deps = append(deps, ms.Name)
			}
		}
		sort.Strings(deps)
		for _, d := range deps {
			if _, fixed := st.fixed[d]; st.assigned[d] != nil && !fixed {
				visit(d)
			}
		}
		out = append(out, *r)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}
