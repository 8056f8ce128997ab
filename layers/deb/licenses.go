package deb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/layers"
)

// An SBOM names each package's license, read from
// usr/share/doc/<pkg>/copyright of the image. Reading the image back for it
// decompresses every layer; a deb layer already holds those files while its
// entries are written, so it notes then what the copyright paths hold (the
// license of each file, the links on the way) and keeps that beside the
// layer, by the layer's diffID, once it is written (see LayerWritten).

// docsVersion names the records' format and reading; a new one makes every
// older record a miss (the SBOM is then read from the image, as before).
const docsVersion = "v2"

// docsNamespace is the cache namespace of the records.
const docsNamespace = "deb-licenses"

// WithLicenseReader has every layer note the license of each copyright
// file it writes (usr/share/doc/*/copyright), as read returns it from the
// file's content ("" for none), for LayerDocs. read must be a pure function
// of the content: records are kept in the cache.
func WithLicenseReader(read func([]byte) string) Option {
	return func(c *Client) { c.license = read }
}

// DocEntry is what a layer writes at a path that reading
// usr/share/doc/<pkg>/copyright goes through.
type DocEntry struct {
	// Type is "dir", "file" (a regular file or a hard link to one), "link"
	// or "other".
	Type    string `json:"type"`
	Link    string `json:"link,omitempty"`
	License string `json:"license,omitempty"`
}

// DocRecord is what a layer writes at usr, usr/share, usr/share/doc,
// usr/share/doc/* and usr/share/doc/*/copyright, by path.
type DocRecord struct {
	Entries map[string]DocEntry `json:"entries"`
	// Links is every symbolic link of the layer (path -> target): a later
	// entry written through one may land on a copyright path.
	Links map[string]string `json:"links,omitempty"`
}

// docPath reports whether p is on the way to a copyright file.
func docPath(p string) bool {
	switch p {
	case "usr", "usr/share", "usr/share/doc":
		return true
	}
	rest, ok := strings.CutPrefix(p, "usr/share/doc/")
	if !ok || rest == "" {
		return false
	}
	pkg, file, sub := strings.Cut(rest, "/")
	return pkg != "" && (!sub || file == "copyright")
}

// docRecord notes what b writes on the way to copyright files, or returns
// nil when a file's content cannot be read (no record: the image is read).
func (b *layerBuilder) docRecord(read func([]byte) string) *DocRecord {
	r := &DocRecord{Entries: map[string]DocEntry{}, Links: map[string]string{}}
	for p, e := range b.entries {
		if e.entry.Type == layers.TypeSymlink {
			r.Links[p] = e.entry.Link
		}
		if !docPath(p) {
			continue
		}
		var d DocEntry
		switch e.entry.Type {
		case layers.TypeDir:
			d.Type = "dir"
		case layers.TypeSymlink:
			d = DocEntry{Type: "link", Link: e.entry.Link}
		case layers.TypeFile, layers.TypeHardlink:
			d.Type = "file"
			if strings.HasSuffix(p, "/copyright") {
				data, ok := b.read(p)
				if !ok {
					return nil
				}
				d.License = read(data)
			}
		default:
			d.Type = "other"
		}
		r.Entries[p] = d
	}
	return r
}

func docsKey(diffID v1.Hash) string { return diffID.Hex + "-" + docsVersion + ".json" }

// LayerWritten keeps what the layer's entries noted (WithLicenseReader) by
// the diffID the layer was written with. A layer taken from the cache
// wrote no entries in this process: its record, if any, is there already.
func (s *LayerSpec) LayerWritten(diffID v1.Hash) error {
	s.mu.Lock()
	r := s.docs
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ns := s.c.cache.Namespace(docsNamespace)
	// The same layer written again (its key's entry was lost, or the
	// compression changed) gives the same record: kept already, it is not
	// written again, as a write syncs the file and its folder.
	if old, ok, err := ns.Get(docsKey(diffID)); err == nil && ok && bytes.Equal(old, b) {
		return nil
	}
	if err := ns.Put(docsKey(diffID), b); err != nil {
		return fmt.Errorf("keeping the licenses of layer %s: %w", diffID, err)
	}
	return nil
}

// LayerDocs returns the record kept for the deb layer with diffID, if any.
func (c *Client) LayerDocs(diffID v1.Hash) (*DocRecord, bool) {
	b, ok, err := c.cache.Namespace(docsNamespace).Get(docsKey(diffID))
	if err != nil || !ok {
		return nil, false
	}
	var r DocRecord
	if json.Unmarshal(b, &r) != nil || r.Entries == nil {
		return nil, false
	}
	return &r, true
}

// DocTree is the copyright paths of a stack of layers, applied bottom first.
type DocTree struct {
	m map[string]DocEntry
	// links are the symbolic links of the layers so far where they landed
	// (a link's parent resolved through the links below it); every link
	// ever made stays in made, whatever replaced it later.
	links   map[string]string
	made    [][2]string
	refused bool // AddLinks said no: it says no from then on
}

// NewDocTree returns the tree of an empty image.
func NewDocTree() *DocTree { return &DocTree{m: map[string]DocEntry{}, links: map[string]string{}} }

// AddLinks notes a layer's symbolic links (path -> target) and reports
// whether an entry written through any link made so far could land on a
// copyright path or a directory above one where the records do not see
// it: a link that leads to the root, usr, usr/share, usr/share/doc, or a
// doc directory (from anywhere but another doc directory: what lands
// below usr/share/doc/A as copyright is in A's records). Such images are
// read back instead.
func (t *DocTree) AddLinks(links map[string]string) bool {
	switch {
	case t.refused:
		return false
	case len(links) == 0:
		return true // the links are those the last call checked and took
	}
	t.refused = !t.addLinks(links)
	return !t.refused
}

func (t *DocTree) addLinks(links map[string]string) bool {
	paths := make([]string, 0, len(links))
	for p := range links {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		dir, ok := t.resolve(path.Dir(p))
		if !ok {
			return false
		}
		at := path.Join(dir, path.Base(p))
		t.links[at] = links[p]
		t.made = append(t.made, [2]string{at, links[p]})
	}
	for _, l := range t.made {
		target := path.Join(path.Dir(l[0]), l[1])
		if strings.HasPrefix(l[1], "/") {
			target = l[1]
		}
		r, ok := t.resolve(strings.TrimPrefix(path.Clean("/"+target), "/"))
		if !ok {
			return false
		}
		switch {
		case r == "", r == "usr", r == "usr/share", r == "usr/share/doc":
			return false
		case strings.HasPrefix(r, "usr/share/doc/") && !strings.Contains(strings.TrimPrefix(r, "usr/share/doc/"), "/") &&
			!(strings.HasPrefix(l[0], "usr/share/doc/") && !strings.Contains(strings.TrimPrefix(l[0], "usr/share/doc/"), "/")):
			return false
		}
	}
	return true
}

// resolve follows the links noted so far along p, a clean path ("." or ""
// is the root), as the image resolves a path inside its root; false after
// too many hops.
func (t *DocTree) resolve(p string) (string, bool) {
	rest, done := p, ""
	if rest == "." {
		rest = ""
	}
	for hops := 0; rest != ""; {
		comp, next, _ := strings.Cut(rest, "/")
		rest = next
		cur := comp
		if done != "" {
			cur = done + "/" + comp
		}
		target, ok := t.links[cur]
		if !ok {
			done = cur
			continue
		}
		if hops++; hops > 40 {
			return "", false
		}
		dir := "/" + done
		if strings.HasPrefix(target, "/") {
			dir = "/"
		}
		np := strings.TrimPrefix(path.Join(dir, target), "/")
		switch {
		case np == "":
		case rest == "":
			rest = np
		default:
			rest = np + "/" + rest
		}
		done = ""
	}
	return done, true
}

// Apply puts a deb layer's record on top. It reports false where the
// outcome is not one a record can say (a layer that replaces a path with
// something of another type, or writes below a link or a file): the caller
// then reads the image.
func (t *DocTree) Apply(r *DocRecord) bool {
	for p, e := range r.Entries {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if a, ok := t.m[d]; ok && a.Type != "dir" {
				return false
			}
			if b, ok := r.Entries[d]; ok && b.Type != "dir" {
				return false
			}
		}
		if old, ok := t.m[p]; ok && old.Type != e.Type {
			return false
		}
	}
	for p, e := range r.Entries {
		// Directories a layer holds entries below but no entry for are
		// made, as a tar is unpacked.
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := t.m[d]; !ok {
				t.m[d] = DocEntry{Type: "dir"}
			}
		}
		if old, ok := t.m[p]; ok && old.Type == "dir" && e.Type == "dir" {
			continue
		}
		t.m[p] = e
	}
	return true
}

// Untouched reports whether an entry of a layer that is not a deb layer
// (its path, and whether it replaces or removes what is at and below it)
// leaves every copyright path as it was: such layers must, for the tree to
// stay right.
func (t *DocTree) Untouched(p string, subtree bool) bool {
	if strings.HasPrefix(p, "usr/share/doc/") {
		return false
	}
	switch p {
	case ".", "usr", "usr/share", "usr/share/doc":
		// A directory over a directory (or over nothing) changes no path.
		e, ok := t.m[p]
		return !subtree && (!ok || e.Type == "dir")
	}
	return true
}

// License returns the license noted for usr/share/doc/<pkg>/copyright
// as the image resolves it (links followed inside the root), "" when the
// file is missing or not a regular file, and ok false when the path leads
// somewhere the records do not cover.
func (t *DocTree) License(pkg string) (license string, ok bool) {
	comps := strings.Split("usr/share/doc/"+pkg+"/copyright", "/")
	var done []string
	for i, hops := 0, 0; i < len(comps); i++ {
		p := path.Join(append(done, comps[i])...)
		if !docPath(p) {
			return "", false
		}
		e, found := t.m[p]
		last := i == len(comps)-1
		switch {
		case !found:
			return "", true // a read fails: no license, as in the image
		case e.Type == "link":
			if hops++; hops > 40 {
				return "", false
			}
			dir := "/" + path.Dir(p)
			if strings.HasPrefix(e.Link, "/") {
				dir = "/"
			}
			target := strings.TrimPrefix(path.Join(dir, e.Link), "/")
			if target == "" {
				return "", false
			}
			comps = append(strings.Split(target, "/"), comps[i+1:]...)
			done, i = nil, -1
		case last && e.Type == "file" && strings.Count(p, "/") == 4:
			return e.License, true // a copyright path: its license was read
		case last && e.Type == "dir":
			return "", true // reading a directory fails
		case last:
			return "", false
		case e.Type == "dir":
			done = append(done, comps[i])
		case e.Type == "file":
			return "", true // a file where a directory is needed
		default:
			return "", false
		}
	}
	return "", false
}

// noteDocs records the layer's copyright paths when a reader is set.
func (s *LayerSpec) noteDocs(b *layerBuilder) {
	if s.c.license == nil {
		return
	}
	r := b.docRecord(s.c.license)
	s.mu.Lock()
	s.docs = r
	s.mu.Unlock()
}
