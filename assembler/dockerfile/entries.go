package dockerfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"

	"github.com/assemble-build/assemble/layers"
)

// entriesKeyVersion changes whenever the same instruction could give other
// entries (how COPY places files, which metadata it keeps).
const entriesKeyVersion = "assemble-dockerfile-entries-v1"

// entriesLayer is a layer of entries this package computed (COPY, ADD,
// WORKDIR). Its key covers every entry's path, type, mode, owner, link
// target and content, so it changes exactly when the layer's bytes would.
type entriesLayer struct {
	desc    string
	entries []layers.Entry

	once sync.Once
	key  string
	err  error
}

var _ layers.Spec = (*entriesLayer)(nil)

func newEntriesLayer(desc string, entries []layers.Entry) *entriesLayer {
	return &entriesLayer{desc: desc, entries: entries}
}

// Describe implements layers.Spec.
func (l *entriesLayer) Describe() string {
	d := firstLine(l.desc)
	if len(d) > 100 {
		d = d[:97] + "..."
	}
	return d
}

// Entries implements layers.Spec.
func (l *entriesLayer) Entries(context.Context) ([]layers.Entry, error) { return l.entries, nil }

// Key implements layers.Spec.
func (l *entriesLayer) Key(ctx context.Context) (string, error) {
	l.once.Do(func() { l.key, l.err = hashEntries(ctx, l.entries) })
	return l.key, l.err
}

func hashEntries(ctx context.Context, entries []layers.Entry) (string, error) {
	sorted := append([]layers.Entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	sums, err := layers.ContentSums(ctx, sorted)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", entriesKeyVersion)
	for i, e := range sorted {
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%d:%d\x00%s\x00%d\x00%s\x00", e.Path, e.Type, e.Mode, e.UID, e.GID, e.Link, e.Size, sums[i])
		keys := make([]string, 0, len(e.Xattrs))
		for k := range e.Xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "x:%s=%s\x00", k, e.Xattrs[k])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
