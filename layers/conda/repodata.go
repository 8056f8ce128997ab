package conda

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	jsoniter "github.com/json-iterator/go"
)

// fastJSON is jsoniter in the standard library's mode: conda-forge's
// linux-64 index is hundreds of megabytes, and only the records of
// packages the solver looks at are decoded at all.
var fastJSON = jsoniter.ConfigCompatibleWithStandardLibrary

// Repodata is one subdir of one channel: its records by package name,
// decoded on first use.
type Repodata struct {
	Channel Channel
	Subdir  string
	// File is the index file it was read from; empty for a subdir the
	// channel does not have.
	File    IndexFile
	baseURL string

	mu      sync.Mutex
	raw     map[string][]rawEntry
	decoded map[string][]Record
}

// IndexFile names one repodata file as it was read: its URL (with any
// credentials in it) and the sha256 of its bytes, for provenance.
type IndexFile struct {
	URL    string
	SHA256 string
}

type rawEntry struct {
	fn  string
	msg jsoniter.RawMessage
}

// repodataFile is repodata.json's shape.
type repodataFile struct {
	Info struct {
		Subdir  string `json:"subdir"`
		BaseURL string `json:"base_url"`
	} `json:"info"`
	Packages      map[string]jsoniter.RawMessage `json:"packages"`
	PackagesConda map[string]jsoniter.RawMessage `json:"packages.conda"`
	Removed       []string                       `json:"removed"`
}

// ParseRepodata reads a subdir's repodata.json. Records are grouped by name
// (from the file name, name-version-build.ext) and decoded lazily; a
// package offered as both .conda and .tar.bz2 is taken as .conda, as conda
// prefers it.
func ParseRepodata(ch Channel, subdir string, b []byte) (*Repodata, error) {
	var f repodataFile
	if err := fastJSON.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not a conda repodata.json: %w", err)
	}
	rd := &Repodata{Channel: ch, Subdir: subdir, raw: map[string][]rawEntry{}, decoded: map[string][]Record{}}
	if f.Info.BaseURL != "" {
		rd.baseURL = strings.TrimRight(f.Info.BaseURL, "/")
	}
	haveConda := map[string]bool{}
	for _, fn := range sortedKeys(f.PackagesConda) {
		name, ok := nameOfFile(fn)
		if !ok {
			continue
		}
		haveConda[strings.TrimSuffix(fn, ".conda")] = true
		rd.raw[name] = append(rd.raw[name], rawEntry{fn, f.PackagesConda[fn]})
	}
	for _, fn := range sortedKeys(f.Packages) {
		name, ok := nameOfFile(fn)
		if !ok || haveConda[strings.TrimSuffix(fn, ".tar.bz2")] {
			continue
		}
		rd.raw[name] = append(rd.raw[name], rawEntry{fn, f.Packages[fn]})
	}
	return rd, nil
}

func sortedKeys(m map[string]jsoniter.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nameOfFile is the package name of "name-version-build.conda".
func nameOfFile(fn string) (string, bool) {
	base := strings.TrimSuffix(strings.TrimSuffix(fn, ".conda"), ".tar.bz2")
	if base == fn {
		return "", false
	}
	i := strings.LastIndex(base, "-")
	if i <= 0 {
		return "", false
	}
	j := strings.LastIndex(base[:i], "-")
	if j <= 0 {
		return "", false
	}
	return strings.ToLower(base[:j]), true
}

// rawRecord is a repodata entry as channels write it: noarch may be a bool
// (old "noarch: true" generic packages), track_features a list or a string.
type rawRecord struct {
	Record
	Noarch        any `json:"noarch"`
	TrackFeatures any `json:"track_features"`
}

// Records returns the records of one package name.
func (rd *Repodata) Records(name string) ([]Record, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if recs, ok := rd.decoded[name]; ok {
		return recs, nil
	}
	var recs []Record
	for _, e := range rd.raw[name] {
		var rr rawRecord
		if err := fastJSON.Unmarshal(e.msg, &rr); err != nil {
			return nil, fmt.Errorf("%s/%s: record %s: %w", rd.Channel.Name, rd.Subdir, e.fn, err)
		}
		r := rr.Record
		r.Noarch = noarchOf(rr.Noarch)
		r.TrackFeatures = featuresOf(rr.TrackFeatures)
		r.Channel, r.Filename = rd.Channel.URL, e.fn
		if r.Subdir == "" {
			r.Subdir = rd.Subdir
		}
		base := rd.Channel.URL + "/" + rd.Subdir
		if rd.baseURL != "" {
			base = rd.baseURL
		}
		r.URL = base + "/" + e.fn
		if r.Name != name {
			return nil, fmt.Errorf("%s/%s: record %s names package %q", rd.Channel.Name, rd.Subdir, e.fn, r.Name)
		}
		recs = append(recs, r)
	}
	rd.decoded[name] = recs
	return recs, nil
}

// Names lists the package names in the subdir, sorted.
func (rd *Repodata) Names() []string {
	out := make([]string, 0, len(rd.raw))
	for n := range rd.raw {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func noarchOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "generic"
		}
	case map[string]any: // {"type": "python"}, as some records write it
		if t, ok := x["type"].(string); ok {
			return t
		}
	}
	return ""
}

func featuresOf(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case []any:
		var s []string
		for _, f := range x {
			if fs, ok := f.(string); ok {
				s = append(s, fs)
			}
		}
		return strings.Join(s, " ")
	}
	return ""
}

// trackFeatureCount is how many track_features a record has: each one
// ranks it below records with fewer, as conda deprioritises them.
func trackFeatureCount(r *Record) int {
	return len(strings.FieldsFunc(r.TrackFeatures, func(c rune) bool { return c == ' ' || c == ',' }))
}
