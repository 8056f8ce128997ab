package assembler

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/assemble-build/assemble/assembler/binder"
	"github.com/assemble-build/assemble/assembler/devfile"
	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/explicit"
	"github.com/assemble-build/assemble/assembler/pieces"
	"github.com/assemble-build/assemble/assembler/plan"
)

// conventionList is every convention the pipeline knows, in the order they
// are tried: most specific first, an explicit assemble.toml before the
// repository conventions as DESIGN.md orders them. Binder comes before the
// Dockerfile convention because a binder/ directory beside a root Dockerfile
// makes a Binder repository; binder.Convention leaves a root Dockerfile
// without one to the Dockerfile convention.
func (o *options) conventionList() []plan.Convention {
	return []plan.Convention{
		explicit.Convention{},
		pieces.Convention{Settings: o.pieces, Cache: o.cache.Namespace(pieces.CacheNamespace)},
		devfile.Convention{Settings: o.devfile},
		binder.Convention{Settings: o.binder},
		dockerfile.Convention{},
	}
}

// Settings of one convention, as the conventions define them: the CLI fills
// them from its flags without importing a convention.
type (
	// PiecesSettings are Domino's (--metadata-python, --no-schemas).
	PiecesSettings = pieces.Settings
	// BinderSettings are Binder's (--user-name, --user-id, --target-repo-dir).
	BinderSettings = binder.Settings
	// DevfileSettings are a devfile registry's (--registry-image, --check-icons).
	DevfileSettings = devfile.Settings
)

// conventionSettings are the conventions' own settings in options.
type conventionSettings struct {
	pieces  PiecesSettings
	binder  BinderSettings
	devfile DevfileSettings
}

// DefaultBinderSettings are repo2docker's notebook user and repository place.
func DefaultBinderSettings() BinderSettings { return binder.DefaultSettings() }

// WithPieces sets the Domino convention's settings.
func WithPieces(s PiecesSettings) Option { return set(func(o *options) { o.pieces = s }) }

// WithBinder sets the Binder convention's settings; a notebook user
// repo2docker would refuse (root, a bad name) is an error.
func WithBinder(s BinderSettings) Option {
	return func(o *options) error {
		if err := s.Validate(); err != nil {
			return err
		}
		o.binder = s
		return nil
	}
}

// WithDevfile sets the devfile convention's settings.
func WithDevfile(s DevfileSettings) Option { return set(func(o *options) { o.devfile = s }) }

// WithRegistry replaces the registry and namespace part of planned image
// names ("ghcr.io/owner"; devfile: the registry prefix).
func WithRegistry(prefix string) Option {
	return set(func(o *options) { o.request.Registry = prefix })
}

// WithVersion replaces the version in tags (Domino's --version-tag, {version}).
func WithVersion(v string) Option { return set(func(o *options) { o.request.Version = v }) }

// WithSourceURL sets the repository's URL for generated metadata (default: the git remote).
func WithSourceURL(u string) Option { return set(func(o *options) { o.request.SourceURL = u }) }

// WithWriteMetadata makes Plan write the plan's generated metadata files
// (.domino/*.json, index.json) into the repository once it is planned.
func WithWriteMetadata(on bool) Option {
	return set(func(o *options) { o.request.WriteMetadata = on })
}

// OutputPiecesImagesMap names Domino's PIECES_IMAGES_MAP in Plan.Outputs.
const OutputPiecesImagesMap = pieces.OutputImagesMap

// ErrNoConvention means nothing in the directory says what to build.
var ErrNoConvention = errors.New("no convention matched")

// Detect names the convention that matches dir and why.
func (a *Assembler) Detect(dir string) (name, reason string, err error) {
	c, why, err := a.detect(dir)
	if err != nil {
		return "", "", err
	}
	return c.Name(), why, nil
}

func (a *Assembler) detect(dir string) (plan.Convention, string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, "", fmt.Errorf("repository %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("repository %s is not a directory", dir)
	}
	if a.o.dockerfile != "" {
		// -f names the Dockerfile to build, as docker build -f does,
		// whatever else the repository holds.
		c := dockerfile.Convention{File: a.o.dockerfile}
		if _, err := c.Path(dir); err != nil {
			return nil, "", err
		}
		_, why := c.Detect(dir)
		return c, why, nil
	}
	var names []string
	for _, c := range a.conventions {
		if ok, why := c.Detect(dir); ok {
			return c, why, nil
		}
		names = append(names, c.Name())
	}
	// Nothing more specific matched: a convention with a default for any
	// directory (repo2docker's default buildpack) takes it.
	for _, c := range a.conventions {
		if f, ok := c.(fallback); ok {
			if ok, why := f.Fallback(dir); ok {
				return c, why, nil
			}
		}
	}
	return nil, "", fmt.Errorf("%s: %w (looked for: %s): add an %s that lists the images to build", dir, ErrNoConvention, strings.Join(names, ", "), explicit.FileName)
}

// fallback is a convention that builds a directory no convention matched.
type fallback interface {
	Fallback(dir string) (ok bool, reason string)
}

// releaser is a convention that also makes a release archive of a repository.
type releaser interface {
	WriteRelease(p *plan.Plan, file string, created time.Time) error
}

// ErrNoReleaseArchive means the plan's convention makes no release archive.
var ErrNoReleaseArchive = errors.New("the convention makes no release archive")

// WriteReleaseArchive writes the release archive of p's repository to file,
// when its convention makes one (Domino's VERSION.tar.gz).
func (a *Assembler) WriteReleaseArchive(p *plan.Plan, file string) error {
	for _, c := range a.conventions {
		if r, ok := c.(releaser); ok && c.Name() == p.Convention {
			return r.WriteRelease(p, file, a.o.created)
		}
	}
	return fmt.Errorf("%s: %w", p.Convention, ErrNoReleaseArchive)
}
