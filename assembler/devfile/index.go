package devfile

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// entry is one element of index.json: registry-support's schema.Schema.
// Field order is the output's key order; every field is omitted when empty
// except lastModified, a time.Time, which the generator always writes
// (0001-01-01T00:00:00Z when last_modified.json has no date for it).
type entry struct {
	Name              string            `json:"name,omitempty" yaml:"name"`
	Version           string            `json:"version,omitempty" yaml:"version"`
	Attributes        map[string]any    `json:"attributes,omitempty" yaml:"attributes"`
	DisplayName       string            `json:"displayName,omitempty" yaml:"displayName"`
	Description       string            `json:"description,omitempty" yaml:"description"`
	Type              string            `json:"type,omitempty" yaml:"type"`
	Tags              []string          `json:"tags,omitempty" yaml:"tags"`
	Architectures     []string          `json:"architectures,omitempty" yaml:"architectures"`
	Icon              string            `json:"icon,omitempty" yaml:"icon"`
	GlobalMemoryLimit string            `json:"globalMemoryLimit,omitempty" yaml:"globalMemoryLimit"`
	ProjectType       string            `json:"projectType,omitempty" yaml:"projectType"`
	Language          string            `json:"language,omitempty" yaml:"language"`
	Links             map[string]string `json:"links,omitempty" yaml:"links"`
	CommandGroups     map[string]bool   `json:"commandGroups,omitempty" yaml:"commandGroups"`
	DeploymentScopes  map[string]bool   `json:"deploymentScopes,omitempty" yaml:"deploymentScopes"`
	Resources         []string          `json:"resources,omitempty" yaml:"resources"`
	StarterProjects   []string          `json:"starterProjects,omitempty" yaml:"starterProjects"`
	Git               *gitSource        `json:"git,omitempty" yaml:"git"`
	Provider          string            `json:"provider,omitempty" yaml:"provider"`
	SupportURL        string            `json:"supportUrl,omitempty" yaml:"supportUrl"`
	Versions          []version         `json:"versions,omitempty" yaml:"versions"`
	LastModified      time.Time         `json:"lastModified" yaml:"-"`
}

// version is registry-support's schema.Version.
type version struct {
	Version          string            `json:"version,omitempty" yaml:"version"`
	SchemaVersion    string            `json:"schemaVersion,omitempty" yaml:"schemaVersion"`
	Default          bool              `json:"default,omitempty" yaml:"default"`
	Git              *gitSource        `json:"git,omitempty" yaml:"git"`
	Description      string            `json:"description,omitempty" yaml:"description"`
	Tags             []string          `json:"tags,omitempty" yaml:"tags"`
	Architectures    []string          `json:"architectures,omitempty" yaml:"architectures"`
	Icon             string            `json:"icon,omitempty" yaml:"icon"`
	Links            map[string]string `json:"links,omitempty" yaml:"links"`
	CommandGroups    map[string]bool   `json:"commandGroups,omitempty" yaml:"commandGroups"`
	DeploymentScopes map[string]bool   `json:"deploymentScopes,omitempty" yaml:"deploymentScopes"`
	Resources        []string          `json:"resources,omitempty" yaml:"resources"`
	StarterProjects  []string          `json:"starterProjects,omitempty" yaml:"starterProjects"`
	LastModified     time.Time         `json:"lastModified" yaml:"-"`
}

type gitSource struct {
	Remotes    map[string]string `json:"remotes,omitempty" yaml:"remotes"`
	URL        string            `json:"url,omitempty" yaml:"url"`
	RemoteName string            `json:"remoteName,omitempty" yaml:"remoteName"`
	SubDir     string            `json:"subDir,omitempty" yaml:"subDir"`
	Revision   string            `json:"revision,omitempty" yaml:"revision"`
}

// extraEntries is extraDevfileEntries.yaml.
type extraEntries struct {
	SchemaVersion string  `yaml:"schemaVersion"`
	Samples       []entry `yaml:"samples"`
	Stacks        []entry `yaml:"stacks"`
}

// lastModified is last_modified.json, written by devfile/registry's
// .ci/generate_last_mod_file.sh from `git log -1 --format=%aI`.
type lastModified struct {
	Stacks  []lastModEntry `json:"stacks"`
	Samples []lastModEntry `json:"samples"`
}

type lastModEntry struct {
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	LastModified time.Time `json:"lastModified"`
}

// unversioned is the version last_modified.json gives items without one.
const unversioned = "undefined"

func lookupLastMod(list []lastModEntry, name, ver string) time.Time {
	for _, e := range list {
		if e.Name == name && e.Version == ver {
			return e.LastModified
		}
	}
	return time.Time{}
}

// setLastModified fills the dates of an item and its versions; the item's
// is its newest version's.
func setLastModified(e *entry, list []lastModEntry) {
	if len(e.Versions) == 0 {
		e.LastModified = lookupLastMod(list, e.Name, unversioned)
		return
	}
	for i := range e.Versions {
		v := &e.Versions[i]
		v.LastModified = lookupLastMod(list, e.Name, v.Version)
		if v.LastModified.After(e.LastModified) {
			e.LastModified = v.LastModified
		}
	}
}

// marshalIndex writes index.json as the generator's CreateIndexFile does:
// json.MarshalIndent with two spaces, no trailing newline.
func marshalIndex(index []entry) ([]byte, error) {
	b, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding index.json: %w", err)
	}
	return b, nil
}

var semverRe = lazyregexp.New(`^(\d+)\.(\d+)\.(\d+)$`)

// sortVersionsDescending orders versions newest first by major, minor,
// patch, keeping the order of equal ones (SortVersionByDescendingOrder).
// Versions must have been checked against semverRe.
func sortVersionsDescending(vs []version) {
	key := func(s string) [3]int {
		var k [3]int
		m := semverRe.FindStringSubmatch(s)
		if m == nil {
			return k
		}
		for i := range k {
			k[i], _ = strconv.Atoi(m[i+1])
		}
		return k
	}
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := key(vs[i].Version), key(vs[j].Version)
		for n := range a {
			if a[n] != b[n] {
				return a[n] > b[n]
			}
		}
		return false
	})
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
