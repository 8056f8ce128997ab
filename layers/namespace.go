package layers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Namespace is one folder of the cache, holding one kind of entry: layer
// blobs, layer keys, downloads, probe results, Debian resolutions... A
// package that keeps something in the cache asks the cache for its
// namespace (Cache.Namespace) instead of building paths under the cache
// directory, so that the maintenance commands (Usage, Verify, Prune) know
// every namespace: those registered in this process and, found on disk,
// those another process made.
//
// An entry is a file named by its key. Writes are atomic (a temporary file
// beside the entry, then a rename), so readers never see half an entry and
// several processes may share the cache.
type Namespace struct {
	name string // what maintenance calls it ("blobs", "probes")
	dir  string // absolute folder
	// check, when set, says whether an entry is intact; Verify calls it.
	check EntryCheck
	// dangling, when set, reports an entry that refers to something pruned;
	// Prune removes such entries after removing old ones.
	dangling func(path string) bool
	builtin  bool
}

// EntryCheck reads an entry (key, content) and returns why it is bad, or
// nil when it is intact.
type EntryCheck func(key string, r io.Reader) error

// NamespaceOption adjusts a namespace when it is registered.
type NamespaceOption func(*Namespace)

// WithEntryCheck makes Verify read every entry of the namespace through check.
// Without it, the namespace's entries are derived data that is recomputed
// when it is missing or unreadable: Verify has nothing to check.
func WithEntryCheck(check EntryCheck) NamespaceOption {
	return func(n *Namespace) { n.check = check }
}

// Name is the namespace's name.
func (n *Namespace) Name() string { return n.name }

// Dir is the namespace's folder.
func (n *Namespace) Dir() string { return n.dir }

// Path is where the entry key lives (it may not exist). It is for keys the
// caller made from digests, to open or link the file; Get, Put and PutFile
// check keys.
func (n *Namespace) Path(key string) string { return filepath.Join(n.dir, key) }

// Get returns the entry stored under key; false when there is none.
func (n *Namespace) Get(key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(n.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading cache entry %s/%s: %w", n.name, key, err)
	}
	return b, true, nil
}

// Put stores data under key atomically, replacing what was there.
func (n *Namespace) Put(key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return atomicfile.WriteFile(n.Path(key), data)
}

// PutFile moves a finished file (made with Cache.TempFile, so on the same
// file system) into place as the entry key, atomically, and returns the
// entry's path.
func (n *Namespace) PutFile(key, tmp string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return "", fmt.Errorf("storing %s in cache: %w", key, err)
	}
	p := n.Path(key)
	err := os.Rename(tmp, p)
	if errors.Is(err, fs.ErrNotExist) {
		// The folder was removed (by hand, say): make it and try again.
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", n.dir, err)
		}
		err = os.Rename(tmp, p)
	}
	if err != nil {
		return "", fmt.Errorf("storing %s in cache: %w", key, err)
	}
	return p, nil
}

// checkKey refuses keys that are not one plain file name. Names starting
// with a dot are kept for temporary files.
func checkKey(key string) error {
	if key == "" || strings.ContainsAny(key, `/\`) || strings.HasPrefix(key, ".") {
		return fmt.Errorf("cache key %q: want a file name not starting with a dot", key)
	}
	return nil
}

var namespaceName = lazyregexp.New(`^[a-z0-9][a-z0-9-]*$`)

// Namespace returns the namespace called name (one folder, named the same,
// under the cache directory), registering it on first use. name is a
// constant of the calling package: lower-case letters, digits and dashes; any
// other name panics, as regexp.MustCompile does.
func (c *Cache) Namespace(name string, opts ...NamespaceOption) *Namespace {
	if !namespaceName.MatchString(name) {
		panic(fmt.Sprintf("layers: invalid cache namespace name %q", name))
	}
	c.nsMu.Lock()
	defer c.nsMu.Unlock()
	for _, n := range c.namespaces {
		if n.name == name {
			return n
		}
	}
	return c.register(name, name, opts...)
}

// register adds a namespace in folder dir (slash-separated, under the cache
// directory); the caller holds nsMu or owns c alone.
func (c *Cache) register(name, dir string, opts ...NamespaceOption) *Namespace {
	n := &Namespace{name: name, dir: filepath.Join(c.dir, filepath.FromSlash(dir))}
	for _, opt := range opts {
		opt(n)
	}
	c.namespaces = append(c.namespaces, n)
	return n
}

// Namespaces lists every namespace of the cache: the cache's own first, in a
// fixed order, then the others by name, whether registered in this process or
// found on disk (a folder some other process filled).
func (c *Cache) Namespaces() ([]*Namespace, error) {
	c.nsMu.Lock()
	var own, others []*Namespace
	taken := map[string]bool{}
	for _, n := range c.namespaces {
		if n.builtin {
			own = append(own, n)
		} else {
			others = append(others, n)
		}
		rel, _ := filepath.Rel(c.dir, n.dir)
		taken[strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]] = true
	}
	c.nsMu.Unlock()
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("listing cache %s: %w", c.dir, err)
	}
	for _, e := range ents {
		if e.IsDir() && !taken[e.Name()] && namespaceName.MatchString(e.Name()) {
			others = append(others, &Namespace{name: e.Name(), dir: filepath.Join(c.dir, e.Name())})
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].name < others[j].name })
	return append(own, others...), nil
}
