package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AnnotationTitle names the file a layer is written to by artifact clients
// (oras pull, the devfile registry library).
const AnnotationTitle = "org.opencontainers.image.title"

// Packing is how an artifact's manifest is written.
type Packing int

const (
	// PackOCI writes the image-spec 1.1 form: a mediaType field, the
	// artifactType when set, and the layers in the order given.
	PackOCI Packing = iota
	// PackORASv1 writes what oras-go v1 writes: no mediaType field in the
	// body and the layers sorted by digest. Devfile registries push their
	// stacks this way, so the same files give the same manifest digest.
	PackORASv1
)

// Blob is one layer of an artifact: a file, held in memory.
type Blob struct {
	MediaType string
	Content   []byte
	// Title is the AnnotationTitle value; "" leaves it out.
	Title string
	// Annotations are extra layer annotations.
	Annotations map[string]string
}

// Spec describes an artifact: an OCI image manifest whose config is a
// small typed blob and whose layers are files, not filesystem changesets.
type Spec struct {
	// ConfigMediaType is required.
	ConfigMediaType string
	// Config is the config blob; nil means "{}".
	Config []byte
	// ArtifactType is the manifest's artifactType (PackOCI only); "" leaves it out.
	ArtifactType string
	Layers       []Blob
	// Annotations are manifest annotations.
	Annotations map[string]string
	// Subject, when set, is the manifest this artifact refers to (an OCI
	// 1.1 referrer: an SBOM or a signature of an image). PackOCI only.
	Subject *v1.Descriptor
	Packing Packing
}

// Artifact builds the manifest of s as a v1.Image that every sink can
// write. Nothing in it depends on time or host: the same Spec gives the
// same digest.
func Artifact(s Spec) (v1.Image, error) {
	if s.ConfigMediaType == "" {
		return nil, errors.New("artifact: config media type is empty")
	}
	if s.Packing != PackOCI && s.Packing != PackORASv1 {
		return nil, fmt.Errorf("artifact: unknown packing %d", s.Packing)
	}
	if s.Packing == PackORASv1 && (s.ArtifactType != "" || s.Subject != nil) {
		return nil, errors.New("artifact: oras-go v1 manifests have no artifactType or subject: use PackOCI")
	}
	cfg := s.Config
	if cfg == nil {
		cfg = []byte("{}")
	}
	a := &artifact{
		config:  cfg,
		cfgMT:   types.MediaType(s.ConfigMediaType),
		byHash:  map[v1.Hash]v1.Layer{},
		cfgDesc: descriptor{MediaType: s.ConfigMediaType, Digest: sha256Of(cfg), Size: int64(len(cfg))},
	}
	titles := map[string]bool{}
	var layers []descriptor
	for i, b := range s.Layers {
		if b.MediaType == "" {
			return nil, fmt.Errorf("artifact: layer %d (%q) has no media type", i, b.Title)
		}
		if b.Title != "" {
			if err := checkTitle(b.Title); err != nil {
				return nil, fmt.Errorf("artifact: layer %d: %w", i, err)
			}
			if titles[b.Title] {
				return nil, fmt.Errorf("artifact: two layers are titled %q: clients would write both to one file", b.Title)
			}
			titles[b.Title] = true
		}
		var ann map[string]string
		if len(b.Annotations) > 0 || b.Title != "" {
			ann = map[string]string{}
			for k, v := range b.Annotations {
				ann[k] = v
			}
			if b.Title != "" {
				ann[AnnotationTitle] = b.Title
			}
		}
		d := descriptor{MediaType: b.MediaType, Digest: sha256Of(b.Content), Size: int64(len(b.Content)), Annotations: ann}
		layers = append(layers, d)
		h, err := v1.NewHash(d.Digest)
		if err != nil {
			return nil, err
		}
		if _, ok := a.byHash[h]; !ok {
			a.byHash[h] = static.NewLayer(b.Content, types.MediaType(b.MediaType))
		}
	}
	if layers == nil {
		layers = []descriptor{} // "layers": [] rather than null, as oras writes it
	}
	m := manifest{SchemaVersion: 2, Config: a.cfgDesc, Layers: layers}
	if len(s.Annotations) > 0 {
		m.Annotations = s.Annotations
	}
	switch s.Packing {
	case PackOCI:
		m.MediaType = string(types.OCIManifestSchema1)
		m.ArtifactType = s.ArtifactType
		if d := s.Subject; d != nil {
			m.Subject = &descriptor{MediaType: string(d.MediaType), Digest: d.Digest.String(), Size: d.Size}
		}
	case PackORASv1:
		sort.SliceStable(m.Layers, func(i, j int) bool { return m.Layers[i].Digest < m.Layers[j].Digest })
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("artifact: encoding manifest: %w", err)
	}
	a.manifest = raw
	return partial.CompressedToImage(a)
}

// checkTitle keeps titles to plain relative paths: clients write files by
// them, and a title like "../x" would be refused (or worse) on pull.
func checkTitle(t string) error {
	if strings.HasPrefix(t, "/") || strings.Contains(t, "\\") {
		return fmt.Errorf("title %q must be a relative path", t)
	}
	if c := path.Clean(t); c != t || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("title %q must be a clean relative path with no .. in it", t)
	}
	return nil
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// manifest and descriptor follow the field order of the image-spec's Go
// types, so the bytes match what oras and other Go clients write.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// artifact is a partial.CompressedImageCore over in-memory blobs.
type artifact struct {
	config   []byte
	cfgMT    types.MediaType
	cfgDesc  descriptor
	manifest []byte
	byHash   map[v1.Hash]v1.Layer
}

func (a *artifact) RawConfigFile() ([]byte, error) { return a.config, nil }

func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (a *artifact) RawManifest() ([]byte, error) { return a.manifest, nil }

// ConfigLayer gives the config blob its own media type (ggcr's default
// would call it an image config).
func (a *artifact) ConfigLayer() (v1.Layer, error) {
	return static.NewLayer(a.config, a.cfgMT), nil
}

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.byHash[h]; ok {
		return l, nil
	}
	if h.String() == a.cfgDesc.Digest {
		return static.NewLayer(a.config, a.cfgMT), nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// ArtifactFiles returns the files of an artifact image by title, for tests
// and for checking what a pull would write.
func ArtifactFiles(img v1.Image) (map[string][]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, d := range m.Layers {
		t := d.Annotations[AnnotationTitle]
		if t == "" {
			continue
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", t, err)
		}
		out[t] = buf.Bytes()
	}
	return out, nil
}
