// Package plan holds the Plan: plain data that a convention makes from a
// repository and the pipeline builds, and the Convention interface that makes
// it. It does no I/O of its own (Artifact.Spec reads through the file system
// it is given), so every convention and the pipeline share it without import
// cycles.
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
	// Artifacts are OCI artifacts (devfile stacks) pushed beside the images.
	Artifacts []Artifact `json:"artifacts,omitempty"`
	// Files are generated files (metadata JSON), written into outputs.
	Files []File `json:"files,omitempty"`
	// Debian, when set, is the package archive Debian layers and deb: bases read.
	Debian *Debian `json:"debian,omitempty"`
	// Version is the repository's own version (Domino's VERSION), for {version}.
	Version string `json:"version,omitempty"`
	// Summary lines are what `assemble plan` prints about the convention's
	// findings (groups, buildpacks, files read).
	Summary []string `json:"summary,omitempty"`
	// Outputs are named documents for the CLI to write where asked
	// ("pieces-images-map").
	Outputs map[string][]byte `json:"-"`
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
	// Group names the dependency group the image is for ("group0"), for {group}
	// in tag templates.
	Group string `json:"group,omitempty"`
	// Dockerfile, when set, builds the image from a Dockerfile; Base is then
	// ignored and Layers (if any) are stacked on the Dockerfile's result.
	Dockerfile *Dockerfile `json:"dockerfile,omitempty"`
}

// Dockerfile is an image built by the Dockerfile frontend.
type Dockerfile struct {
	// Path is the Dockerfile, relative to the repository root.
	Path string `json:"path"`
	// Context is the build context directory, relative to the repository root.
	Context   string            `json:"context"`
	Target    string            `json:"target,omitempty"`
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
	// BuildContexts map a FROM or COPY --from name to another source, as
	// BuildKit's --build-context does ("ghcr.io/x/base:latest" -> "oci:dir:tag").
	BuildContexts map[string]string `json:"buildContexts,omitempty"`
}

// Layer kinds.
const (
	KindFiles     = "files"
	KindDeb       = "deb"
	KindPython    = "python"
	KindRun       = "run"
	KindGenerated = "generated"
	KindConda     = "conda"
)

// Layer is one declarative layer spec. Exactly the field named by Kind is set.
type Layer struct {
	Kind string `json:"kind"`
	// Source is where the layer was declared ("assemble.toml:12").
	Source    string          `json:"source,omitempty"`
	Files     *FilesLayer     `json:"files,omitempty"`
	Deb       *DebLayer       `json:"deb,omitempty"`
	Python    *PythonLayer    `json:"python,omitempty"`
	Run       *RunLayer       `json:"run,omitempty"`
	Generated *GeneratedLayer `json:"generated,omitempty"`
	Conda     *CondaLayer     `json:"conda,omitempty"`
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
	// Requirements are requirements files, relative to the repository root.
	Requirements []string `json:"requirements,omitempty"`
	// Packages are requirement lines given inline ("requests>=2", "numpy==1.26.4").
	Packages []string `json:"packages,omitempty"`
	// PackageLines, when set, gives the line of Source each of Packages
	// comes from (0: none), so the resolver's messages point into that file
	// (a Pipfile.lock entry) rather than at the inline list.
	PackageLines []int    `json:"packageLines,omitempty"`
	IndexURL     string   `json:"indexURL,omitempty"`
	ExtraIndex   []string `json:"extraIndexURLs,omitempty"`
	FindLinks    []string `json:"findLinks,omitempty"`
	NoIndex      bool     `json:"noIndex,omitempty"`
	Interpreter  string   `json:"interpreter,omitempty"`
}

// CondaLayer installs a conda environment (or adds to one a layer below
// made) at Prefix: MatchSpecs resolved against Channels, or an explicit
// lock installed as it is.
type CondaLayer struct {
	// Prefix is the environment's directory in the image ("/srv/conda/envs/notebook").
	Prefix string `json:"prefix"`
	// Channels are names (through the channel alias) or URLs, highest
	// priority first.
	Channels []string `json:"channels,omitempty"`
	// Specs are the MatchSpecs asked for, each with where it was asked.
	Specs []CondaSpec `json:"specs,omitempty"`
	// Locks are explicit lock files (repository-relative) by conda subdir
	// ("linux-64"): a platform with one installs it as it is, unsolved.
	Locks map[string]string `json:"locks,omitempty"`
	// UID and GID own the environment (repo2docker's NB_USER owns it).
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// CondaSpec is one MatchSpec and where it was written ("environment.yml:5").
type CondaSpec struct {
	Spec  string `json:"spec"`
	Where string `json:"where,omitempty"`
}

// RunLayer runs a command in the sandbox over the layers below it; what the
// command changes becomes the layer.
type RunLayer struct {
	// Command is the argv; a shell form is ["/bin/sh", "-c", "..."].
	Command []string `json:"command"`
	Env     []string `json:"env,omitempty"`
	User    string   `json:"user,omitempty"`
	WorkDir string   `json:"workdir,omitempty"`
	Network bool     `json:"network,omitempty"`
}

// GeneratedLayer holds files the plan makes (an entrypoint script, metadata).
type GeneratedLayer struct {
	Files []GeneratedFile `json:"files"`
}

// GeneratedFile is one file of a generated layer.
type GeneratedFile struct {
	// Path is the image path ("/usr/local/bin/entrypoint").
	Path    string `json:"path"`
	Content []byte `json:"-"`
	Mode    uint32 `json:"mode"`
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
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
