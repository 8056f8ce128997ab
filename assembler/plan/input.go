package plan

import (
	"context"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Input is what the user asked for on the command line, for conventions to
// read. Each convention reads the fields that concern it.
type Input struct {
	// Builder builds intermediate images while planning (nil for `assemble plan`,
	// which must not build: a convention then leaves out what needs one).
	Builder Builder
	// Base overrides the conventions' default base.
	Base string
	// Registry replaces the registry and namespace part of image names ("ghcr.io/owner").
	Registry string
	// Version replaces the version in tags (Domino's --version-tag).
	Version string
	// SourceURL is the repository's URL for metadata (default: the git remote).
	SourceURL string
	// WriteMetadata writes generated metadata files into the repository too.
	WriteMetadata bool

	// Domino.
	MetadataPython string // a host interpreter for schema extraction
	NoSchemas      bool

	// Binder.
	UserName      string
	UserID        int
	TargetRepoDir string

	// Devfile registries.
	RegistryImage string
	CheckIcons    bool
	// WorkDir is a directory for files a convention generates during planning.
	WorkDir string
}

// Builder builds images while a convention plans (e.g. to extract metadata by
// running Python inside a group's image). The pipeline implements it.
type Builder interface {
	// Build builds im for one platform ("linux/amd64") without publishing it.
	Build(ctx context.Context, root string, im Image, platform string) (v1.Image, error)
	// Run runs cmd in the sandbox over img (no network) and returns its stdout.
	Run(ctx context.Context, img v1.Image, cmd, env []string, user, workdir string) ([]byte, error)
	// Snapshot returns img's files under paths (files, or directories read
	// whole) as a read-only file system, remembered by the image's layers so
	// that a rebuild does not read them again.
	Snapshot(ctx context.Context, img v1.Image, paths []string) (fs.FS, error)
}
