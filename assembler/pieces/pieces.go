// Package pieces reads Domino pieces repositories
// (github.com/Tauffer-Consulting/domino): it validates them with Domino's
// rules, makes .domino/compiled_metadata.json and
// .domino/dependencies_map.json as `domino piece organize` does (as the
// plan's Files: the pipeline writes them into the repository when asked),
// and plans one image per dependency group, named as Domino names them.
//
// Pieces are taken in the sorted (byte-wise) order of their folder names,
// not in the file-system order Domino's Path.glob happens to return, so
// compiled_metadata.json and the group numbers are the same on every
// machine. Groups are formed exactly as Domino forms them: one group per
// distinct (dockerfile, requirements_file) pair, pieces without a
// dependency sharing one group. When the repository has a
// .domino/dependencies_map.json, every group whose pair it lists keeps its
// number there (so its source_image tag stays what Domino published), and
// new groups take the lowest numbers it does not list; without one, groups
// are numbered group0, group1, ... by first appearance in sorted order.
package pieces

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/pyjson"
)

// Name is the convention's name in plans.
const Name = "domino-pieces"

// The generated files, relative to the repository root.
const (
	CompiledMetadataFile = ".domino/compiled_metadata.json"
	DependenciesMapFile  = ".domino/dependencies_map.json"
)

// Detect reports whether dir is a Domino pieces repository: a config.toml
// with a [repository] table and a pieces/ directory.
func Detect(dir string) (bool, string) {
	if !isFile(filepath.Join(dir, ConfigFile)) || !isDir(filepath.Join(dir, "pieces")) {
		return false, ""
	}
	if !hasRepositoryTable(filepath.Join(dir, ConfigFile)) {
		return false, ""
	}
	return true, "config.toml has a [repository] table and pieces/ exists (a Domino pieces repository)"
}

// Result is what Load made besides the plan: the generated files, the
// groups and how the schemas were read.
type Result struct {
	// CompiledMetadata and DependenciesMap are the bytes of
	// .domino/compiled_metadata.json and .domino/dependencies_map.json,
	// exactly as Domino's json.dump(indent=4) writes them.
	CompiledMetadata []byte
	DependenciesMap  []byte
	// Groups in order, each with its image.
	Groups []Group
	// Version is the version in the image tags (VERSION or Input.Version).
	Version string
	// SourceURL is the repository URL source_url was made from ("" for null).
	SourceURL string
	// Schemas says how the pydantic schemas were read.
	Schemas string
	// BuildContexts maps Dockerfile FROM images to the overriding base; the
	// Dockerfile frontend takes them as --build-context NAME=SOURCE.
	BuildContexts map[string]string
}

// PiecesImagesMap is Domino's PIECES_IMAGES_MAP for these groups.
func (r *Result) PiecesImagesMap() []byte { return PiecesImagesMap(r.Groups) }

// PiecesImagesMap renders Domino's PIECES_IMAGES_MAP environment value,
// {"<Piece>": "<image>", ...}, as Domino's json.dumps does. Domino's tests
// read it to run each piece in its image; a CI step appends
// "PIECES_IMAGES_MAP=<this>" to $GITHUB_ENV.
func PiecesImagesMap(groups []Group) []byte {
	gs := make([]*Group, len(groups))
	for i := range groups {
		gs[i] = &groups[i]
	}
	return pyjson.Marshal(piecesImagesMap(gs))
}

// Summary describes the groups for `assemble plan`, one line each.
func (r *Result) Summary() []string {
	var out []string
	for _, g := range r.Groups {
		dep := "no dependency"
		switch g.Kind() {
		case "dockerfile":
			dep = "dependencies/" + g.Dockerfile
		case "requirements":
			dep = "dependencies/" + g.RequirementsFile
		}
		line := fmt.Sprintf("%s (%s): %s -> %s", g.Name, dep, strings.Join(g.Pieces, ", "), g.Image)
		if len(g.Secrets) > 0 {
			line += " secrets " + strings.Join(g.Secrets, ",")
		}
		out = append(out, line)
	}
	out = append(out, "schemas: "+r.Schemas)
	return out
}

// Load validates the pieces repository at dir and plans one image per
// dependency group.
//
// Each image is named ghcr.io/<REGISTRY_NAME lower-cased>/<REPOSITORY_NAME>
// (in.Registry replaces "ghcr.io/<owner>") and tagged <VERSION>-group<N>
// (in.Version replaces VERSION). Its base is Domino's domino-base-piece
// (in.Base overrides it), and it holds the repository at RepositoryDir with
// WORKDIR /home: a requirements group adds a python layer under the
// repository layer; a Dockerfile group is built by the Dockerfile frontend
// with the repository root as context (BaseContexts points its FROM at
// in.Base). The repository and .domino layers are identical in every image.
//
// The schemas in compiled_metadata.json come from the pieces' models.py:
// with in.MetadataPython run on the host, else built and run in each
// group's image with in.Builder; in.NoSchemas leaves them null (and the
// groups' secrets empty), and so does planning without a builder.
func Load(ctx context.Context, dir string, in Input) (*plan.Plan, *Result, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	versionNeed := ""
	if in.Version == "" {
		versionNeed = "the image tags (<VERSION>-group<N>) need it; --version-tag would replace it"
	}
	repo, err := readRepository(root, versionNeed)
	if err != nil {
		return nil, nil, err
	}
	if repo.config.versionMissing {
		logctx.From(ctx).Warn("config.toml: Missing required fields: VERSION (Domino prints this and goes on; the image tags use --version-tag)", "version", in.Version)
	}
	l, err := newLoader(root, repo, in)
	if err != nil {
		return nil, nil, err
	}
	l.numbers = readNumbering(ctx, root)
	// The groups depend on the dependencies only; the schemas add secrets.
	groups := l.numbers.apply(formGroups(groupInputs(compileMetadata(repo.pieces, nil, l.res.SourceURL))))
	images := l.groupImages(groups)

	// A builder means the images will be built: Domino's Dockerfiles COPY .domino.
	if in.Builder != nil {
		if err := ensureDominoDir(ctx, root, groups); err != nil {
			return nil, nil, err
		}
	}
	schemas, err := l.readSchemas(ctx, groups, images)
	if err != nil {
		return nil, nil, err
	}
	groups = l.compile(schemas)
	meta := metadataLayer(l.res.CompiledMetadata, l.res.DependenciesMap, in.Base != "")
	for i := range images {
		images[i].Layers = append(images[i].Layers, meta)
	}
	p := &plan.Plan{
		Convention: Name,
		Reason:     fmt.Sprintf("config.toml has a [repository] table and pieces/ exists: %d pieces in %d dependency groups", len(repo.pieces), len(groups)),
		Root:       root,
		Images:     images,
		Files: []plan.File{
			{Path: CompiledMetadataFile, Content: l.res.CompiledMetadata},
			{Path: DependenciesMapFile, Content: l.res.DependenciesMap},
		},
	}
	return p, l.res, nil
}

// loader carries one Load's settings between its steps.
type loader struct {
	root      string
	repo      *repository
	in        Input
	imageName string
	base      string
	res       *Result
	// numbers are the committed dependencies map's group numbers (nil: none).
	numbers *numbering
}

// newLoader settles the version (checked as a tag), the source URL, the
// image name and the base.
func newLoader(root string, repo *repository, in Input) (*loader, error) {
	res := &Result{Version: repo.config.Version, SourceURL: in.SourceURL}
	flag := "config.toml VERSION"
	if in.Version != "" {
		res.Version, flag = in.Version, "--version-tag"
	}
	if err := checkTag(res.Version, flag); err != nil {
		return nil, err
	}
	if res.SourceURL == "" {
		res.SourceURL = gitSourceURL(root)
	}
	base := DefaultBase
	if in.Base != "" {
		base = in.Base
	}
	res.BuildContexts = BaseContexts(root, in.Base)
	return &loader{root: root, repo: repo, in: in, imageName: repo.config.imageRepository(in.Registry), base: base, res: res}, nil
}

// tag is a group's image tag.
func (l *loader) tag(g *Group) string { return l.res.Version + "-" + g.Name }

// groupImages plans each group's image, without the metadata layer.
func (l *loader) groupImages(groups []*Group) []plan.Image {
	images := make([]plan.Image, len(groups))
	for i, g := range groups {
		g.Image = l.imageName + ":" + l.tag(g)
		images[i] = groupImage(g, l.imageName, l.tag(g), l.base)
		// The base override stands in for Domino's base wherever a group's
		// Dockerfile names it in FROM.
		if df := images[i].Dockerfile; df != nil && len(l.res.BuildContexts) > 0 {
			df.BuildContexts = l.res.BuildContexts
		}
	}
	return images
}

// readSchemas reads the pieces' schemas as the input asks: not at all, with
// a host interpreter, or in each group's image; it sets res.Schemas.
func (l *loader) readSchemas(ctx context.Context, groups []*Group, images []plan.Image) (map[string]schemaSet, error) {
	var schemas map[string]schemaSet
	ps := &problems{}
	var pydantic string
	switch {
	case l.in.NoSchemas:
		l.res.Schemas = "left out (--no-schemas): input_schema, output_schema and secrets_schema are null"
	case l.in.MetadataPython != "":
		ex, err := extractHost(ctx, l.in.Cache, l.in.MetadataPython, l.root, pieceNames(l.repo.pieces), ps)
		if err != nil {
			return nil, err
		}
		schemas, pydantic = ex.schemas, ex.pydantic
		l.res.Schemas = fmt.Sprintf("read with %s (Python %s, pydantic %s)", l.in.MetadataPython, ex.python, orNone(ex.pydantic))
	case l.in.Builder != nil:
		var err error
		if schemas, pydantic, err = l.readSchemasInImages(ctx, groups, images, ps); err != nil {
			return nil, err
		}
	default:
		if l.in.WriteMetadata {
			return nil, errors.New("--write-metadata while planning would write null schemas into .domino: give --metadata-python PYTHON to read them on the host (or --no-schemas), or write the metadata with `assemble build`")
		}
		l.res.Schemas = "not read: planning builds no image (give --metadata-python to read them on the host); they are null here"
	}
	if len(ps.List) > 0 {
		what := "has pieces whose models.py could not be read"
		if pydantic == "" {
			what += " (the interpreter has no pydantic: install it, or use --metadata-python PYTHON with an interpreter that has it, or --no-schemas)"
		}
		return nil, ps.err(l.root, what)
	}
	return schemas, nil
}

// readSchemasInImages builds each group's image with the builder and reads
// its pieces' schemas there. pydantic is "" once any image lacks it.
func (l *loader) readSchemasInImages(ctx context.Context, groups []*Group, images []plan.Image, ps *problems) (map[string]schemaSet, string, error) {
	schemas, pydantic := map[string]schemaSet{}, "?"
	var versions []string
	copies := newRepoCopies(l.root)
	for i, g := range groups {
		ex, err := extractInImage(ctx, l.in.Builder, l.in.Cache, copies, images[i], g, ps)
		if err != nil {
			return nil, "", err
		}
		for k, v := range ex.schemas {
			schemas[k] = v
		}
		if ex.pydantic == "" || pydantic != "" {
			pydantic = ex.pydantic
		}
		versions = append(versions, fmt.Sprintf("%s: Python %s, pydantic %s", g.Name, ex.python, orNone(ex.pydantic)))
	}
	l.res.Schemas = "read in each group's image (" + strings.Join(versions, "; ") + ")"
	return schemas, pydantic, nil
}

// compile makes compiled_metadata.json with the schemas, forms the groups
// again from it (the schemas add the secrets) and renders
// dependencies_map.json, as json.dump(indent=4) writes them.
func (l *loader) compile(schemas map[string]schemaSet) []*Group {
	compiled := compileMetadata(l.repo.pieces, schemas, l.res.SourceURL)
	groups := l.numbers.apply(formGroups(groupInputs(compiled)))
	for _, g := range groups {
		g.Image = l.imageName + ":" + l.tag(g)
	}
	l.res.Groups = derefGroups(groups)
	l.res.CompiledMetadata = pyjson.Marshal(compiled, pyjson.Indent(4))
	l.res.DependenciesMap = pyjson.Marshal(dependenciesMap(groups), pyjson.Indent(4))
	return groups
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func pieceNames(ps []*piece) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out
}

func derefGroups(gs []*Group) []Group {
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = *g
	}
	return out
}

// ensureDominoDir creates an empty .domino/ when a group's Dockerfile will
// be built and the repository has none, as Domino's
// validate_repository_structure does: Domino's Dockerfiles COPY .domino.
// It is the one write planning makes, and only with a builder (`assemble
// build`, never `assemble plan`): the group images are built inside Load
// to read the schemas, before the pipeline could write anything, and their
// COPY .domino fails without the directory. It adds no file.
func ensureDominoDir(ctx context.Context, root string, groups []*Group) error {
	need := false
	for _, g := range groups {
		need = need || g.Kind() == "dockerfile"
	}
	d := filepath.Join(root, ".domino")
	if !need || isDir(d) {
		return nil
	}
	logctx.From(ctx).Debug("creating .domino/ for the Dockerfiles' COPY .domino, as Domino does", "dir", d)
	if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s (the Dockerfiles COPY .domino): %w", d, err)
	}
	return nil
}
