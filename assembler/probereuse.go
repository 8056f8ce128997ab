package assembler

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/layers"
)

// A probe result holds for every image whose files agree on what the probe
// looked at. Editing a file the repository copies in last makes a new image
// whose lower layers are the same, so the probe's result is carried over from
// the image below when the layers added on top touch nothing it read: the
// whole image is not read again for a few changed source files.

const (
	// maxPeel bounds how many layers above a probed ancestor are read.
	maxPeel = 8
	// maxPeelBytes bounds their total size: reading the headers of big layers
	// costs about what probing again does.
	maxPeelBytes = 64 << 20
)

// readSet is what a probe depended on, stored beside its result.
type readSet struct {
	// Exact paths: what is at them matters (a directory's entries do not).
	Exact []string `json:"exact,omitempty"`
	// Trees: what is at them and anything under them matters (directories
	// listed, paths that were missing, files and symbolic links).
	Trees []string `json:"trees,omitempty"`
	// Links are paths a layer entry may be written through (symbolic links
	// not to regular files): an entry below one may land anywhere.
	Links []string `json:"links,omitempty"`
}

// recordingFS passes calls to an image's filesystem and records every path
// looked at, following symbolic links as the filesystem does so that the
// links and their targets are recorded too.
type recordingFS struct {
	fsys fs.FS
	mu   sync.Mutex
	set  map[string]bool // path -> tree
	bad  bool            // something could not be recorded: never reuse
}

func newRecordingFS(fsys fs.FS) *recordingFS {
	return &recordingFS{fsys: fsys, set: map[string]bool{}}
}

var (
	_ fs.ReadDirFS  = (*recordingFS)(nil)
	_ fs.ReadFileFS = (*recordingFS)(nil)
	_ fs.StatFS     = (*recordingFS)(nil)
	_ fs.ReadLinkFS = (*recordingFS)(nil)
)

func (r *recordingFS) Open(name string) (fs.File, error) {
	f, err := r.fsys.Open(name)
	// A directory opened may be listed through the file.
	tree := true
	if err == nil {
		if fi, serr := f.Stat(); serr == nil && !fi.IsDir() {
			tree = false
		}
	}
	r.note(name, tree)
	return f, err
}

func (r *recordingFS) ReadFile(name string) ([]byte, error) {
	r.note(name, false)
	return fs.ReadFile(r.fsys, name)
}

func (r *recordingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	r.note(name, true)
	return fs.ReadDir(r.fsys, name)
}

func (r *recordingFS) Stat(name string) (fs.FileInfo, error) {
	r.note(name, false)
	return fs.Stat(r.fsys, name)
}

func (r *recordingFS) Lstat(name string) (fs.FileInfo, error) {
	r.note(name, false)
	return fs.Lstat(r.fsys, name)
}

func (r *recordingFS) ReadLink(name string) (string, error) {
	r.note(name, false)
	return fs.ReadLink(r.fsys, name)
}

// note records name, resolved component by component: the symbolic links on
// the way (whose change would redirect it) and where it ends. A missing
// path, or a file where a directory is needed, is recorded as a tree: an
// entry created at or below it changes what the probe saw.
func (r *recordingFS) note(name string, list bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !fs.ValidPath(name) {
		return // the call fails whatever the layers hold
	}
	comps := splitPath(name)
	var done []string
	for i, hops := 0, 0; i < len(comps); i++ {
		p := path.Join(append(done, comps[i])...)
		fi, err := fs.Lstat(r.fsys, p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
				r.bad = true
			}
			r.add(p, true)
			return
		}
		last := i == len(comps)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			r.add(p, true)
			target, err := fs.ReadLink(r.fsys, p)
			if hops++; err != nil || hops > 40 {
				r.bad = true
				return
			}
			dir := "/" + path.Dir(p)
			if strings.HasPrefix(target, "/") {
				dir = "/"
			}
			comps = append(splitPath(strings.TrimPrefix(path.Join(dir, target), "/")), comps[i+1:]...)
			done, i = nil, -1
			if len(comps) == 0 {
				r.add(".", list)
				return
			}
		case last:
			r.add(p, list || !fi.IsDir())
			return
		case !fi.IsDir():
			r.add(p, true)
			return
		default:
			done = append(done, comps[i])
		}
	}
	r.add(".", list)
}

func (r *recordingFS) add(p string, tree bool) { r.set[p] = r.set[p] || tree }

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// splitPath splits an fs.FS name into its components ("." has none).
func splitPath(name string) []string {
	if name == "." || name == "" {
		return nil
	}
	return strings.Split(name, "/")
}

// readSet returns what was recorded, with the image's links; ok is false
// when the probe's dependencies could not all be recorded.
func (r *recordingFS) readSet() (readSet, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rs readSet
	for p, tree := range r.set {
		if tree {
			rs.Trees = append(rs.Trees, p)
		} else {
			rs.Exact = append(rs.Exact, p)
		}
	}
	sort.Strings(rs.Exact)
	sort.Strings(rs.Trees)
	err := fs.WalkDir(r.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if fi, err := fs.Stat(r.fsys, p); err != nil || !fi.Mode().IsRegular() {
				rs.Links = append(rs.Links, p)
			}
		}
		return nil
	})
	return rs, err == nil && !r.bad
}

// chainIDs names every stack of img's lowest layers: ids[k] is the chain of
// its first k layers (ids[len(layers)] is chainID(img)).
func chainIDs(img v1.Image) ([]string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	ids := []string{hex.EncodeToString(h.Sum(nil))}
	for _, d := range cf.RootFS.DiffIDs {
		io.WriteString(h, d.String()+"\n")
		ids = append(ids, hex.EncodeToString(h.Sum(nil)))
	}
	return ids, nil
}

// layerEntry is what a layer does to one path.
type layerEntry struct {
	path    string
	subtree bool   // replaces or removes what is under path too
	dirOnly bool   // an opaque whiteout: only what is strictly under path
	link    string // a symbolic link's target
}

// layerHeaders reads the entries of a layer without its content.
func layerHeaders(l v1.Layer) ([]layerEntry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []layerEntry
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name, err := layers.CleanEntryName(hdr.Name)
		if err != nil {
			return nil, err
		}
		if name == "" {
			name = "."
		}
		dir, base := path.Dir(name), path.Base(name)
		switch {
		case base == ".wh..wh..opq":
			out = append(out, layerEntry{path: dir, subtree: true, dirOnly: true})
		case strings.HasPrefix(base, ".wh."):
			out = append(out, layerEntry{path: path.Join(dir, strings.TrimPrefix(base, ".wh.")), subtree: true})
		default:
			e := layerEntry{path: name, subtree: hdr.Typeflag != tar.TypeDir}
			if hdr.Typeflag == tar.TypeSymlink {
				e.link = hdr.Linkname
			}
			out = append(out, e)
		}
	}
}

// clean reports whether entries leave every path of rs as it was. The paths
// an entry replaces or removes join the links: an entry below one of them
// may have gone through a link the lower layers held there.
func (rs readSet) clean(entries []layerEntry) (readSet, bool) {
	tree := map[string]bool{}
	for _, p := range rs.Exact {
		tree[p] = false
	}
	for _, p := range rs.Trees {
		tree[p] = true
	}
	all := append(append([]string(nil), rs.Exact...), rs.Trees...)
	sort.Strings(all)
	links := map[string]bool{}
	for _, p := range rs.Links {
		links[p] = true
	}
	for _, e := range entries {
		if e.subtree && !e.dirOnly {
			links[e.path] = true
		}
	}
	for _, e := range entries {
		if t, ok := tree[e.path]; ok && (!e.dirOnly || t) {
			return rs, false
		}
		if e.subtree && hasUnder(all, e.path) {
			return rs, false
		}
		for a := path.Dir(e.path); ; a = path.Dir(a) {
			if links[a] || tree[a] {
				return rs, false
			}
			if a == "." {
				break
			}
		}
	}
	out := rs
	out.Links = nil
	for p := range links {
		out.Links = append(out.Links, p)
	}
	sort.Strings(out.Links)
	return out, true
}

// hasUnder reports whether sorted holds a path strictly below p.
func hasUnder(sorted []string, p string) bool {
	if p == "." {
		return len(sorted) > 0 && !(len(sorted) == 1 && sorted[0] == ".")
	}
	i := sort.SearchStrings(sorted, p+"/")
	return i < len(sorted) && strings.HasPrefix(sorted[i], p+"/")
}

// upperEntries reads the entries of img's layers from the k-th up, or
// reports false when they are too many or too big to be worth reading.
func upperEntries(img v1.Image, k int) ([]layerEntry, bool, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, false, err
	}
	if k < 0 || len(ls)-k > maxPeel {
		return nil, false, nil
	}
	var total int64
	var out []layerEntry
	for _, l := range ls[k:] {
		size, err := l.Size()
		if err != nil {
			return nil, false, nil
		}
		if total += size; total > maxPeelBytes {
			return nil, false, nil
		}
		es, err := layerHeaders(l)
		if err != nil {
			d, _ := l.Digest()
			return nil, false, fmt.Errorf("reading the headers of layer %s: %w", d, err)
		}
		out = append(out, es...)
	}
	return out, true, nil
}

// reuseProbe looks for the nearest stack of img's lower layers probed with
// its read set kept, and fills v from it when the layers above leave every
// path read as it was; the result is then kept for img's own layers too.
func (e *env) reuseProbe(img v1.Image, ids []string, name string, v any) (bool, error) {
	ns := e.o.cache.Namespace("probes")
	n := len(ids) - 1
	for k := n - 1; k >= 0 && k >= n-maxPeel; k-- {
		rb, ok, err := ns.Get(ids[k] + "-" + name + ".reads.json")
		if err != nil || !ok {
			continue
		}
		b, ok, err := ns.Get(ids[k] + "-" + name + ".json")
		var rs readSet
		if err != nil || !ok || json.Unmarshal(rb, &rs) != nil {
			continue
		}
		entries, ok, err := upperEntries(img, k)
		if err != nil {
			e.o.logger.Debug("probing again", "probe", name, "err", err)
			return false, nil
		}
		if !ok {
			return false, nil
		}
		nrs, ok := rs.clean(entries)
		if !ok || json.Unmarshal(b, v) != nil {
			return false, nil
		}
		e.o.logger.Debug("probe carried over from lower layers", "probe", name, "layers above", n-k)
		if err := ns.Put(ids[n]+"-"+name+".json", b); err != nil {
			return true, err
		}
		return true, e.putReads(ids[n], name, nrs)
	}
	return false, nil
}

// storeReads keeps the read set of a probe of img, and the result for the
// lowest stack of its layers the layers above cannot have changed: the
// image rebuilt with other files on top finds it there.
func (e *env) storeReads(img v1.Image, ids []string, name string, v any, rs readSet) error {
	n := len(ids) - 1
	if err := e.putReads(ids[n], name, rs); err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	low, lowSet := n, rs
	var acc []layerEntry
	var total int64
	for k := n - 1; k >= 0 && k >= n-maxPeel; k-- {
		size, err := ls[k].Size()
		if total += size; err != nil || total > maxPeelBytes {
			break
		}
		es, err := layerHeaders(ls[k])
		if err != nil {
			break
		}
		acc = append(acc, es...)
		nrs, ok := rs.clean(acc)
		if !ok {
			break
		}
		low, lowSet = k, nrs
	}
	if low == n {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := e.putProbe(ids[low]+"-"+name+".json", b); err != nil {
		return err
	}
	return e.putReads(ids[low], name, lowSet)
}

func (e *env) putReads(chain, name string, rs readSet) error {
	b, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	return e.putProbe(chain+"-"+name+".reads.json", b)
}

// putProbe keeps b under key in the probes namespace, unless it is there
// already: a rebuild records the same probes again, and each write is a
// file synced to disk and renamed.
func (e *env) putProbe(key string, b []byte) error {
	ns := e.o.cache.Namespace("probes")
	if old, ok, err := ns.Get(key); err == nil && ok && bytes.Equal(old, b) {
		return nil
	}
	return ns.Put(key, b)
}
