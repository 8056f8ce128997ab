// Package plan holds the Plan: plain data that a convention makes from a
// repository and the pipeline builds. It does no I/O, so every convention and
// the pipeline can share it without import cycles.
package plan

// Plan is what a convention found in a repository: the images to build, the
// artifacts to push and the files to generate.
type Plan struct {
	// Convention is the name of the convention that matched ("assemble.toml").
	Convention string `json:"convention"`
	// Reason says why it matched, for `assemble plan`.
	Reason string `json:"reason"`
	// Root is the repository's absolute path.
	Root   string  `json:"root"`
	Images []Image `json:"images"`
	// Files are generated files (metadata JSON), written into outputs.
	Files []File `json:"files,omitempty"`
	// Debian, when set, is the package archive Debian layers and deb: bases read.
	Debian *Debian `json:"debian,omitempty"`
}

// Image is one image to build, possibly for several platforms.
type Image struct {
	// Name is the image's reference without a tag: "hello" or "registry.example/ns/hello".
	Name string `json:"name"`
	// Tags are the tags it is written under (at least one).
	Tags []string `json:"tags"`
	// Platforms are "os/arch[/variant]" values; empty means the host's.
	Platforms []string `json:"platforms,omitempty"`
	// Base is a base reference ("scratch", "oci:DIR:TAG", "docker://REF", "deb:bookworm", ...).
	Base string `json:"base"`
	// Layers are stacked on the base in order.
	Layers []Layer `json:"layers"`
	Config Config  `json:"config"`
	// Annotations are added to the manifest.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Source is where the image was declared ("assemble.toml:3").
	Source string `json:"source,omitempty"`
}

// Layer kinds.
const (
	KindFiles  = "files"
	KindDeb    = "deb"
	KindPython = "python"
)

// Layer is one declarative layer spec. Exactly the field named by Kind is set.
type Layer struct {
	Kind string `json:"kind"`
	// Source is where the layer was declared ("assemble.toml:12").
	Source string       `json:"source,omitempty"`
	Files  *FilesLayer  `json:"files,omitempty"`
	Deb    *DebLayer    `json:"deb,omitempty"`
	Python *PythonLayer `json:"python,omitempty"`
	// Comment is a short note kept in the image history.
	Comment string `json:"comment,omitempty"`
}

// FilesLayer copies a directory of the repository into the image.
type FilesLayer struct {
	// Dir is relative to the repository root.
	Dir string `json:"dir"`
	// Dest is the image directory the files land in.
	Dest    string   `json:"dest"`
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	UID     int      `json:"uid"`
	GID     int      `json:"gid"`
	// NoIgnoreFile turns off .dockerignore/.containerignore for this layer.
	NoIgnoreFile bool `json:"noIgnoreFile,omitempty"`
}

// DebLayer installs Debian packages.
type DebLayer struct {
	Packages []Package `json:"packages"`
}

// Package is a requested Debian package and where it was asked for.
type Package struct {
	Name  string `json:"name"`
	Where string `json:"where,omitempty"`
}

// PythonLayer installs Python requirements.
type PythonLayer struct {
	Requirements []string `json:"requirements"`
	IndexURL     string   `json:"indexURL,omitempty"`
	ExtraIndex   []string `json:"extraIndexURLs,omitempty"`
	FindLinks    []string `json:"findLinks,omitempty"`
	NoIndex      bool     `json:"noIndex,omitempty"`
	Interpreter  string   `json:"interpreter,omitempty"`
}

// Debian is the package archive used for Debian layers and deb: bases.
type Debian struct {
	Mirror     string   `json:"mirror,omitempty"`
	Suite      string   `json:"suite,omitempty"`
	Components []string `json:"components,omitempty"`
	Keyring    string   `json:"keyring,omitempty"`
	LocalDir   string   `json:"localDir,omitempty"`
}

// Config is the part of the image configuration a plan sets; unset fields
// keep the base's values.
type Config struct {
	// Env entries are "KEY=VALUE"; they replace the base's value for KEY.
	Env        []string          `json:"env,omitempty"`
	User       string            `json:"user,omitempty"`
	WorkingDir string            `json:"workdir,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// ExposedPorts are "8080/tcp" style values.
	ExposedPorts []string `json:"ports,omitempty"`
	Volumes      []string `json:"volumes,omitempty"`
	StopSignal   string   `json:"stopSignal,omitempty"`
}

// File is a generated file.
type File struct {
	// Path is relative to the repository root (".domino/compiled_metadata.json").
	Path    string `json:"path"`
	Content []byte `json:"-"`
}
