package pieces

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/pyjson"
)

// piece is one pieces/<Name>Piece folder.
type piece struct {
	name string
	// metadata is the parsed metadata.json, nil when the folder has none.
	metadata *pyjson.Value
}

func (p *piece) dir() string      { return "pieces/" + p.name }
func (p *piece) metaFile() string { return p.dir() + "/metadata.json" }

// repository is a validated pieces repository.
type repository struct {
	root   string
	config *config
	// pieces in sorted order of their folder names.
	pieces []*piece
	// depFiles are the names in dependencies/.
	depFiles map[string]bool
}

// readRepository validates the repository with Domino's rules
// (validate_repository_structure and validate_pieces_folders) and reports
// every problem at once. versionNeed says what needs config.toml's VERSION
// ("" when nothing does).
func readRepository(root, versionNeed string) (*repository, error) {
	ps := &problems{}
	r := &repository{root: root, depFiles: map[string]bool{}}
	cfg, ok := readConfig(root, ps, versionNeed)
	if ok {
		r.config = cfg
	}
	if !isDir(filepath.Join(root, "pieces")) {
		ps.add("pieces", 0, "Pieces directory does not exist: create pieces/ with one <Name>Piece folder per piece")
	}
	if !isDir(filepath.Join(root, "dependencies")) {
		ps.add("dependencies", 0, "Dependencies directory does not exist: create dependencies/ (Domino requires it even when empty)")
	} else {
		ents, err := os.ReadDir(filepath.Join(root, "dependencies"))
		if err != nil {
			ps.add("dependencies", 0, "reading: %v", err)
		}
		for _, e := range ents {
			// false: the name exists but is not a file (Domino's check
			// passes it; building from it could not work).
			r.depFiles[e.Name()] = isFile(filepath.Join(root, "dependencies", e.Name()))
		}
	}
	if isDir(filepath.Join(root, "pieces")) {
		r.pieces = readPieces(root, r.depFiles, ps)
		if len(r.pieces) == 0 && len(ps.List) == 0 {
			ps.add("pieces", 0, "No pieces found in the Pieces Repository: add a folder pieces/<Name>Piece with models.py and piece.py (folders whose names do not end in \"Piece\" are ignored)")
		}
	}
	if err := ps.err(root, ""); err != nil {
		return nil, err
	}
	return r, nil
}

// readPieces reads every directory matching pieces/*Piece, in sorted order.
func readPieces(root string, depFiles map[string]bool, ps *problems) []*piece {
	ents, err := os.ReadDir(filepath.Join(root, "pieces"))
	if err != nil {
		ps.add("pieces", 0, "reading: %v", err)
		return nil
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		// Path.glob("*Piece"): hidden entries do not match, and only
		// directories are pieces; anything else is silently ignored.
		if !strings.HasSuffix(n, "Piece") || strings.HasPrefix(n, ".") || !isDir(filepath.Join(root, "pieces", n)) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*piece
	for _, n := range names {
		p := &piece{name: n}
		dir := filepath.Join(root, "pieces", n)
		for _, f := range []string{"models.py", "piece.py"} {
			if !isFile(filepath.Join(dir, f)) {
				what := "InputModel, OutputModel and optionally SecretsModel"
				if f == "piece.py" {
					what = "class " + n + "(BasePiece)"
				}
				ps.add(p.dir(), 0, "missing '%s' for %s: every piece folder needs %s (%s)", f, n, f, what)
			}
		}
		mf := filepath.Join(dir, "metadata.json")
		data, err := bounded.ReadFile(mf, bounded.Config)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			ps.add(p.metaFile(), 0, "reading: %v", err)
		default:
			v, err := pyjson.Parse(data)
			if err != nil {
				line := 0
				var se *pyjson.SyntaxError
				if errors.As(err, &se) {
					line = se.Line
				}
				ps.add(p.metaFile(), line, "invalid JSON: %v", err)
				break
			}
			if validateMetadata(p.metaFile(), v, ps) {
				p.metadata = v
				// Domino compares a truthy name only: an empty one stands for the folder name.
				if name := v.Get("name"); name != nil && name.Text() != "" && name.Text() != n {
					ps.add(p.metaFile(), 0, "name %q differs from the folder name %q: The following Pieces have inconsistent names: %s (make \"name\" equal to the folder name)", name.Text(), n, n)
				}
				checkDependencyFiles(p, v, depFiles, ps)
			}
		}
		out = append(out, p)
	}
	return out
}

// checkDependencyFiles reports dependency files that are not in dependencies/.
func checkDependencyFiles(p *piece, v *pyjson.Value, depFiles map[string]bool, ps *problems) {
	dep := v.Get("dependency")
	if !dep.Truthy() {
		return
	}
	for _, key := range []string{"requirements_file", "dockerfile"} {
		f := dep.Get(key)
		if f == nil || f.Kind() != pyjson.KindString || f.Text() == "" {
			continue
		}
		if f.Text() == "default" {
			// Domino's validator lets the legacy "default" through; its
			// builder would then COPY dependencies/default.
			if !depFiles["default"] { // absent, or not a file
				ps.add(p.metaFile(), 0, "dependency.%s is the legacy value \"default\", which names no file: Domino's builder would fail on COPY dependencies/default; remove the key or name a file in dependencies/", key)
			}
			continue
		}
		regular, ok := depFiles[f.Text()]
		switch {
		case !ok:
			ps.add(p.metaFile(), 0, "missing dependency file %s defined for %s: add dependencies/%s or fix dependency.%s", f.Text(), p.name, f.Text(), key)
		case !regular:
			ps.add(p.metaFile(), 0, "dependency.%s names dependencies/%s, which is not a regular file", key, f.Text())
		}
	}
}

// validateMetadata checks metadata.json against Domino's PieceMetadata JSON
// schema (pydantic's model_json_schema of src/domino/schemas/piece_metadata.py):
// name and description are required strings; the other known fields have
// fixed types, and because pydantic types a "= None" field by its
// annotation, null is never accepted; unknown keys pass.
func validateMetadata(file string, v *pyjson.Value, ps *problems) bool {
	if v.Kind() != pyjson.KindObject {
		ps.add(file, 0, "the file holds %s; it must be a JSON object with at least \"name\" and \"description\"", v.TypeName())
		return false
	}
	n := len(ps.List)
	for _, req := range []string{"name", "description"} {
		if v.Get(req) == nil {
			ps.add(file, 0, "%q is a required property (Domino's metadata schema requires \"name\" and \"description\")", req)
		}
	}
	want := func(path string, x *pyjson.Value, k pyjson.Kind) bool {
		if x == nil || x.Kind() == k {
			return true
		}
		var hint string
		if x.Kind() == pyjson.KindNull {
			hint = ": Domino's schema does not accept null here; omit the key instead"
		}
		ps.add(file, 0, "%s is %s, must be %s%s", path, describe(x), k.TypeName(), hint)
		return false
	}
	want("name", v.Get("name"), pyjson.KindString)
	want("description", v.Get("description"), pyjson.KindString)
	want("source_url", v.Get("source_url"), pyjson.KindString)
	want("container_resources", v.Get("container_resources"), pyjson.KindObject)
	want("style", v.Get("style"), pyjson.KindObject)
	if dep := v.Get("dependency"); want("dependency", dep, pyjson.KindObject) && dep != nil {
		for _, k := range []string{"docker_image", "dockerfile", "requirements_file"} {
			want("dependency."+k, dep.Get(k), pyjson.KindString)
		}
	}
	if tags := v.Get("tags"); want("tags", tags, pyjson.KindArray) && tags != nil {
		for i, t := range tags.Items() {
			want("tags["+itoa(i)+"]", t, pyjson.KindString)
		}
	}
	for _, k := range []string{"input_schema", "output_schema", "secrets_schema"} {
		s := v.Get(k)
		if !want(k, s, pyjson.KindObject) || s == nil {
			continue
		}
		for _, req := range []string{"title", "description", "type", "properties"} {
			x := s.Get(req)
			if x == nil {
				ps.add(file, 0, "%s lacks %q (Domino's schema requires title, description, type and properties; the compiler fills it in from models.py, so it can simply be removed)", k, req)
				continue
			}
			if req == "properties" {
				want(k+".properties", x, pyjson.KindObject)
			} else {
				want(k+"."+req, x, pyjson.KindString)
			}
		}
	}
	return len(ps.List) == n
}

func describe(x *pyjson.Value) string {
	if x.Kind() == pyjson.KindNull {
		return "null"
	}
	return x.TypeName()
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
