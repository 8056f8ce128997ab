package dockerfile

import (
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// treeMemoSize bounds the trees a TreeMemo keeps: a run has few distinct
// bases, and a tree of a Debian base is a few MB.
const treeMemoSize = 4

// TreeMemo keeps, for the builds of one run, the file trees of the images
// stages start from, keyed by their layers' diffIDs (a tree is a function
// of them alone). A plan that builds several Dockerfiles over one base, or
// builds one twice (once while planning, to read it, and again to publish
// it), then applies the base's layers to a tree once, and clones it after.
// Safe for concurrent use.
type TreeMemo struct {
	mu    sync.Mutex
	trees map[string]*tree
	order []string // oldest first
	built int      // trees made by applying layers (for tests)
}

// NewTreeMemo is an empty memo.
func NewTreeMemo() *TreeMemo { return &TreeMemo{trees: map[string]*tree{}} }

// WithTreeMemo shares m between builds: stages starting from an image whose
// tree m holds take a copy of it instead of reading its layers again.
func WithTreeMemo(m *TreeMemo) Option { return func(o *options) { o.trees = m } }

// treeKey names img's tree by its diffIDs in order; "" when the config does
// not list them all (the tree is then read, not memoised).
func treeKey(img v1.Image) string {
	ls, err := img.Layers()
	if err != nil {
		return ""
	}
	cf, err := img.ConfigFile()
	if err != nil || cf == nil || len(cf.RootFS.DiffIDs) != len(ls) {
		return ""
	}
	ids := make([]string, len(ls))
	for i, d := range cf.RootFS.DiffIDs {
		if d.Hex == "" {
			return ""
		}
		ids[i] = d.String()
	}
	return strings.Join(ids, ",")
}

// get returns a copy of the tree kept under key, or nil.
func (m *TreeMemo) get(key string) *tree {
	m.mu.Lock()
	t := m.trees[key]
	m.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.clone() // the caller's COPYs change its tree; the kept one stays
}

// put keeps a copy of t under key, dropping the oldest tree past the bound.
func (m *TreeMemo) put(key string, t *tree) {
	c := t.clone() // without the caller's hooks
	m.mu.Lock()
	defer m.mu.Unlock()
	m.built++
	if _, ok := m.trees[key]; ok {
		return
	}
	m.trees[key] = c
	m.order = append(m.order, key)
	if len(m.order) > treeMemoSize {
		delete(m.trees, m.order[0])
		m.order = m.order[1:]
	}
}
