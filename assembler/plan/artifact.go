package plan

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
