package conda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// LayerVersion changes whenever the installer's output for the same
// packages and prefix changes; it is part of every conda layer key.
const LayerVersion = "assemble-conda-layer-v1"

// LayerOption configures a conda layer.
type LayerOption func(*layerSpec)

// WithDescription sets the layer's history line ("conda environment.yml").
func WithDescription(d string) LayerOption { return func(l *layerSpec) { l.desc = d } }

// WithOwner makes the prefix and everything below it owned by uid:gid
// (repo2docker's environment belongs to NB_USER, so the user can install
// into it). Directories above the prefix stay root's.
func WithOwner(uid, gid int) LayerOption {
	return func(l *layerSpec) { l.owner = &owner{UID: uid, GID: gid} }
}

// WithTime is the time conda-meta/history records (SOURCE_DATE_EPOCH;
// default the Unix epoch), so the layer's bytes do not depend on the clock.
func WithTime(t time.Time) LayerOption { return func(l *layerSpec) { l.time = t.UTC() } }

// WithBelow says that the layers below this one installed sols into the
// same prefix (the base environment under the repository's own): their
// python serves this layer's noarch: python packages, and conda-meta/history
// lists them first. Their conda-meta records are theirs, not this layer's.
func WithBelow(sols ...Solution) LayerOption {
	return func(l *layerSpec) { l.below = append(l.below, sols...) }
}

// WithBaseHistory is the conda-meta/history of the environment in the
// image below (read from its files): the layer's history is that, then
// its own block, as conda appends to the file. Without it, the history is
// made of a block per WithBelow solution and the layer's own.
func WithBaseHistory(h []byte) LayerOption {
	return func(l *layerSpec) { l.baseHistory = append([]byte{}, h...) }
}

// WithFetcher fetches packages missing from the download store with f
// (default: a Fetcher over the layer's cache; pass one built with Offline
// for --offline).
func WithFetcher(f *Fetcher) LayerOption { return func(l *layerSpec) { l.fetcher = f } }

// WithWorkers caps how many packages are unpacked at once (default the
// number of CPUs).
func WithWorkers(n int) LayerOption {
	return func(l *layerSpec) {
		if n > 0 {
			l.workers = n
		}
	}
}

type owner struct{ UID, GID int }

type layerSpec struct {
	cache  *layers.Cache
	sol    Solution
	prefix string
	below  []Solution
	// baseHistory is the history below (nil: made from below).
	baseHistory []byte
	owner       *owner
	time        time.Time
	desc        string
	fetcher     *Fetcher
	workers     int

	mu     sync.Mutex
	stages []*stageDir
}

// NewLayer is the layer that installs sol's packages into the environment
// at prefix (an absolute path, such as /srv/conda/envs/notebook) as
// micromamba would: every package checked against its repodata sha256,
// unpacked, its prefix placeholders replaced, noarch: python packages put
// in the environment's site-packages with their entry points, and a
// conda-meta record per package with conda-meta/history. No .pyc files are
// written (conda compiles noarch: python packages when it links them;
// Python compiles on first import, or when the image runs
// `python -m compileall`), and no post-link scripts run.
func NewLayer(cache *layers.Cache, sol Solution, prefix string, opts ...LayerOption) layers.Spec {
	l := &layerSpec{cache: cache, sol: sol, prefix: prefix, time: time.Unix(0, 0).UTC(), workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(l)
	}
	if l.fetcher == nil {
		l.fetcher = NewFetcher(cache)
	}
	return l
}

// checkPrefix refuses a prefix that is not a clean absolute directory.
func (l *layerSpec) checkPrefix() error {
	if !path.IsAbs(l.prefix) || path.Clean(l.prefix) != l.prefix || l.prefix == "/" || strings.ContainsAny(l.prefix, "\x00\n") {
		return fmt.Errorf("conda layer: prefix %q must be a clean absolute directory below / (such as /srv/conda/envs/notebook)", l.prefix)
	}
	return nil
}

// Key covers the packages (their repodata records, sha256 included, in
// install order), the requested specs, the prefix, the solutions below,
// the owner and the history's time.
func (l *layerSpec) Key(context.Context) (string, error) {
	if err := l.checkPrefix(); err != nil {
		return "", err
	}
	for _, r := range l.sol.Records {
		if _, err := recordDigest(r); err != nil {
			return "", err
		}
	}
	k := struct {
		V           string     `json:"v"`
		Prefix      string     `json:"prefix"`
		Sol         Solution   `json:"solution"`
		Below       []Solution `json:"below,omitempty"`
		BaseHistory []byte     `json:"baseHistory,omitempty"`
		Owner       *owner     `json:"owner,omitempty"`
		Time        int64      `json:"time"`
	}{LayerVersion, l.prefix, l.sol, l.below, l.baseHistory, l.owner, l.time.Unix()}
	b, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func (l *layerSpec) Describe() string {
	if l.desc != "" {
		return l.desc
	}
	var names []string
	for _, r := range l.sol.Records {
		names = append(names, r.Name+"="+r.Version)
	}
	if len(names) > 4 {
		names = append(names[:4], fmt.Sprintf("+%d more", len(names)-4))
	}
	return "conda install -p " + l.prefix + " " + strings.Join(names, " ")
}

// Close removes what Entries staged and the layer writer did not read.
func (l *layerSpec) Close() error {
	l.mu.Lock()
	stages := l.stages
	l.stages = nil
	l.mu.Unlock()
	var first error
	for _, s := range stages {
		if err := s.remove(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Entries fetches, verifies and unpacks every package, then lays out the
// environment. Nothing is returned (and so nothing written) unless every
// package installs.
func (l *layerSpec) Entries(ctx context.Context) ([]layers.Entry, error) {
	if err := l.checkPrefix(); err != nil {
		return nil, err
	}
	recs := l.sol.Records
	if err := checkUnique(recs); err != nil {
		return nil, err
	}
	pkgPaths, err := l.fetcher.FetchAll(ctx, recs)
	if err != nil {
		return nil, err
	}
	belowRecs := make([][]Record, 0, len(l.below)+1)
	belowRecs = append(belowRecs, recs)
	for _, s := range l.below {
		belowRecs = append(belowRecs, s.Records)
	}
	py, err := findPython(l.prefix, belowRecs...)
	if err != nil {
		return nil, err
	}
	dir, err := l.cache.MkdirTemp("conda-layer-*")
	if err != nil {
		return nil, fmt.Errorf("conda layer: creating a staging directory: %w", err)
	}
	stage := &stageDir{dir: dir}
	results, err := l.installAll(ctx, recs, pkgPaths, stage, &installEnv{prefix: l.prefix, python: py})
	if err != nil {
		stage.remove()
		return nil, err
	}
	entries, err := l.layout(ctx, recs, results, stage)
	if err != nil {
		stage.remove()
		return nil, err
	}
	stage.mu.Lock()
	unread := stage.refs
	stage.mu.Unlock()
	if unread == 0 {
		stage.remove() // every file is in memory
	}
	l.mu.Lock()
	l.stages = append(l.stages, stage)
	l.mu.Unlock()
	return entries, nil
}

// checkUnique refuses a solution with a package name twice: one prefix
// holds one version of each package.
func checkUnique(recs []Record) error {
	seen := map[string]Record{}
	for _, r := range recs {
		if q, ok := seen[r.Name]; ok {
			return fmt.Errorf("conda layer: package %s is in the solution twice (%s and %s)", r.Name, q.Filename, r.Filename)
		}
		seen[r.Name] = r
	}
	return nil
}

// installAll unpacks and lays out the packages, several at once; the
// result is in the packages' order, and on failure the error is the first
// failing package's in that order, however they finish.
func (l *layerSpec) installAll(ctx context.Context, recs []Record, pkgPaths []string, stage *stageDir, env *installEnv) ([][]installed, error) {
	results := make([][]installed, len(recs))
	errs := make([]error, len(recs))
	files := make([]*stageFile, len(recs))
	for i := range recs {
		f, err := newStageFile(stage.dir, strconv.Itoa(i))
		if err != nil {
			for _, g := range files[:i] {
				g.f.Close()
			}
			return nil, err
		}
		files[i] = f
	}
	stage.files = files
	sem := make(chan struct{}, max(1, l.workers))
	var wg sync.WaitGroup
	for i, r := range recs {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pc, err := unpackPackage(pkgPaths[i], r.Filename, files[i])
			if err == nil {
				results[i], err = installPackage(pc, r, env)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	logctx.From(ctx).Debug("conda packages unpacked", "packages", len(recs), "prefix", l.prefix)
	return results, nil
}

// layout merges the packages' files (a later package's file replaces an
// earlier one's, with a warning, as micromamba's clobbering does), adds
// conda-meta and the directories, and makes the layer entries.
func (l *layerSpec) layout(ctx context.Context, recs []Record, results [][]installed, stage *stageDir) ([]layers.Entry, error) {
	final := map[string]installed{}
	from := map[string]string{}
	var order []string
	for i, files := range results {
		for _, f := range files {
			if prev, ok := from[f.rel]; ok {
				if f.kind != layers.TypeDir || final[f.rel].kind != layers.TypeDir {
					logctx.From(ctx).Warn("conda: two packages install the same path; the later one wins, as with micromamba",
						"path", path.Join(l.prefix, f.rel), "first", prev, "second", recs[i].Filename)
				}
			} else {
				order = append(order, f.rel)
			}
			final[f.rel], from[f.rel] = f, recs[i].Filename
		}
	}
	if err := checkParents(final, from); err != nil {
		return nil, err
	}
	requested := requestedSpecs(l.sol.Requested)
	for i, r := range recs {
		b := metaRecord(r, results[i], requested[strings.ToLower(r.Name)])
		rel := "conda-meta/" + metaName(r) + ".json"
		final[rel] = installed{rel: rel, kind: layers.TypeFile, mode: 0o644, size: int64(len(b)), data: b}
		order = append(order, rel)
	}
	h := l.history()
	final["conda-meta/history"] = installed{rel: "conda-meta/history", kind: layers.TypeFile, mode: 0o644, size: int64(len(h)), data: h}
	order = append(order, "conda-meta/history")
	return l.entries(final, order, stage), nil
}

// history is conda-meta/history: the one below with this layer's block
// appended, or blocks for the solutions below and this one.
func (l *layerSpec) history() []byte {
	if l.baseHistory == nil {
		return history(l.time, append(append([]Solution(nil), l.below...), l.sol)...)
	}
	h := l.baseHistory
	if len(h) > 0 && h[len(h)-1] != '\n' {
		h = append(h, '\n')
	}
	return append(h, history(l.time, l.sol)...)
}

// checkParents refuses a path below another path that is not a directory
// (a file, or a symlink the tar would be unpacked through).
func checkParents(final map[string]installed, from map[string]string) error {
	for rel := range final {
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			if p, ok := final[d]; ok && p.kind != layers.TypeDir {
				return fmt.Errorf("conda layer: %s (from %s) is below %s, which %s installs as a %s, not a directory", rel, from[rel], d, from[d], p.kind)
			}
		}
	}
	return nil
}

// entries turns the laid-out files into layer entries below the prefix,
// with every directory the layer needs.
func (l *layerSpec) entries(final map[string]installed, order []string, stage *stageDir) []layers.Entry {
	root := strings.TrimPrefix(l.prefix, "/")
	var out []layers.Entry
	dirs := map[string]bool{}
	addDir := func(p string) {
		if !dirs[p] {
			dirs[p] = true
			out = append(out, l.own(layers.Entry{Path: p, Type: layers.TypeDir, Mode: 0o755}))
		}
	}
	for d := root; d != "."; d = path.Dir(d) {
		addDir(d)
	}
	for _, rel := range order {
		f := final[rel]
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			addDir(root + "/" + d)
		}
		p := root + "/" + rel
		if f.kind == layers.TypeDir {
			addDir(p)
			continue
		}
		e := layers.Entry{Path: p, Type: f.kind, Mode: f.mode, Size: f.size, Link: f.link}
		if f.kind == layers.TypeFile {
			e.Open = l.opener(f, stage)
		}
		out = append(out, l.own(e))
	}
	return out
}

// own gives entries at or below the prefix the layer's owner.
func (l *layerSpec) own(e layers.Entry) layers.Entry {
	root := strings.TrimPrefix(l.prefix, "/")
	if l.owner != nil && (e.Path == root || strings.HasPrefix(e.Path, root+"/")) {
		e.UID, e.GID = l.owner.UID, l.owner.GID
	}
	return e
}

// opener reads a file's content: from memory, or from its package's stage
// file, which is removed once the last entry reading it is closed.
func (l *layerSpec) opener(f installed, stage *stageDir) func() (io.ReadCloser, error) {
	if f.data != nil || f.size == 0 {
		data := f.data
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	off := f.off
	if f.m != nil {
		off = f.m.off
	}
	sf, size := f.pc.stage, f.size
	stage.acquire()
	return func() (io.ReadCloser, error) {
		return &stagedReader{Reader: io.NewSectionReader(sf.f, off, size), stage: stage}, nil
	}
}

type stagedReader struct {
	io.Reader
	stage  *stageDir
	closed bool
}

func (r *stagedReader) Close() error {
	if !r.closed {
		r.closed = true
		r.stage.release()
	}
	return nil
}
