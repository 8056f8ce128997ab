package remotecache

import (
	"context"
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Ref is one cache ref, opened for upkeep (assemble cache du/prune
// --cache-ref).
type Ref struct {
	store store
	cfg   config
}

// OpenRef parses a cache ref (docker://REPO[:TAG] or oci:DIR[:TAG]).
func OpenRef(spec string, opts ...Option) (*Ref, error) {
	c, err := New(nil, spec, opts...)
	if err != nil {
		return nil, err
	}
	return &Ref{store: c.to.store, cfg: c.cfg}, nil
}

// String is the ref as messages name it.
func (r *Ref) String() string { return r.store.String() }

// Entries lists the ref's entries, oldest first.
func (r *Ref) Entries(ctx context.Context) ([]Entry, error) {
	m, err := readEntries(ctx, r.store)
	if err != nil {
		return nil, err
	}
	return sorted(m), nil
}

func sorted(m map[string]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Usage is what a cache ref holds.
type Usage struct {
	Ref     string    `json:"ref"`
	Entries int       `json:"entries"`
	Blobs   int       `json:"blobs"` // distinct layer blobs
	Bytes   int64     `json:"bytes"` // their compressed size
	Oldest  time.Time `json:"oldest,omitzero"`
	Newest  time.Time `json:"newest,omitzero"`
}

// Usage reads the ref and sums it up.
func (r *Ref) Usage(ctx context.Context) (Usage, error) {
	es, err := r.Entries(ctx)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Ref: r.String(), Entries: len(es)}
	seen := map[v1.Hash]bool{}
	for _, e := range es {
		if !seen[e.Digest] {
			seen[e.Digest] = true
			u.Blobs++
			u.Bytes += e.Size
		}
	}
	if len(es) > 0 {
		u.Oldest, u.Newest = es[0].Created, es[len(es)-1].Created
	}
	return u, nil
}

// PruneResult is what Prune removed.
type PruneResult struct {
	Removed int `json:"removed"`
	Kept    int `json:"kept"`
}

// Prune removes the entries first written more than keepDays days ago
// (and those with no time). The registry frees their blobs at its next
// garbage collection, when no other manifest uses them.
func (r *Ref) Prune(ctx context.Context, keepDays int) (PruneResult, error) {
	if keepDays < 0 {
		return PruneResult{}, fmt.Errorf("--keep-days %d: give 0 or more days", keepDays)
	}
	cutoff := r.cfg.now().Add(-time.Duration(keepDays) * 24 * time.Hour)
	unlock, err := r.store.lock()
	if err != nil {
		return PruneResult{}, err
	}
	defer unlock()
	m, err := readEntries(ctx, r.store)
	if err != nil {
		return PruneResult{}, err
	}
	var res PruneResult
	for k, e := range m {
		if e.Created.Before(cutoff) {
			delete(m, k)
			res.Removed++
		}
	}
	res.Kept = len(m)
	if res.Removed == 0 {
		return res, nil
	}
	fallback := false
	return res, put(ctx, r.store, m, &fallback)
}
