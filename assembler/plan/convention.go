package plan

import (
	"context"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Convention is one way a repository says what to build (a Domino pieces
// repository, a devfile registry, a Binder repository, a Dockerfile). Each
// convention package implements it; the pipeline holds them in one ordered
// list, most specific first, and loads the first that detects a repository.
// A convention's own settings (Binder's notebook user, say) are fields of its
// value, set when the pipeline makes the list.
type Convention interface {
	// Name names the convention in plans and messages ("binder").
	Name() string
	// Detect reports whether dir follows the convention, and why.
	Detect(dir string) (ok bool, reason string)
	// Load plans dir's images, honouring what req asks where it applies.
	Load(ctx context.Context, dir string, req Request) (*Plan, error)
}

// Request is what the user asked of every convention on the command line,
// and the pipeline's builder. Each convention reads the fields that concern it.
type Request struct {
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
	// WriteMetadata means the pipeline will write the plan's Files into the
	// repository once it is planned. Conventions never write them; one may
	// refuse a plan whose files would be incomplete (Domino's null schemas).
	WriteMetadata bool
}

// RunRefusedError is a Builder's refusal to run a command because running
// is turned off (--no-run). Conventions recognise it to say what to do
// instead, rather than quoting the command.
type RunRefusedError struct {
	// Command is the refused command, quoted for a message.
	Command string
}

func (e *RunRefusedError) Error() string { return "refusing to run " + e.Command + " (--no-run)" }

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
