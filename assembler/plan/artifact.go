package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"

	"github.com/assemble-build/assemble/oci"
)

// Artifact is an OCI artifact to push: a config blob and files as layers,
// with no root filesystem (a devfile stack version, say).
type Artifact struct {
	// Name is the reference without a tag: "devfile-catalog/go" or
	// "registry.example/devfile-catalog/go".
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	// ConfigMediaType is the config descriptor's media type
	// ("application/vnd.devfileio.devfile.config.v2+json").
	ConfigMediaType string `json:"configMediaType"`
	// Config is the config blob ("{}").
	Config []byte `json:"config,omitempty"`
	// ArtifactType is the manifest's image-spec 1.1 artifactType; "" leaves it out.
	ArtifactType string `json:"artifactType,omitempty"`
	// Packing says how the manifest is written: "" is the image-spec form
	// (mediaType field, layers in order); PackingORASv1 is what oras-go v1
	// writes (no mediaType field, layers sorted by digest), which is what a
	// devfile registry's own index server pushes, so the digests agree.
	Packing     string            `json:"packing,omitempty"`
	Layers      []ArtifactLayer   `json:"layers"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Source is where the artifact was declared ("stacks/go/2.0.0/devfile.yaml").
	Source string `json:"source,omitempty"`
}

// PackingORASv1 is Artifact.Packing for oras-go v1 compatible manifests.
const PackingORASv1 = "oras-v1"

// ArtifactLayer is one file of an artifact. Exactly one of Path and
// Content is set.
type ArtifactLayer struct {
	// Path is a repository-relative file.
	Path string `json:"path,omitempty"`
	// Content is generated content (a packed archive.tar, say).
	Content   []byte `json:"-"`
	MediaType string `json:"mediaType"`
	// Title is the org.opencontainers.image.title annotation: the file name
	// clients such as oras write the layer to.
	Title string `json:"title"`
}

// Spec turns the artifact into an oci.Spec, reading its Path layers from
// repo (the repository; an os.Root's FS keeps links from leading outside it).
func (a Artifact) Spec(repo fs.FS) (oci.Spec, error) {
	s := oci.Spec{
		ConfigMediaType: a.ConfigMediaType,
		Config:          a.Config,
		ArtifactType:    a.ArtifactType,
		Annotations:     a.Annotations,
	}
	switch a.Packing {
	case "":
		s.Packing = oci.PackOCI
	case PackingORASv1:
		s.Packing = oci.PackORASv1
	default:
		return oci.Spec{}, fmt.Errorf("artifact %s: unknown packing %q", a.Name, a.Packing)
	}
	for _, l := range a.Layers {
		b := oci.Blob{MediaType: l.MediaType, Title: l.Title, Content: l.Content}
		if l.Path != "" {
			if l.Content != nil {
				return oci.Spec{}, fmt.Errorf("artifact %s: layer %s has both a path and content", a.Name, l.Title)
			}
			data, err := readRepoFile(repo, l.Path)
			if err != nil {
				return oci.Spec{}, fmt.Errorf("artifact %s: %w", a.Name, err)
			}
			b.Content = data
		}
		s.Layers = append(s.Layers, b)
	}
	return s, nil
}

// readRepoFile reads a repository-relative file, naming a path or a link
// that leads outside the repository as such.
func readRepoFile(repo fs.FS, rel string) ([]byte, error) {
	name := path.Clean(filepath.ToSlash(rel))
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("%s: the path is outside the repository", rel)
	}
	data, err := fs.ReadFile(repo, name)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	if fi, lerr := fs.Lstat(repo, name); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: leads outside the repository: copy the file in instead of linking it (%w)", rel, err)
	}
	return nil, fmt.Errorf("reading %s: %w", rel, err)
}
