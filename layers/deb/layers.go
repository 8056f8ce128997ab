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
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// layerFormat changes whenever the entries written for the same packages
// change (the unpacker, the dpkg database, the native maintainer-script
// actions); it is part of every deb layer's key.
const layerFormat = "assemble-deb-layer-v1"

// LayerOption shapes how packages are grouped into layers.
type LayerOption func(*layerConfig)

type layerConfig struct {
	budget     int
	baseStatus []byte
	hasBase    bool
	stable     func(*Package) bool
}

// WithLayerBudget caps the number of layers (default 3, at least 1).
func WithLayerBudget(n int) LayerOption {
	return func(c *layerConfig) {
		if n > 0 {
			c.budget = n
		}
	}
}

// WithBaseStatus says the layers go on top of a base image whose dpkg status
// file (/var/lib/dpkg/status) is status. Its entries are kept in the status
// file every layer writes, and the root skeleton (merged-/usr links, dpkg
// directories, /etc/passwd and the like) is left to the base.
func WithBaseStatus(status []byte) LayerOption {
	return func(c *layerConfig) {
		c.baseStatus = status
		c.hasBase = true
	}
}

// WithStable picks the packages of the bottom ("os") group, which is
// shared by every image built from the same suite. Packages these depend
// on join the group too. Default: DefaultStable.
func WithStable(f func(*Package) bool) LayerOption {
	return func(c *layerConfig) { c.stable = f }
}

// baseExtras are the packages BaseRequest adds to Priority: required.
var baseExtras = []string{"ca-certificates", "netbase", "tzdata", "usr-is-merged"}

// DefaultStable is true for the minimal Debian root's packages: Essential,
// Priority required or important, and the extras BaseRequest adds
// (ca-certificates, netbase, tzdata, usr-is-merged).
func DefaultStable(p *Package) bool {
	if p.Essential || p.Priority == "required" || p.Priority == "important" {
		return true
	}
	for _, n := range baseExtras {
		if p.Name == n {
			return true
		}
	}
	return false
}

// Layers groups resolved packages into at most budget layers and returns
// their specs, bottom first. The groups are: the stable OS set (see
// WithStable), packages pulled in as dependencies, and packages requested
// by name; when there are more groups than the budget allows, the top
// groups are merged.
//
// Every layer carries a complete dpkg database for itself and everything
// below it: var/lib/dpkg/status lists all packages up to and including the
// layer (and the base's, see WithBaseStatus), and info/<pkg>.list,
// .md5sums, .conffiles and the maintainer scripts are written for the
// layer's own packages. A layer's bytes thus depend only on its own packages
// and those below, never on what is stacked above, so the OS layer is the
// same in every image of a suite snapshot and is stored and pushed once.
//
// Layers does no I/O: a layer's .deb files are fetched when its entries are
// written (which a cached layer never needs). Use Fetch to download ahead,
// or to learn at once everything an offline build lacks.
func (c *Client) Layers(ctx context.Context, pkgs []*Package, opts ...LayerOption) ([]layers.Spec, error) {
	cfg := &layerConfig{budget: 3, stable: DefaultStable}
	for _, o := range opts {
		o(cfg)
	}
	if len(pkgs) == 0 {
		return nil, nil // everything asked for is in the base already
	}
	arch := pkgs[0].target
	seen := map[string]*Package{}
	for _, p := range pkgs {
		if p.target != arch {
			return nil, fmt.Errorf("packages for two architectures (%s and %s) in one image", arch, p.target)
		}
		if q, ok := seen[p.Name]; ok {
			return nil, fmt.Errorf("package %s given twice (%s and %s)", p.Name, q.Version, p.Version)
		}
		seen[p.Name] = p
	}
	groups := groupPackages(pkgs, cfg)
	var baseDigest string
	if cfg.hasBase {
		sum := sha256.Sum256(cfg.baseStatus)
		baseDigest = hex.EncodeToString(sum[:])
	}
	var specs []layers.Spec
	var below []*Package
	for i, g := range groups {
		s := &LayerSpec{
			c:          c,
			cfg:        cfg,
			arch:       arch,
			group:      g.name,
			root:       i == 0 && !cfg.hasBase,
			pkgs:       canonicalOrder(g.pkgs),
			below:      append([]*Package(nil), below...),
			baseDigest: baseDigest,
		}
		specs = append(specs, s)
		below = append(below, s.pkgs...)
	}
	return specs, nil
}

type group struct {
	name string
	pkgs []*Package
}

// groupPackages splits packages into os / deps / requested groups within the budget.
func groupPackages(pkgs []*Package, cfg *layerConfig) []group {
	byName := map[string]*Package{}
	for _, p := range pkgs {
		byName[p.Name] = p
	}
	stable := map[string]bool{}
	var queue []*Package
	for _, p := range pkgs {
		if cfg.stable(p) {
			stable[p.Name] = true
			queue = append(queue, p)
		}
	}
	// Close the stable set under dependencies, so its layer's dpkg database
	// is consistent on its own.
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, d := range depsWithin(p, byName) {
			if !stable[d.Name] {
				stable[d.Name] = true
				queue = append(queue, d)
			}
		}
	}
	var osPkgs, deps, req []*Package
	for _, p := range pkgs {
		switch {
		case stable[p.Name]:
			osPkgs = append(osPkgs, p)
		case p.Requested == "":
			deps = append(deps, p)
		default:
			req = append(req, p)
		}
	}
	var gs []group
	for _, g := range []group{{"os", osPkgs}, {"deps", deps}, {"requested", req}} {
		if len(g.pkgs) > 0 {
			gs = append(gs, g)
		}
	}
	for len(gs) > cfg.budget {
		n := len(gs)
		gs[n-2] = group{name: gs[n-2].name + "+" + gs[n-1].name, pkgs: append(gs[n-2].pkgs, gs[n-1].pkgs...)}
		gs = gs[:n-1]
	}
	return gs
}

// depsWithin returns the packages of set that satisfy p's Pre-Depends and
// Depends (by name or Provides; versions are the resolver's business).
func depsWithin(p *Package, set map[string]*Package) []*Package {
	var out []*Package
	for _, field := range []string{p.PreDepends, p.Depends} {
		rels, err := parseRelations(field)
		if err != nil {
			continue
		}
		for _, alts := range rels {
			for _, a := range alts {
				if q, ok := set[a.name]; ok {
					out = append(out, q)
					break
				}
				var prov *Package
				for _, q := range sortedPackages(set) {
					if providesName(q, a.name) {
						prov = q
						break
					}
				}
				if prov != nil {
					out = append(out, prov)
					break
				}
			}
		}
	}
	return out
}

func providesName(p *Package, name string) bool {
	if p.Provides == "" || !strings.Contains(p.Provides, name) {
		return false
	}
	rels, err := parseRelations(p.Provides)
	if err != nil {
		return false
	}
	for _, alts := range rels {
		for _, a := range alts {
			if a.name == name {
				return true
			}
		}
	}
	return false
}

func sortedPackages(set map[string]*Package) []*Package {
	out := make([]*Package, 0, len(set))
	for _, p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// canonicalOrder puts a layer's packages in dependency order (dependencies
// first, cycles broken by name), a function of the set alone, so the same
// packages always give the same bytes whatever order they were passed in.
func canonicalOrder(pkgs []*Package) []*Package {
	set := map[string]*Package{}
	for _, p := range pkgs {
		set[p.Name] = p
	}
	state := map[string]int{}
	var out []*Package
	var walk func(p *Package)
	walk = func(p *Package) {
		if state[p.Name] != 0 {
			return
		}
		state[p.Name] = 1
		deps := depsWithin(p, set)
		sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
		for _, d := range deps {
			walk(d)
		}
		out = append(out, p)
	}
	for _, p := range sortedPackages(set) {
		walk(p)
	}
	return out
}

// LayerSpec is one layer of unpacked Debian packages. It implements
// layers.Spec, and io.Closer: Close removes staging files left behind when
// a layer's entries were not all written (they are removed as they are read
// otherwise).
type LayerSpec struct {
	c          *Client
	cfg        *layerConfig
	arch       string
	group      string
	root       bool
	pkgs       []*Package
	below      []*Package
	baseDigest string

	mu     sync.Mutex
	stages []string
	docs   *DocRecord // what the copyright paths hold (see WithLicenseReader)
}

// Packages returns the layer's own packages, in install order.
func (s *LayerSpec) Packages() []*Package { return s.pkgs }

// Group is "os", "deps", "requested" or a merge of them ("deps+requested").
func (s *LayerSpec) Group() string { return s.group }

// Describe implements layers.Spec.
func (s *LayerSpec) Describe() string {
	names := make([]string, 0, len(s.pkgs))
	for _, p := range s.pkgs {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	list := strings.Join(names, " ")
	if len(names) > 6 {
		list = strings.Join(names[:3], " ") + " ... " + names[len(names)-1]
	}
	return fmt.Sprintf("deb %s (%s): %d packages: %s", s.group, s.arch, len(s.pkgs), list)
}

// SizeEstimate is the sum of the packages' Installed-Size (KiB, as
// Debian's control files give it), about what the layer's tar holds, for
// progress.
func (s *LayerSpec) SizeEstimate() int64 {
	var kib int64
	for _, p := range s.pkgs {
		kib += p.InstalledSize
	}
	return kib * 1024
}

// Key implements layers.Spec: a digest over the layer's packages (name,
// version, architecture, .deb SHA256), those below it (they are in its dpkg
// status), the base's status, the target architecture and the unpacker's
// format. It needs no I/O.
func (s *LayerSpec) Key(ctx context.Context) (string, error) {
	h := sha256.New()
	line := func(parts ...string) {
		h.Write([]byte(strings.Join(parts, " ")))
		h.Write([]byte{'\n'})
	}
	line(layerFormat, nativeVersion)
	line("arch", s.arch)
	line("root", strconv.FormatBool(s.root))
	line("base", strconv.FormatBool(s.cfg.hasBase), s.baseDigest)
	for _, set := range []struct {
		tag  string
		pkgs []*Package
	}{{"below", s.below}, {"pkg", s.pkgs}} {
		ids := make([]string, 0, len(set.pkgs))
		for _, p := range set.pkgs {
			ids = append(ids, strings.Join([]string{set.tag, p.Name, p.Version, p.Architecture, p.SHA256}, " "))
		}
		sort.Strings(ids)
		for _, id := range ids {
			line(id)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Close removes staging directories this spec created.
func (s *LayerSpec) Close() error {
	s.mu.Lock()
	stages := s.stages
	s.stages = nil
	s.mu.Unlock()
	var errs []error
	for _, d := range stages {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tmpDir is where unpacking stages files: the cache's tmp, or the client's
// own staging directory (tests over a cache other processes share, which
// check for this client's leftovers only).
func (c *Client) tmpDir() string {
	if c.stageDir != "" {
		return c.stageDir
	}
	return filepath.Join(c.cache.Dir(), "tmp")
}

// mkStage makes a staging directory in tmpDir.
func (c *Client) mkStage(pattern string) (string, error) {
	if c.stageDir == "" {
		return c.cache.MkdirTemp(pattern)
	}
	d, err := os.MkdirTemp(c.stageDir, pattern)
	if err != nil {
		return "", fmt.Errorf("creating staging folder in %s: %w", c.stageDir, err)
	}
	return d, nil
}

// debPath returns the local path of a package's verified .deb, fetching it
// into the cache when needed.
func (c *Client) debPath(ctx context.Context, p *Package) (string, error) {
	if lp := p.localPath(); lp != "" {
		return c.localDebPath(ctx, p, lp)
	}
	if p.origin == nil {
		return "", fmt.Errorf("package %s has no source (not from an Index)", p)
	}
	path, err := c.download(ctx, p.SHA256, p.url())
	if err != nil {
		var m *missingError
		if errors.As(err, &m) {
			return "", &missingError{what: fmt.Sprintf("%s from %s", p.ID(), p.url()), digest: "sha256:" + p.SHA256}
		}
		return "", fmt.Errorf("package %s: %s: %w", p, p.url(), err)
	}
	return path, nil
}

// Fetch downloads the packages' .deb files into the cache (several at a
// time). Offline, it fails naming every package the cache lacks.
func (c *Client) Fetch(ctx context.Context, pkgs []*Package) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, c.parallel)
	for _, p := range pkgs {
		wg.Add(1)
		sem <- struct{}{}
		go func(p *Package) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := c.debPath(ctx, p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return joinMissing(errs)
}

// unpack reads a package's expanded copy when the cache has one (see
// expansion), else reads and verifies its .deb, keeping an expanded copy;
// either way staging its files with st.
func (c *Client) unpack(debFile string, p *Package, st *stager) (dc *debContents, err error) {
	defer func() {
		if err != nil {
			st.discard()
		} else if err = st.close(); err != nil {
			dc = nil
		}
	}()
	name := p.ID() + ".deb"
	dc, ok := c.readExpanded(p.SHA256, name, st)
	if !ok {
		x := c.newExpansion(p.SHA256)
		if dc, err = c.unpackDeb(debFile, name, p, st, x); err != nil {
			x.abort()
			return nil, err
		}
		x.commit(c)
	}
	if n, v := dc.control.get("Package"), dc.control.get("Version"); n != p.Name || v != p.Version {
		return nil, fmt.Errorf("package %s: %s contains %s %s, not what the index lists", p.Name, name, n, v)
	}
	return dc, nil
}

// unpackDeb reads and verifies a package's .deb, writing its decoded
// members to x (when not nil).
func (c *Client) unpackDeb(debFile, name string, p *Package, st *stager, x *expansion) (*debContents, error) {
	f, err := os.Open(debFile)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	dc, err := readDebTo(tee, name, st, x)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("package %s: reading %s: %w", p.Name, debFile, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return nil, fmt.Errorf("package %s: %s has sha256 %s, but the index says %s: %w", p.Name, debFile, got, p.SHA256, layers.ErrDigestMismatch)
	}
	return dc, nil
}

// unit is one package unpacked for a layer.
type unit struct {
	pkg  *Package
	dc   *debContents
	meta *debMeta
}

// Entries implements layers.Spec. It unpacks the layer's packages, several
// at a time (see WithUnpackWorkers); small files are kept in memory (see
// WithUnpackMemory), larger ones in a staging directory in the cache, one
// file per unpacking goroutine, removed once the last of its files has
// been read.
func (s *LayerSpec) Entries(ctx context.Context) ([]layers.Entry, error) {
	c := s.c
	paths := make([]string, len(s.pkgs))
	var errs []error
	for i, p := range s.pkgs {
		var err error
		if paths[i], err = c.debPath(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := joinMissing(errs); err != nil {
		return nil, err
	}
	belowMeta, errs := c.loadMetas(ctx, s.below)
	if err := joinMissing(errs); err != nil {
		return nil, err
	}

	stage, err := c.mkStage("deb-layer-*")
	if err != nil {
		return nil, fmt.Errorf("creating staging directory: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(stage)
		}
	}()
	units, err := c.unpackAll(ctx, s.pkgs, paths, stage)
	if err != nil {
		return nil, err
	}

	b := newLayerBuilder()
	if s.root {
		b.rootSkeleton(s.arch)
	}
	for _, u := range units {
		for _, e := range u.dc.entries {
			if err := b.add(ctx, e.entry, e.staged, e.data, u.pkg.Name); err != nil {
				return nil, err
			}
			if top, _, _ := strings.Cut(strings.TrimPrefix(e.orig, "/"), "/"); usrMerged[top] {
				b.usedMerged[top] = true
			}
		}
	}
	b.mergedLinks(s.arch, s.root)
	for _, u := range units {
		b.dpkgInfo(u)
	}

	all := make([]metaOf, 0, len(s.below)+len(units))
	for i, p := range s.below {
		all = append(all, metaOf{pkg: p, meta: belowMeta[i]})
	}
	for _, u := range units {
		all = append(all, metaOf{pkg: u.pkg, meta: u.meta, own: true})
	}
	status, err := buildStatus(s.cfg.baseStatus, all)
	if err != nil {
		return nil, err
	}
	b.putFile("var/lib/dpkg/status", 0o644, 0, status)

	env := &nativeEnv{arch: s.arch, hasBase: s.cfg.hasBase, all: all, b: b}
	if err := env.run(); err != nil {
		return nil, err
	}
	if err := b.checkSymlinkParents(); err != nil {
		return nil, err
	}
	s.noteDocs(b)
	entries, err := b.finish(stage)
	if err != nil {
		return nil, err
	}
	done = true
	s.mu.Lock()
	s.stages = append(s.stages, stage)
	s.mu.Unlock()
	return entries, nil
}

// unpackAll unpacks the packages (their .deb files at paths) with up to
// c.workers goroutines, the largest files first so that no big package is
// left to run alone at the end. Whatever the order they finish in, the
// result is the same: units in the packages' order, and on failure the
// error of the first failing package in that order.
func (c *Client) unpackAll(ctx context.Context, pkgs []*Package, paths []string, stage string) ([]*unit, error) {
	workers := c.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sizes := make([]int64, len(pkgs))
	order := make([]int, len(pkgs))
	for i := range pkgs {
		order[i] = i
		if fi, err := os.Stat(paths[i]); err == nil {
			sizes[i] = fi.Size()
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })

	mem := newMemBudget(c.unpackMem)
	units := make([]*unit, len(pkgs))
	errs := make([]error, len(pkgs))
	var (
		mu     sync.Mutex
		next   int
		failed = len(pkgs) // lowest index that failed
		wg     sync.WaitGroup
	)
	// claim returns the next package to unpack, or -1. A package after one
	// that failed is skipped: its error could not be the one reported.
	claim := func() int {
		mu.Lock()
		defer mu.Unlock()
		for next < len(order) {
			i := order[next]
			next++
			if i < failed {
				return i
			}
		}
		return -1
	}
	fail := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs[i] = err
		if i < failed {
			failed = i
		}
	}
	var closeErr error
	for w := 0; w < min(workers, len(pkgs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The worker's staging file, shared by its packages.
			out := &stageWriter{dir: stage, prefix: strconv.Itoa(w)}
			for i := claim(); i >= 0; i = claim() {
				if err := ctx.Err(); err != nil {
					fail(i, err)
					continue
				}
				u, err := c.unpackUnit(ctx, pkgs[i], paths[i], &stager{mem: mem, out: out})
				if err != nil {
					fail(i, err)
					continue
				}
				units[i] = u
			}
			if err := out.close(); err != nil {
				mu.Lock()
				closeErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if closeErr != nil {
		return nil, closeErr
	}
	return units, nil
}

// unpackUnit unpacks one package and records its meta.
func (c *Client) unpackUnit(ctx context.Context, p *Package, path string, st *stager) (*unit, error) {
	dc, err := c.unpack(path, p, st)
	if err != nil {
		return nil, err
	}
	m, err := buildMeta(dc)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	if err := c.storeMeta(ctx, p.SHA256, m); err != nil {
		return nil, err
	}
	return &unit{pkg: p, dc: dc, meta: m}, nil
}

// metaOf is a package with its meta, in install order.
type metaOf struct {
	pkg  *Package
	meta *debMeta
	own  bool // in the layer being built
}

// buildStatus writes dpkg's status file: the base's paragraphs (minus the
// packages installed again here) and every package's, sorted by name and
// architecture as dpkg writes them.
func buildStatus(base []byte, all []metaOf) ([]byte, error) {
	type entry struct {
		name, arch string
		text       string
	}
	var entries []entry
	ours := map[string]bool{}
	for _, m := range all {
		ours[m.pkg.Name] = true
	}
	if len(base) > 0 {
		err := readParagraphs(bytes.NewReader(base), "base image's /var/lib/dpkg/status", func(p *paragraph) error {
			name := p.get("Package")
			if name == "" || ours[name] {
				return nil
			}
			var b bytes.Buffer
			p.writeTo(&b)
			entries = append(entries, entry{name: name, arch: p.get("Architecture"), text: b.String()})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, m := range all {
		entries = append(entries, entry{name: m.pkg.Name, arch: m.pkg.Architecture, text: m.meta.Status})
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].name != entries[j].name {
			return entries[i].name < entries[j].name
		}
		return entries[i].arch < entries[j].arch
	})
	var out bytes.Buffer
	for _, e := range entries {
		out.WriteString(e.text)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// layerBuilder collects a layer's entries: package files (later packages
// overwrite earlier ones' files, directories are merged), dpkg's database
// and generated files.
type layerBuilder struct {
	entries    map[string]*built
	usedMerged map[string]bool
}

type built struct {
	entry  layers.Entry
	staged *stagedPart // content in a staging file
	data   []byte      // or in memory (a small package file, or generated)
	owner  string
}

func newLayerBuilder() *layerBuilder {
	return &layerBuilder{entries: map[string]*built{}, usedMerged: map[string]bool{}}
}

func (b *layerBuilder) add(ctx context.Context, e layers.Entry, staged *stagedPart, data []byte, owner string) error {
	prev, ok := b.entries[e.Path]
	if ok {
		pd, nd := prev.entry.Type == layers.TypeDir, e.Type == layers.TypeDir
		switch {
		case pd && nd:
			return nil // the first package's directory stays, as with dpkg
		case (pd || nd) && prev.owner == owner:
			return fmt.Errorf("/%s appears twice in package %s (a %s and a %s)", e.Path, owner, prev.entry.Type, e.Type)
		case pd || nd:
			return fmt.Errorf("/%s is a %s in %s but a %s in %s; these packages cannot be installed together",
				e.Path, prev.entry.Type, prev.owner, e.Type, owner)
		}
		logctx.From(ctx).Debug("deb: package overwrites a file of another", "path", e.Path, "package", owner, "was", prev.owner)
	}
	b.entries[e.Path] = &built{entry: e, staged: staged, data: data, owner: owner}
	return nil
}

// put places a generated entry, replacing any package file at that path.
func (b *layerBuilder) put(e layers.Entry, data []byte) {
	if e.Type == layers.TypeFile {
		e.Size = int64(len(data))
	}
	if prev, ok := b.entries[e.Path]; ok && prev.entry.Type == layers.TypeDir && e.Type == layers.TypeDir {
		return
	}
	b.entries[e.Path] = &built{entry: e, data: data, owner: "assemble"}
}

func (b *layerBuilder) putFile(p string, mode fs.FileMode, gid int, data []byte) {
	b.put(layers.Entry{Path: p, Type: layers.TypeFile, Mode: mode, GID: gid}, data)
}

func (b *layerBuilder) putLink(p, target string) {
	b.put(layers.Entry{Path: p, Type: layers.TypeSymlink, Mode: 0o777, Link: target}, nil)
}

func (b *layerBuilder) putDir(p string, mode fs.FileMode) {
	b.put(layers.Entry{Path: p, Type: layers.TypeDir, Mode: mode}, nil)
}

// read returns the content of a file in the layer.
func (b *layerBuilder) read(p string) ([]byte, bool) {
	e, ok := b.entries[p]
	if !ok {
		return nil, false
	}
	if e.entry.Type == layers.TypeHardlink {
		return b.read(e.entry.Link)
	}
	if e.entry.Type != layers.TypeFile {
		return nil, false
	}
	if e.staged == nil {
		return e.data, true
	}
	data, err := e.staged.read()
	if err != nil {
		return nil, false
	}
	return data, true
}

func (b *layerBuilder) has(p string) bool {
	_, ok := b.entries[p]
	return ok
}

// rootSkeleton is what the bottom layer of a Debian root has before any
// package: merged-/usr's directories and dpkg's database directory.
func (b *layerBuilder) rootSkeleton(arch string) {
	for _, d := range []string{"usr", "usr/bin", "usr/sbin", "usr/lib", "var", "var/lib", "var/lib/dpkg",
		"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/lib/dpkg/alternatives", "var/lib/dpkg/parts"} {
		b.putDir(d, 0o755)
	}
	b.putFile("var/lib/dpkg/available", 0o644, 0, nil)
	b.putFile("var/lib/dpkg/info/format", 0o644, 0, []byte("1\n"))
	for _, l := range archMergedDirs(arch) {
		b.usedMerged[l] = true
	}
}

// archMergedDirs are the top-level directories that are links into usr/
// on a merged-/usr Debian system of the architecture (debootstrap's list).
func archMergedDirs(arch string) []string {
	dirs := []string{"bin", "sbin", "lib"}
	switch arch {
	case "amd64":
		dirs = append(dirs, "lib64")
	case "i386", "ppc64el", "ppc64", "powerpc", "sparc64", "mips64el", "mipsel":
		dirs = append(dirs, "lib64")
	}
	return dirs
}

// mergedLinks adds the /bin -> usr/bin style links: all of them in the root
// layer, and any extra ones (lib32, libx32, ...) this layer's packages use.
func (b *layerBuilder) mergedLinks(arch string, root bool) {
	std := map[string]bool{}
	for _, d := range archMergedDirs(arch) {
		std[d] = true
	}
	for d := range b.usedMerged {
		if !root && std[d] {
			continue
		}
		b.putDir("usr/"+d, 0o755)
		b.putLink(d, "usr/"+d)
	}
}

// dpkgInfo writes a package's files in var/lib/dpkg/info.
func (b *layerBuilder) dpkgInfo(u *unit) {
	base := "var/lib/dpkg/info/" + u.pkg.dpkgName()
	var list bytes.Buffer
	list.WriteString("/.\n")
	for _, e := range u.dc.entries {
		list.WriteString(e.orig)
		list.WriteByte('\n')
	}
	b.putFile(base+".list", 0o644, 0, list.Bytes())
	for _, f := range u.dc.ctlFiles {
		mode := fs.FileMode(0o644)
		if f.Mode&0o111 != 0 {
			mode = 0o755
		}
		b.putFile(base+"."+f.Name, mode, 0, f.Data)
	}
}

// checkSymlinkParents refuses an entry whose parent directory is a symlink
// in the same layer: writing through it could land outside the intended
// place (or the image).
func (b *layerBuilder) checkSymlinkParents() error {
	var paths []string
	for p := range b.entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if e, ok := b.entries[d]; ok && e.entry.Type == layers.TypeSymlink {
				return fmt.Errorf("/%s (from %s) is below /%s, a symlink (from %s); refusing to write through a symlink", p, b.entries[p].owner, d, e.owner)
			}
		}
	}
	return nil
}

// finish returns the entries; a staging file is removed once its last
// part has been read, and the staging directory with the last of them.
func (b *layerBuilder) finish(stage string) ([]layers.Entry, error) {
	used := map[string]bool{}
	ref := &stageRef{dir: stage}
	out := make([]layers.Entry, 0, len(b.entries))
	for _, e := range b.entries {
		en := e.entry
		switch {
		case en.Type == layers.TypeFile && e.staged != nil:
			part := e.staged
			used[part.file.path] = true
			part.file.refs++
			ref.n++
			en.Open = func() (io.ReadCloser, error) { return part.open(ref) }
		case en.Type == layers.TypeFile:
			data := e.data
			en.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		out = append(out, en)
	}
	// Staging files whose every part lost to a later package's copy are
	// not needed.
	ents, err := os.ReadDir(stage)
	if err != nil {
		return nil, fmt.Errorf("reading staging directory: %w", err)
	}
	for _, de := range ents {
		if p := filepath.Join(stage, de.Name()); !used[p] {
			os.Remove(p)
		}
	}
	if ref.n == 0 {
		os.RemoveAll(stage)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// stageRef counts the staged entries of a layer still to be read; the
// staging directory goes with the last.
type stageRef struct {
	mu  sync.Mutex
	dir string
	n   int
}

// open returns a reader of the part, through its file's one descriptor.
func (p *stagedPart) open(ref *stageRef) (io.ReadCloser, error) {
	f := p.file
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rf == nil {
		rf, err := os.Open(f.path)
		if err != nil {
			return nil, err
		}
		f.rf = rf
	}
	return &stagedReader{SectionReader: io.NewSectionReader(f.rf, p.off, p.size), part: p, ref: ref}, nil
}

// stagedReader reads a staged part; Close is the part's last use.
type stagedReader struct {
	*io.SectionReader
	part   *stagedPart
	ref    *stageRef
	closed bool
}

func (r *stagedReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var err error
	f := r.part.file
	f.mu.Lock()
	f.refs--
	if f.refs == 0 {
		err = f.rf.Close()
		f.rf = nil
		os.Remove(f.path)
	}
	f.mu.Unlock()
	r.ref.mu.Lock()
	r.ref.n--
	last := r.ref.n == 0
	r.ref.mu.Unlock()
	if last {
		os.RemoveAll(r.ref.dir)
	}
	return err
}

// Status returns the dpkg status file for a set of installed packages
// (for example a deb: base's packages), as Layers writes it. Use it with
// WithBaseStatus to put more packages on top of layers built earlier.
func (c *Client) Status(ctx context.Context, pkgs []*Package) ([]byte, error) {
	metas, errs := c.loadMetas(ctx, pkgs)
	if err := joinMissing(errs); err != nil {
		return nil, err
	}
	all := make([]metaOf, len(pkgs))
	for i, p := range pkgs {
		all[i] = metaOf{pkg: p, meta: metas[i]}
	}
	return buildStatus(nil, all)
}
