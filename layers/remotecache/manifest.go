package remotecache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/layers"
)

// The format of a cache ref: one OCI image manifest used as an artifact,
// whose layers are the cached layer blobs themselves, each annotated with
// the key it was built for. Any registry that stores images stores it, and
// skopeo, oras and crane list and copy it like any artifact.
const (
	// ArtifactType is the manifest's artifactType (OCI 1.1), or its config's
	// media type in the fallback for registries that refuse artifactType.
	ArtifactType = "application/vnd.assemble.layer-cache.v1"
	// DefaultTag is the tag of a cache ref given without one.
	DefaultTag = "assemble-cache"

	AnnotationKey         = "dev.assemble.cache.key"     // the full layer key (hex)
	AnnotationDiffID      = "dev.assemble.cache.diffid"  // the layer's uncompressed digest
	AnnotationCreated     = "dev.assemble.cache.created" // RFC 3339, when the entry was first written
	AnnotationDescription = "dev.assemble.cache.layer"   // what the layer is, for people

	emptyMediaType = "application/vnd.oci.empty.v1+json"
)

// emptyConfig is OCI 1.1's empty descriptor, the config of an artifact.
var emptyConfig = []byte("{}")

// Entry is one cached layer: its key, its blob and when it was first stored.
type Entry struct {
	Key string
	layers.Descriptor
	Created time.Time
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// encode writes entries (sorted by key) as the cache manifest. fallback
// puts the artifact type in the config's media type instead of
// artifactType, as oras does for registries without OCI 1.1 support.
func encode(entries map[string]Entry, fallback bool) ([]byte, error) {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        configDescriptor(fallback),
		Layers:        []v1.Descriptor{},
	}
	if fallback {
		m.ArtifactType = ""
	}
	for _, k := range keys {
		e := entries[k]
		m.Layers = append(m.Layers, v1.Descriptor{
			MediaType: e.MediaType, Digest: e.Digest, Size: e.Size,
			Annotations: map[string]string{
				AnnotationKey:         k,
				AnnotationDiffID:      e.DiffID.String(),
				AnnotationCreated:     e.Created.UTC().Format(time.RFC3339),
				AnnotationDescription: e.Description,
			},
		})
	}
	return json.Marshal(m)
}

func configDescriptor(fallback bool) v1.Descriptor {
	mt := types.MediaType(emptyMediaType)
	if fallback {
		mt = ArtifactType
	}
	return v1.Descriptor{MediaType: mt, Digest: emptyDigest(), Size: int64(len(emptyConfig))}
}

func emptyDigest() v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(emptyConfig))
	return h
}

// decode reads a cache manifest. Layers without a well-formed entry (added
// by hand, say) are skipped; a manifest of another type is an error.
func decode(raw []byte, where string) (map[string]Entry, error) {
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: reading the cache manifest: %w", where, err)
	}
	if t := artifactType(m); t != ArtifactType {
		return nil, fmt.Errorf("%s is not an assemble layer cache (artifact type %q, want %q): name a repository or tag of its own for the cache", where, t, ArtifactType)
	}
	out := make(map[string]Entry, len(m.Layers))
	for _, l := range m.Layers {
		e, ok := entryOf(l)
		if ok {
			out[e.Key] = e
		}
	}
	return out, nil
}

func artifactType(m manifest) string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	return string(m.Config.MediaType)
}

func entryOf(l v1.Descriptor) (Entry, bool) {
	key := l.Annotations[AnnotationKey]
	diffID, err := v1.NewHash(l.Annotations[AnnotationDiffID])
	if key == "" || err != nil || l.Digest.Hex == "" {
		return Entry{}, false
	}
	created, err := time.Parse(time.RFC3339, l.Annotations[AnnotationCreated])
	if err != nil {
		created = time.Time{} // unknown: the first to go when pruning
	}
	return Entry{
		Key:        key,
		Descriptor: layers.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, DiffID: diffID, Description: l.Annotations[AnnotationDescription]},
		Created:    created,
	}, true
}

// merge adds ours to base. An entry base already has for a key keeps its
// creation time; ours wins on the blob, since this writer just built or
// verified it.
func merge(base, ours map[string]Entry) map[string]Entry {
	out := make(map[string]Entry, len(base)+len(ours))
	for k, e := range base {
		out[k] = e
	}
	for k, e := range ours {
		if old, ok := out[k]; ok && !old.Created.IsZero() && old.Created.Before(e.Created) {
			e.Created = old.Created
		}
		out[k] = e
	}
	return out
}

// missing lists the keys of ours that got lacks.
func missing(got, ours map[string]Entry) []string {
	var out []string
	for k := range ours {
		if _, ok := got[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
