package conda

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// ReadInstalled lists the packages installed in prefix (an image path) of
// fsys, from their conda-meta records, sorted by name: what a layer above
// adds to, keeping them. An environment that does not exist has none.
func ReadInstalled(fsys fs.FS, prefix string) ([]Record, error) {
	dir := strings.TrimPrefix(path.Join(prefix, "conda-meta"), "/")
	ents, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", prefix+"/conda-meta", err)
	}
	var out []Record
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading %s/conda-meta/%s: %w", prefix, e.Name(), err)
		}
		var rr rawRecord
		if err := fastJSON.Unmarshal(b, &rr); err != nil {
			return nil, fmt.Errorf("%s/conda-meta/%s: %w", prefix, e.Name(), err)
		}
		r := rr.Record
		r.Noarch, r.TrackFeatures = noarchOf(rr.Noarch), featuresOf(rr.TrackFeatures)
		if r.Name == "" || r.Version == "" {
			return nil, fmt.Errorf("%s/conda-meta/%s: not a package record (no name or version)", prefix, e.Name())
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
