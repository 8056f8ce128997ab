package conda

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/pyjson"
)

// metaRecord is conda-meta/<name>-<version>-<build>.json: the repodata
// record with what linking added (files, paths_data, requested_spec, link),
// as conda and micromamba write it, so `conda list` sees the package.
// conda writes it with json.dumps(indent=2, sort_keys=True).
func metaRecord(r Record, files []installed, requested string) []byte {
	o := pyjson.Object()
	o.Set("name", pyjson.String(r.Name))
	o.Set("version", pyjson.String(r.Version))
	o.Set("build", pyjson.String(r.Build))
	o.Set("build_number", pyjson.Number(strconv.Itoa(r.BuildNumber)))
	o.Set("channel", pyjson.String(PublicURL(r.Channel)))
	o.Set("subdir", pyjson.String(r.Subdir))
	o.Set("fn", pyjson.String(r.Filename))
	o.Set("url", pyjson.String(PublicURL(r.URL)))
	o.Set("md5", pyjson.String(r.MD5))
	o.Set("sha256", pyjson.String(r.SHA256))
	o.Set("size", pyjson.Number(strconv.FormatInt(r.Size, 10)))
	o.Set("depends", pyjson.Strings(orEmpty(r.Depends)))
	o.Set("constrains", pyjson.Strings(orEmpty(r.Constrains)))
	o.Set("license", pyjson.String(r.License))
	o.Set("timestamp", pyjson.Number(strconv.FormatInt(r.Timestamp, 10)))
	o.Set("track_features", pyjson.String(r.TrackFeatures))
	if r.Noarch != "" {
		o.Set("noarch", pyjson.String(r.Noarch))
	}
	o.Set("requested_spec", pyjson.String(requested))
	// Nothing is linked from a package cache: every file was written into
	// the layer, which is conda's "copy" link type (3).
	link := pyjson.Object()
	link.Set("source", pyjson.String(""))
	link.Set("type", pyjson.Number("3"))
	o.Set("link", link)

	sorted := append([]installed(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].rel < sorted[j].rel })
	var names []string
	var paths []*pyjson.Value
	for _, f := range sorted {
		names = append(names, f.rel)
		paths = append(paths, pathDataJSON(f.pd))
	}
	o.Set("files", pyjson.Strings(orEmpty(names)))
	pd := pyjson.Object()
	pd.Set("paths", pyjson.Array(paths...))
	pd.Set("paths_version", pyjson.Number("1"))
	o.Set("paths_data", pd)
	return append(pyjson.Marshal(o, pyjson.Indent(2), pyjson.SortKeys()), '\n')
}

func pathDataJSON(p pathData) *pyjson.Value {
	o := pyjson.Object()
	o.Set("_path", pyjson.String(p.Path))
	o.Set("path_type", pyjson.String(p.PathType))
	if p.SHA256 != "" {
		o.Set("sha256", pyjson.String(p.SHA256))
	}
	if p.SHA256InPrefix != "" {
		o.Set("sha256_in_prefix", pyjson.String(p.SHA256InPrefix))
	}
	if p.Size != nil {
		// The size before placeholders were replaced, as conda records it.
		o.Set("size_in_bytes", pyjson.Number(strconv.FormatInt(*p.Size, 10)))
	}
	if p.Placeholder != "" {
		o.Set("file_mode", pyjson.String(p.FileMode))
		o.Set("prefix_placeholder", pyjson.String(p.Placeholder))
	}
	if p.NoLink {
		o.Set("no_link", pyjson.Bool(true))
	}
	return o
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// metaName is a record's conda-meta file name, without ".json".
func metaName(r Record) string { return r.Name + "-" + r.Version + "-" + r.Build }

// historyCondaVersion is the version the history claims. conda refuses to
// touch an environment whose history names a newer conda than itself, so
// this is the old version micromamba also writes.
const historyCondaVersion = "3.8.0"

// history is conda-meta/history: one block per solution (the layers below
// this one first), each listing the packages it added and the specs asked
// for, at the build's time (SOURCE_DATE_EPOCH).
func history(t time.Time, sols ...Solution) []byte {
	var b strings.Builder
	for _, s := range sols {
		fmt.Fprintf(&b, "==> %s <==\n", t.UTC().Format("2006-01-02 15:04:05"))
		b.WriteString("# cmd: assemble\n")
		b.WriteString("# conda version: " + historyCondaVersion + "\n")
		for _, r := range s.Records {
			fmt.Fprintf(&b, "+%s/%s::%s\n", strings.TrimSuffix(PublicURL(r.Channel), "/"), r.Subdir, metaName(r))
		}
		specs := make([]string, len(s.Requested))
		for i, q := range s.Requested {
			specs[i] = strconv.Quote(q)
		}
		b.WriteString("# update specs: [" + strings.Join(specs, ", ") + "]\n")
	}
	return []byte(b.String())
}

// requestedSpecs maps a package name to the spec that asked for it
// ("numpy >=1.26" asks for numpy, "conda-forge::python=3.11" for python).
func requestedSpecs(specs []string) map[string]string {
	out := map[string]string{}
	for _, s := range specs {
		n := strings.TrimSpace(s)
		if i := strings.LastIndex(n, "::"); i >= 0 {
			n = n[i+2:]
		}
		if i := strings.IndexAny(n, " =<>!~[@"); i >= 0 {
			n = n[:i]
		}
		if n = strings.ToLower(n); n != "" {
			if _, dup := out[n]; !dup {
				out[n] = s
			}
		}
	}
	return out
}
