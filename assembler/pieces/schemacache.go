package pieces

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/logctx"
)

// CacheNamespace is the cache namespace (layers.Cache.Namespace) that keeps
// schema extractions.
const CacheNamespace = "pieces-schemas"

// Cache keeps schema extractions between runs; a *layers.Namespace is one.
// Its entries are derived data: a missing or unreadable entry means
// running Python again.
type Cache interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, data []byte) error
}

// Running Python to read the schemas is most of a rebuild after one
// piece.py is edited, and piece.py is not what it reads: it imports each
// piece's models.py and pydantic. So an extraction is kept under a key made
// of what it ran on (the interpreter, or the group image's layers below the
// repository layer) and is taken again when every file and folder the last
// run read, as extractScript's audit hook recorded them, is as it was. That
// is exact where a key of chosen files would guess: a models.py importing a
// sibling module, or reading a data file, is caught as well.

// cacheFormat changes the keys when an entry's meaning changes.
const cacheFormat = "pieces-schemas 1"

// stamp is the state of one file or folder an extraction read.
type stamp struct {
	Path string `json:"path"`
	Dir  bool   `json:"dir,omitempty"`
	// ByContent: the file's SHA-256 rather than its size and modification
	// time (files of the repository, which editors may rewrite in place).
	ByContent bool   `json:"byContent,omitempty"`
	State     string `json:"state"`
}

// cacheEntry is one kept extraction: extractScript's output and what it read.
type cacheEntry struct {
	Output []byte  `json:"output"`
	Reads  []stamp `json:"reads"`
}

// readPath maps a path the script read to the host path that decides its
// content (relative: to the run's base) and how to compare it; keep is
// false for paths the key covers.
type readPath func(p string) (host string, byContent, keep bool)

// schemaRun is one extraction: where it runs, its key and how to run it.
type schemaRun struct {
	what  string // for logs: "the host's /usr/bin/python3", "group0's image"
	key   string
	local readPath
	// base is the folder relative read paths are in ("": all are absolute).
	base string
	run  func() ([]byte, error)
}

// output returns the extraction's output from cache when every read of the
// kept entry is unchanged, else runs it and keeps the result.
func (r schemaRun) output(ctx context.Context, c Cache) ([]byte, error) {
	log := logctx.From(ctx)
	if c != nil {
		if out, ok := lookup(c, r.key, r.base); ok {
			log.Debug("pydantic schemas taken from the cache: nothing they read changed", "where", r.what)
			return out, nil
		}
	}
	log.Debug("running Python to read the pydantic schemas", "where", r.what)
	out, err := r.run()
	if err != nil || c == nil {
		return out, err
	}
	if err := keep(c, r.key, r.base, out, r.local); err != nil {
		log.Debug("not caching the schema extraction", "where", r.what, "err", err)
	}
	return out, nil
}

// lookup returns the kept output under key when all its reads (relative
// ones in base) are unchanged.
func lookup(c Cache, key, base string) ([]byte, bool) {
	data, ok, err := c.Get(key)
	if err != nil || !ok {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.Output == nil {
		return nil, false
	}
	for _, s := range e.Reads {
		if now, err := stateOf(inBase(base, s.Path), s.Dir, s.ByContent); err != nil || now != s.State {
			return nil, false
		}
	}
	return e.Output, true
}

// keep stores out under key with the state of everything it read, unless
// the script could not record its reads (a Python without audit hooks).
func keep(c Cache, key, base string, out []byte, local readPath) error {
	var res struct {
		Reads *struct{ Files, Dirs []string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return err
	}
	if res.Reads == nil {
		return errors.New("the interpreter records no reads (sys.addaudithook needs Python 3.8)")
	}
	seen := map[stamp]bool{}
	var reads []stamp
	add := func(p string, dir bool) error {
		host, byContent, ok := local(p)
		if !ok {
			return nil
		}
		s := stamp{Path: host, Dir: dir, ByContent: byContent}
		if seen[s] {
			return nil
		}
		seen[s] = true
		var err error
		if s.State, err = stateOf(inBase(base, host), dir, byContent); err != nil {
			return err
		}
		reads = append(reads, s)
		return nil
	}
	for _, f := range res.Reads.Files {
		if err := add(f, false); err != nil {
			return err
		}
		// A module imported from its bytecode did not open its source,
		// whose change Python would notice.
		if src, ok := sourceOfBytecode(f); ok {
			if err := add(src, false); err != nil {
				return err
			}
		}
	}
	for _, d := range res.Reads.Dirs {
		if err := add(d, true); err != nil {
			return err
		}
	}
	data, err := json.Marshal(cacheEntry{Output: out, Reads: reads})
	if err != nil {
		return err
	}
	return c.Put(key, data)
}

// inBase resolves a relative read path in base.
func inBase(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// sourceOfBytecode maps .../__pycache__/mod.cpython-311.pyc to .../mod.py.
func sourceOfBytecode(p string) (string, bool) {
	dir, base := filepath.Split(p)
	if filepath.Base(dir) != "__pycache__" || !strings.HasSuffix(base, ".pyc") {
		return "", false
	}
	mod, _, _ := strings.Cut(base, ".")
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), mod+".py"), true
}

// stateOf is what a file or folder holds now: a folder's entry names and
// types, a file's SHA-256 or its size and modification time, or "missing".
func stateOf(p string, dir, byContent bool) (string, error) {
	h := sha256.New()
	switch {
	case dir:
		ents, err := os.ReadDir(p)
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return "missing", nil
		}
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			fmt.Fprintf(h, "%s\x00%o\x00", e.Name(), e.Type())
		}
	case byContent:
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return "missing", nil
		}
		if err != nil {
			return "", err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return "dir", nil
		}
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
	default:
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return "missing", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d %d %o", fi.Size(), fi.ModTime().UnixNano(), fi.Mode()), nil
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isNotDir: a path through a file ("models.py/x"), or a folder that is now
// a file, is as missing as any.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// cacheKey hashes the parts of a key, each ended so that no two part lists
// give one key.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{cacheFormat, extractScript}, parts...) {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)) + ".json"
}

// hostRun is the extraction with a host interpreter exe, in root. The key
// holds the interpreter (its path, size and time), the PYTHON* variables
// that steer it and the repository's place (the output names its files);
// every file the run opened is compared, the repository's by content.
func hostRun(exe, root string, names []string, run func() ([]byte, error)) schemaRun {
	parts := []string{"host", exe, root, strings.Join(names, "\x00")}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		st, _ := stateOf(real, false, false)
		parts = append(parts, real, st)
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHON") {
			env = append(env, kv)
		}
	}
	sort.Strings(env)
	parts = append(parts, env...)
	inRoot := strings.TrimSuffix(root, "/") + "/"
	return schemaRun{
		what: "the host's " + exe,
		key:  cacheKey(parts...),
		local: func(p string) (string, bool, bool) {
			return p, p == root || strings.HasPrefix(p, inRoot), true
		},
		run: run,
	}
}

// imageRun is the extraction in a group's image img. The key holds the
// image's run settings and every layer that is not a copy of the
// repository: the repository layer, and a Dockerfile's COPY of pieces/ (as
// Domino's Dockerfiles do), hold files of root, and the files read under
// RepositoryDir are compared with root's by content instead. So an edit to
// a piece.py that models.py does not import changes neither. Read paths
// are kept relative to root, so another checkout of the same repository
// (a CI job's new folder) finds the entry.
func imageRun(img v1.Image, platform string, copies *repoCopies, group string, names []string, run func() ([]byte, error)) (schemaRun, error) {
	ls, err := img.Layers()
	if err != nil {
		return schemaRun{}, err
	}
	parts := []string{"image", platform, strings.Join(names, "\x00")}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return schemaRun{}, err
		}
		copied, err := copies.copies(l, d)
		if err != nil {
			return schemaRun{}, err
		}
		if copied {
			continue
		}
		parts = append(parts, d.String())
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return schemaRun{}, err
	}
	settings, err := json.Marshal(cf.Config)
	if err != nil {
		return schemaRun{}, err
	}
	parts = append(parts, string(settings))
	return schemaRun{
		what: group + "'s image",
		key:  cacheKey(parts...),
		local: func(p string) (string, bool, bool) {
			rel, ok := inRepositoryDir(p)
			if !ok {
				return "", false, false
			}
			if rel == "" {
				rel = "."
			}
			return filepath.FromSlash(rel), true, true
		},
		base: copies.root,
		run:  run,
	}, nil
}

// repoCopies remembers, for one load, which layers copiesRepository found
// to be copies of root. Every group's image holds the same repository
// layer (and a Dockerfile group the same COPY of pieces/), so reading it
// and hashing the repository's files once serves all the groups.
type repoCopies struct {
	root  string
	known map[v1.Hash]bool
}

func newRepoCopies(root string) *repoCopies {
	return &repoCopies{root: root, known: map[v1.Hash]bool{}}
}

// copies is copiesRepository(l, root), once per layer digest d.
func (c *repoCopies) copies(l v1.Layer, d v1.Hash) (bool, error) {
	if ok, seen := c.known[d]; seen {
		return ok, nil
	}
	ok, err := copiesRepository(l, c.root)
	if err != nil {
		return false, err
	}
	c.known[d] = ok
	return ok, nil
}

// inRepositoryDir is p's place under RepositoryDir ("" for the folder itself).
func inRepositoryDir(p string) (string, bool) {
	rel, ok := strings.CutPrefix(path.Clean("/"+p), RepositoryDir)
	if !ok || (rel != "" && rel[0] != '/') {
		return "", false
	}
	return strings.TrimPrefix(rel, "/"), true
}

// copiesRepository reports whether layer l holds only files of root, each
// under RepositoryDir as it is in root (and folders on the way there): then
// what extraction reads of it is what it reads of root. It stops at the
// first entry that is not, so a base's large layers cost one header.
func copiesRepository(l v1.Layer, root string) (bool, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	bufs := new(compareBuffers)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading a layer: %w", err)
		}
		name := path.Clean("/" + h.Name)
		if strings.HasPrefix(path.Base(name), ".wh.") {
			return false, nil
		}
		rel, ok := inRepositoryDir(name)
		if !ok {
			// Folders above RepositoryDir come with a copy into it.
			if h.Typeflag == tar.TypeDir && strings.HasPrefix(RepositoryDir, name+"/") || name == "/" {
				continue
			}
			return false, nil
		}
		if same, err := sameAsRoot(tr, h, filepath.Join(root, filepath.FromSlash(rel)), bufs); err != nil || !same {
			return false, err
		}
	}
}

// sameAsRoot reports whether the layer entry h (its content in r) is what
// root holds at host.
func sameAsRoot(r io.Reader, h *tar.Header, host string, bufs *compareBuffers) (bool, error) {
	fi, err := os.Lstat(host)
	if err != nil {
		return false, nil
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return fi.IsDir(), nil
	case tar.TypeSymlink:
		target, err := os.Readlink(host)
		return err == nil && target == h.Linkname, nil
	case tar.TypeReg:
		if !fi.Mode().IsRegular() || fi.Size() != h.Size {
			return false, nil
		}
		f, err := os.Open(host)
		if err != nil {
			return false, nil
		}
		defer f.Close()
		return bufs.same(r, f)
	}
	return false, nil
}

// compareBuffers are the two buffers sameAsRoot reads a layer's file and
// the host's into, kept for all the files of a layer.
type compareBuffers struct{ layer, host [32 << 10]byte }

// same reports whether layer (whose entry is as long as host's file, which
// sameAsRoot checked) and host hold the same bytes; only the layer's read
// errors are errors (a host file that cannot be read is not the same).
func (b *compareBuffers) same(layer, host io.Reader) (bool, error) {
	for {
		n, err := io.ReadFull(layer, b.layer[:])
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("reading a layer: %w", err)
		}
		if m, _ := io.ReadFull(host, b.host[:n]); m != n {
			return false, nil
		}
		if !bytes.Equal(b.layer[:n], b.host[:n]) {
			return false, nil
		}
		if n < len(b.layer) {
			// The layer's entry is done: so must the host's file be.
			m, _ := host.Read(b.host[:1])
			return m == 0, nil
		}
	}
}
