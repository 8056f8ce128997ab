package pieces

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/bounded"
)

// Runtime layout of a piece image (domino-base-piece and run_piece_docker.py).
const (
	// DominoBaseImage is the image Domino builds every group on.
	DominoBaseImage = "ghcr.io/tauffer-consulting/domino-base-piece"
	// DefaultBase is DominoBaseImage:latest as a base reference.
	DefaultBase = "docker://" + DominoBaseImage + ":latest"
	// WorkDir is the base's WORKDIR; Domino finds the repository relative to it.
	WorkDir = "/home"
	// RepositoryDir is where the repository is in every image.
	RepositoryDir = "/home/domino/pieces_repository"
	// XComFile is where a piece writes its result for Airflow.
	XComFile = "/airflow/xcom/return.json"
)

// repositoryLayer is the repository as Domino's Dockerfiles copy it
// (config.toml, pieces/), plus all of dependencies/ rather than only the
// group's file: the layer is then byte-identical in every group's image, so
// a registry stores and a push uploads it once.
func repositoryLayer() plan.Layer {
	return plan.Layer{
		Kind:    plan.KindFiles,
		Source:  ConfigFile,
		Comment: "pieces repository",
		Files: &plan.FilesLayer{
			Dir:     ".",
			Dest:    RepositoryDir,
			Include: []string{ConfigFile, "pieces", "dependencies"},
		},
	}
}

// metadataLayer holds the generated .domino files (the same in every
// group's image) and, over a base other than Domino's, the XCom file the
// base would have had.
func metadataLayer(compiled, depMap []byte, foreignBase bool) plan.Layer {
	files := []plan.GeneratedFile{
		{Path: RepositoryDir + "/" + CompiledMetadataFile, Content: compiled, Mode: 0o644},
		{Path: RepositoryDir + "/" + DependenciesMapFile, Content: depMap, Mode: 0o644},
	}
	if foreignBase {
		files = append(files, plan.GeneratedFile{Path: XComFile, Content: []byte("{}\n"), Mode: 0o666})
	}
	return plan.Layer{Kind: plan.KindGenerated, Source: ".domino", Comment: "domino metadata", Generated: &plan.GeneratedLayer{Files: files}}
}

// groupImage is the image of one group, without the metadata layer.
func groupImage(g *Group, name, tag, base string) plan.Image {
	im := plan.Image{Name: name, Tags: []string{tag}, Group: g.Name}
	switch g.Kind() {
	case "dockerfile":
		// The user's Dockerfile, with the repository root as context, as
		// Domino builds it; the repository and metadata layers go on top so
		// every image has the current code and .domino whatever it copied.
		im.Source = "dependencies/" + g.Dockerfile
		im.Dockerfile = &plan.Dockerfile{Path: "dependencies/" + g.Dockerfile, Context: "."}
		im.Layers = []plan.Layer{repositoryLayer()}
	case "requirements":
		req := "dependencies/" + g.RequirementsFile
		im.Source, im.Base = req, base
		im.Config.WorkingDir = WorkDir
		// Under the repository layer: the dependencies change less often than the code.
		im.Layers = []plan.Layer{
			{Kind: plan.KindPython, Source: req, Comment: g.Name + " requirements", Python: &plan.PythonLayer{Requirements: []string{req}}},
			repositoryLayer(),
		}
	default:
		im.Source, im.Base = "pieces/"+g.Pieces[0], base
		im.Config.WorkingDir = WorkDir
		im.Layers = []plan.Layer{repositoryLayer()}
	}
	return im
}

// BaseContexts maps each FROM image that names Domino's base
// (DominoBaseImage with any tag) in the Dockerfiles of dir/dependencies to
// base, for the Dockerfile frontend's build contexts (--build-context
// NAME=SOURCE): so an overridden base stands in for Domino's wherever a
// group's Dockerfile names it. It is empty when base is "" (the Dockerfiles
// then pull Domino's image as written). The builder that Load uses to read
// the schemas needs the same contexts as the final build.
func BaseContexts(dir, base string) map[string]string {
	out := map[string]string{}
	if base == "" {
		return out
	}
	ents, err := os.ReadDir(filepath.Join(dir, "dependencies"))
	if err != nil {
		return out
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := bounded.ReadFile(filepath.Join(dir, "dependencies", e.Name()), bounded.Dockerfile)
		if err != nil {
			continue
		}
		for _, ref := range fromImages(data) {
			if ref == DominoBaseImage || strings.HasPrefix(ref, DominoBaseImage+":") || strings.HasPrefix(ref, DominoBaseImage+"@") {
				out[ref] = base
			}
		}
	}
	return out
}

// fromImages lists the image of every FROM instruction, as written.
func fromImages(dockerfile []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		for _, a := range f[1:] {
			if !strings.HasPrefix(a, "--") {
				out = append(out, a)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
