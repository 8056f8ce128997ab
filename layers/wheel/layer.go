package wheel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// LayerVersion changes whenever the installer's output for the same wheels
// and target changes; it is part of every wheel layer key.
const LayerVersion = "assemble-wheel-layer-v1"

// LayerOption configures a wheel layer.
type LayerOption func(*layerSpec)

// WithDownloader lets the layer fetch wheels that are not yet in the cache's
// download store (resolving with PEP 658 metadata does not download them).
func WithDownloader(r *Resolver) LayerOption { return func(l *layerSpec) { l.dl = r } }

// WithDescription sets the layer's history line ("wheel requirements.txt").
func WithDescription(d string) LayerOption { return func(l *layerSpec) { l.desc = d } }

type layerSpec struct {
	cache *layers.Cache
	set   []Resolved
	t     *Target
	dl    *Resolver
	desc  string
}

// NewLayer is the layer that installs a resolved set into the target's
// directories, as pip would. Distributions already in the base (Installed)
// are left alone; an installed distribution in the install directory that is
// replaced by another version is deleted with whiteouts, as pip's uninstall
// would. No .pyc files are written (pip compiles by default; Python compiles
// on first import, or when the image runs `python -m compileall`).
func NewLayer(cache *layers.Cache, set []Resolved, t *Target, opts ...LayerOption) layers.Spec {
	l := &layerSpec{cache: cache, t: t}
	for _, r := range set {
		if !r.Installed {
			l.set = append(l.set, r)
		}
	}
	sort.Slice(l.set, func(i, j int) bool { return NormalizeName(l.set[i].Name) < NormalizeName(l.set[j].Name) })
	for _, o := range opts {
		o(l)
	}
	return l
}

type keyDist struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Filename  string `json:"filename"`
	SHA256    string `json:"sha256"`
	Requested bool   `json:"requested,omitempty"`
	DirectURL string `json:"directURL,omitempty"`
}

type keyReplaced struct {
	DistInfo string   `json:"distInfo"`
	Files    []string `json:"files"`
}

// Key covers the wheels (by digest), what pip writes about them, the target
// directories and interpreter, and the distributions it replaces.
func (l *layerSpec) Key(context.Context) (string, error) {
	k := struct {
		V        string        `json:"v"`
		Python   string        `json:"python"`
		Interp   string        `json:"interpreter"`
		Dirs     []string      `json:"dirs"`
		Dists    []keyDist     `json:"dists"`
		Replaced []keyReplaced `json:"replaced,omitempty"`
		Owner    *Owner        `json:"owner,omitempty"`
	}{V: LayerVersion, Python: l.t.Python, Interp: l.t.Interpreter, Owner: l.t.Owner,
		Dirs: []string{l.t.Purelib, l.t.Platlib, l.t.Scripts, l.t.Data, l.t.Headers}}
	for _, r := range l.set {
		if r.SHA256 == "" {
			return "", fmt.Errorf("wheel layer: %s %s has no sha256 (resolve it first)", r.Name, r.Version)
		}
		d := keyDist{Name: NormalizeName(r.Name), Version: r.Version, Filename: r.Filename, SHA256: r.SHA256, Requested: r.Requested}
		if r.Direct {
			d.DirectURL = r.URL
		}
		k.Dists = append(k.Dists, d)
	}
	for _, old := range l.replaced() {
		k.Replaced = append(k.Replaced, keyReplaced{old.DistInfo, old.Files})
	}
	b, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// replaced lists installed distributions in the install directories that the
// set installs another version of.
func (l *layerSpec) replaced() []InstalledDist {
	var out []InstalledDist
	for _, r := range l.set {
		old, ok := l.t.Installed[NormalizeName(r.Name)]
		if !ok || (old.SiteDir != l.t.Purelib && old.SiteDir != l.t.Platlib) {
			continue // pip leaves distributions outside its install scheme alone (shadowed)
		}
		out = append(out, old)
	}
	return out
}

func (l *layerSpec) Describe() string {
	if l.desc != "" {
		return l.desc
	}
	var names []string
	for _, r := range l.set {
		names = append(names, r.Name+"=="+r.Version)
	}
	if len(names) > 4 {
		names = append(names[:4], fmt.Sprintf("+%d more", len(names)-4))
	}
	return "pip install " + strings.Join(names, " ")
}

// Entries installs every wheel of the set.
func (l *layerSpec) Entries(ctx context.Context) ([]layers.Entry, error) {
	var all []installedFile
	owner := map[string]string{}
	for _, r := range l.set {
		p, _, err := l.cache.Download(ctx, "sha256:"+r.SHA256, nil)
		if errors.Is(err, layers.ErrNotCached) && l.dl != nil {
			p, err = l.dl.Download(ctx, r)
		}
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %w", r.Filename, err)
		}
		// Kept for the SBOM's licenses (KnownMetadata). A wheel without
		// a readable METADATA fails to install just below, with the
		// installer's reason.
		_, _ = wheelMetadata(l.cache, p, r.SHA256, r.Filename)
		opt := installOptions{requested: r.Requested}
		if r.Direct {
			opt.directURL = r.URL
		}
		files, err := installWheel(p, r.Filename, l.t, opt)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if prev, ok := owner[f.dest]; ok && prev != r.Name {
				logctx.From(ctx).Warn("wheel: two distributions install the same file; the later one wins, as with pip", "path", f.dest, "first", prev, "second", r.Name)
			}
			owner[f.dest] = r.Name
		}
		all = append(all, files...)
	}
	entries, err := toEntries(dedupeByDest(all))
	if err != nil {
		return nil, err
	}
	if err := l.t.Owner.apply(entries); err != nil {
		return nil, err
	}
	written := map[string]bool{}
	for _, e := range entries {
		written[e.Path] = true
	}
	var wh []string
	for _, old := range l.replaced() {
		for _, f := range append([]string{old.DistInfo}, old.Files...) {
			p, err := layers.CleanPath(f)
			if err != nil || written[p] || p == "" {
				continue
			}
			if f != old.DistInfo && strings.HasPrefix(f, old.DistInfo+"/") {
				continue // covered by the directory's whiteout
			}
			if !slices.Contains(wh, p) {
				wh = append(wh, p)
			}
		}
	}
	sort.Strings(wh)
	for _, p := range wh {
		entries = append(entries, layers.Entry{Path: p, Type: layers.TypeWhiteout})
	}
	return entries, nil
}

// FormatPins writes the resolved set as a hash-pinned requirements file, for
// pinning a build (pip's --require-hashes format).
func FormatPins(set []Resolved) string {
	var b strings.Builder
	for _, r := range set {
		if r.Installed {
			fmt.Fprintf(&b, "# %s==%s is already installed in the base image\n", r.Name, r.Version)
			continue
		}
		if r.Direct {
			fmt.Fprintf(&b, "%s @ %s --hash=sha256:%s\n", r.Name, r.URL, r.SHA256)
			continue
		}
		fmt.Fprintf(&b, "%s==%s --hash=sha256:%s\n", r.Name, r.Version, r.SHA256)
		if len(r.RequestedBy) > 0 {
			fmt.Fprintf(&b, "    # via %s\n", strings.Join(r.RequestedBy, ", "))
		}
	}
	return b.String()
}
