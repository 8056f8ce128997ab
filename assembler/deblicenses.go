package assembler

import (
	"encoding/json"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/layers/deb"
)

// layerWriter is a spec that keeps something beside its layer once the
// layer's diffID is known (deb layers: their packages' licenses).
type layerWriter interface {
	LayerWritten(diffID v1.Hash) error
}

// recordedLicenses returns the licenses of pkgs from what the image's deb
// layers noted when they were written, without reading the image, and
// whether every answer is the one reading usr/share/doc/<pkg>/copyright
// from the image would give. It is false when a layer has no record and
// cannot be shown to leave usr/share/doc alone cheaply (an image base, a
// layer from an older or a shared cache, a big layer of other files), or
// when a path leads outside what the records cover.
func (e *env) recordedLicenses(img v1.Image, pkgs []*deb.Package) (map[string]string, bool) {
	ls, err := img.Layers()
	if err != nil {
		return nil, false
	}
	t := deb.NewDocTree()
	var other int64
	for _, l := range ls {
		id, err := l.DiffID()
		if err != nil {
			return nil, false
		}
		if r, ok := e.client.LayerDocs(id); ok {
			if !t.Apply(r) || !t.AddLinks(r.Links) {
				return nil, false
			}
			continue
		}
		// Reading a small layer's headers costs far less than the image.
		size, err := l.Size()
		if other += size; err != nil || other > maxPeelBytes {
			return nil, false
		}
		entries, err := e.layerHeadersOf(l)
		if err != nil {
			return nil, false
		}
		links := map[string]string{}
		for _, en := range entries {
			if !t.Untouched(en.path, en.subtree) {
				return nil, false
			}
			if en.link != "" {
				links[en.path] = en.link
			}
		}
		if !t.AddLinks(links) {
			return nil, false
		}
	}
	out := map[string]string{}
	for _, p := range pkgs {
		l, ok := t.License(p.Name)
		if !ok {
			return nil, false
		}
		if l != "" {
			out[p.Name] = l
		}
	}
	return out, true
}

// isCopyright reports whether an image path is a package's copyright file
// (usr/share/doc/PKG/copyright), the one content the license probe reads.
func isCopyright(name string) bool {
	rest, ok := strings.CutPrefix(name, "usr/share/doc/")
	pkg, ok2 := strings.CutSuffix(rest, "/copyright")
	return ok && ok2 && pkg != "" && !strings.Contains(pkg, "/")
}

// layerHeadersOf is layerHeaders kept in the cache under the layer's
// diffID: every build, cached or not, asks it of each layer without a
// license record (a Python layer of thousands of files), and a small JSON
// file costs far less than decompressing the layer again. A missing or
// unreadable entry is read from the layer and written again.
func (e *env) layerHeadersOf(l v1.Layer) ([]layerEntry, error) {
	id, err := l.DiffID()
	if err != nil || e.o.cache == nil {
		return layerHeaders(l)
	}
	ns := e.o.cache.Namespace("layer-headers")
	if b, ok, err := ns.Get(id.Hex); err == nil && ok {
		var kept []storedEntry
		if json.Unmarshal(b, &kept) == nil {
			out := make([]layerEntry, len(kept))
			for i, k := range kept {
				out[i] = layerEntry{path: k.Path, subtree: k.Subtree, dirOnly: k.DirOnly, link: k.Link}
			}
			return out, nil
		}
	}
	entries, err := layerHeaders(l)
	if err != nil {
		return nil, err
	}
	kept := make([]storedEntry, len(entries))
	for i, en := range entries {
		kept[i] = storedEntry{Path: en.path, Subtree: en.subtree, DirOnly: en.dirOnly, Link: en.link}
	}
	if b, err := json.Marshal(kept); err == nil {
		_ = ns.Put(id.Hex, b) // a memo: without it the next build reads the layer
	}
	return entries, nil
}

// storedEntry is a layerEntry as layerHeadersOf keeps it.
type storedEntry struct {
	Path    string `json:"p"`
	Subtree bool   `json:"s,omitempty"`
	DirOnly bool   `json:"d,omitempty"`
	Link    string `json:"l,omitempty"`
}
