package pieces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/pyjson"
)

// extractScript imports each piece's models.py as Domino's
// load_piece_models_from_path does (the pieces folder appended to sys.path,
// module "<Name>.models") and prints, as one JSON object, each piece's
// InputModel, OutputModel and SecretsModel (or null) JSON schema: pydantic
// v2's model_json_schema(), else v1's schema(). Anything a models.py prints
// goes to stderr, so stdout holds only the JSON. It never writes bytecode
// into the repository.
//
// Under "reads" it lists every file opened and folder listed once it
// started (an audit hook; the import caches are dropped so that folders
// listed at start-up are listed again), or null without sys.addaudithook:
// the schema cache takes an extraction again only when all of them are
// unchanged.
const extractScript = `import importlib, json, os, sys, traceback
sys.dont_write_bytecode = True
out, sys.stdout = sys.stdout, sys.stderr
pieces_dir = os.path.abspath(sys.argv[1])
files, dirs = set(), set()
def audit(event, args):
    if event != "open" and event != "os.listdir" and event != "os.scandir":
        return
    p = args[0] if args else None
    if p is None and event != "open":
        p = "."
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if isinstance(p, str):
        (files if event == "open" else dirs).add(os.path.abspath(p))
track = hasattr(sys, "addaudithook")
if track:
    sys.addaudithook(audit)
    importlib.invalidate_caches()
if pieces_dir not in sys.path:
    sys.path.append(pieces_dir)
try:
    import pydantic
    version = str(getattr(pydantic, "VERSION", getattr(pydantic, "__version__", "")))
except Exception:
    version = None
def schema(cls):
    f = getattr(cls, "model_json_schema", None)
    return f() if f is not None else cls.schema()
res = {"python": sys.version.split()[0], "pydantic": version, "pieces": {}}
for name in sys.argv[2:]:
    try:
        m = importlib.import_module(name + ".models")
        s = getattr(m, "SecretsModel", None)
        r = {"input_schema": schema(getattr(m, "InputModel")),
             "output_schema": schema(getattr(m, "OutputModel")),
             "secrets_schema": schema(s) if s else None}
        json.dumps(r)
    except BaseException as e:
        where = ""
        if isinstance(e, SyntaxError) and e.filename:
            where = "%s:%s" % (e.filename, e.lineno or 0)
        for fr in traceback.extract_tb(e.__traceback__):
            if fr.filename.startswith(pieces_dir + os.sep):
                where = "%s:%d" % (fr.filename, fr.lineno)
        r = {"error": "".join(traceback.format_exception_only(type(e), e)).strip(), "where": where}
    res["pieces"][name] = r
res["reads"] = {"files": sorted(files), "dirs": sorted(dirs)} if track else None
out.write(json.dumps(res))
out.flush()
`

// extraction is the parsed output of extractScript.
type extraction struct {
	python, pydantic string
	schemas          map[string]schemaSet
}

// parseExtraction reads extractScript's output; piecesDir is the pieces
// folder as the script saw it, to turn its paths back into repository paths.
func parseExtraction(out []byte, piecesDir, how string, ps *problems) (*extraction, error) {
	v, err := pyjson.Parse(bytes.TrimSpace(out))
	if err != nil || v.Kind() != pyjson.KindObject || v.Get("pieces") == nil {
		return nil, fmt.Errorf("%s printed no schema JSON (%v); its output began: %q", how, err, head(out, 300))
	}
	ex := &extraction{schemas: map[string]schemaSet{}}
	if p := v.Get("python"); p != nil {
		ex.python = p.Text()
	}
	if p := v.Get("pydantic"); p != nil {
		ex.pydantic = p.Text()
	}
	pieces := v.Get("pieces")
	for _, name := range pieces.Keys() {
		r := pieces.Get(name)
		if e := r.Get("error"); e != nil {
			file, line := "pieces/"+name+"/models.py", 0
			if w := r.Get("where"); w != nil && w.Text() != "" {
				if f, l, ok := splitWhere(w.Text(), piecesDir); ok {
					file, line = f, l
				}
			}
			ps.add(file, line, "importing %s.models with %s: %s", name, how, e.Text())
			continue
		}
		ex.schemas[name] = schemaSet{input: r.Get("input_schema"), output: r.Get("output_schema"), secrets: r.Get("secrets_schema")}
	}
	return ex, nil
}

// splitWhere turns "/abs/pieces/X/models.py:12" into ("pieces/X/models.py", 12).
func splitWhere(where, piecesDir string) (string, int, bool) {
	i := strings.LastIndexByte(where, ':')
	if i < 0 {
		return "", 0, false
	}
	file, lineText := where[:i], where[i+1:]
	rel, ok := strings.CutPrefix(file, strings.TrimSuffix(piecesDir, "/")+"/")
	if !ok {
		return "", 0, false
	}
	line := 0
	for _, c := range lineText {
		if c < '0' || c > '9' {
			return "", 0, false
		}
		line = line*10 + int(c-'0')
	}
	return "pieces/" + rel, line, true
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// extractHost runs extractScript with a host interpreter, in the repository
// root as Domino's CLI runs, or takes its output from c (nil: no cache).
func extractHost(ctx context.Context, c Cache, python, root string, names []string, ps *problems) (*extraction, error) {
	exe, err := exec.LookPath(python)
	if err != nil {
		return nil, fmt.Errorf("--metadata-python %s: %w: give the path of a Python interpreter that has pydantic (and whatever the pieces' models.py import), or use --no-schemas", python, err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return nil, fmt.Errorf("--metadata-python %s: %w", python, err)
	}
	piecesDir := filepath.Join(root, "pieces")
	out, err := hostRun(exe, root, names, func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, exe, append([]string{"-c", extractScript, piecesDir}, names...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("running %s to read the pieces' models: %w\n%s", exe, err, tail(stderr.Bytes(), 2000))
		}
		return stdout.Bytes(), nil
	}).output(ctx, c)
	if err != nil {
		return nil, err
	}
	return parseExtraction(out, piecesDir, "the host's "+exe, ps)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		return "..." + string(b[len(b)-n:])
	}
	return string(b)
}

// imagePiecesDir is where the pieces are inside a group's image.
const imagePiecesDir = RepositoryDir + "/pieces"

// extractInImage builds the group's image without the generated metadata
// and runs extractScript in it with python3, so models.py imports exactly
// what the piece will have at run time; or takes the output from c (nil:
// no cache).
func extractInImage(ctx context.Context, b plan.Builder, c Cache, copies *repoCopies, im plan.Image, g *Group, ps *problems) (*extraction, error) {
	root := copies.root
	platform := "linux/" + runtime.GOARCH
	img, err := b.Build(ctx, root, im, platform)
	if err != nil {
		return nil, fmt.Errorf("building the %s image to read its pieces' models: %w", g.Name, err)
	}
	r, err := imageRun(img, platform, copies, g.Name, g.Pieces, func() ([]byte, error) {
		cmd := append([]string{"python3", "-c", extractScript, imagePiecesDir}, g.Pieces...)
		return b.Run(ctx, img, cmd, []string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8"}, "", RepositoryDir)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s image's layers: %w", g.Name, err)
	}
	out, err := r.output(ctx, c)
	var refused *plan.RunRefusedError
	if errors.As(err, &refused) {
		// One line: the script is no news, and the base is not at fault.
		return nil, fmt.Errorf("%s (%s) needs to run Python in its image to read the pydantic schemas of its models.py, and --no-run refuses it: "+
			"give --metadata-python PYTHON to read them with a host interpreter, or --no-schemas to leave them null", g.Name, strings.Join(g.Pieces, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the pydantic schemas of %s (%s) by running python3 in its image: %w\n"+
			"The image's base needs python3 with pydantic (Domino's domino-base-piece has them). "+
			"Without one, pass --metadata-python PYTHON (a host interpreter with pydantic and the pieces' imports) "+
			"or --no-schemas (the schemas are then null)", g.Name, strings.Join(g.Pieces, ", "), err)
	}
	return parseExtraction(out, imagePiecesDir, "python3 in the "+g.Name+" image", ps)
}
