package conda

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/assemble-build/assemble/internal/pyscript"
)

// pythonEnv is what a noarch: python package needs of the environment's
// Python: where site-packages is and which interpreter runs scripts.
type pythonEnv struct {
	version      string // "3.11"
	sitePackages string // "lib/python3.11/site-packages", relative to the prefix
	interpreter  string // "<prefix>/bin/python3.11"
}

// findPython returns the environment's Python from the python record of
// the records given (this layer's and those below it), if there is one.
func findPython(prefix string, sets ...[]Record) (*pythonEnv, error) {
	for _, recs := range sets {
		for _, r := range recs {
			if r.Name != "python" {
				continue
			}
			parts := strings.SplitN(r.Version, ".", 3)
			if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
				return nil, fmt.Errorf("conda package %s: python version %q has no major.minor", r.Filename, r.Version)
			}
			v := parts[0] + "." + parts[1]
			return &pythonEnv{
				version:      v,
				sitePackages: "lib/python" + v + "/site-packages",
				interpreter:  path.Join(prefix, "bin", "python"+v),
			}, nil
		}
	}
	return nil, nil
}

// noarchPath maps a noarch: python package's path to its place in the
// environment: site-packages/ into the Python's site-packages,
// python-scripts/ into bin/ (conda's get_python_noarch_target_path).
func noarchPath(p string, py *pythonEnv) string {
	if rest, ok := strings.CutPrefix(p, "site-packages/"); ok {
		return py.sitePackages + "/" + rest
	}
	if rest, ok := strings.CutPrefix(p, "python-scripts/"); ok {
		return "bin/" + rest
	}
	return p
}

// entryPoint is one "name = module:function" of info/link.json.
type entryPoint struct{ name, value string }

// noarchEntryPoints reads the entry points of info/link.json (or of the
// older info/noarch.json).
func (pc *pkgContents) noarchEntryPoints() ([]entryPoint, error) {
	var eps []string
	if b, ok := pc.info["link.json"]; ok {
		var lj struct {
			Noarch struct {
				EntryPoints []string `json:"entry_points"`
			} `json:"noarch"`
		}
		if err := json.Unmarshal(b, &lj); err != nil {
			return nil, fmt.Errorf("conda package %s: info/link.json: %w", pc.filename, err)
		}
		eps = lj.Noarch.EntryPoints
	} else if b, ok := pc.info["noarch.json"]; ok {
		var nj struct {
			EntryPoints []string `json:"entry_points"`
		}
		if err := json.Unmarshal(b, &nj); err != nil {
			return nil, fmt.Errorf("conda package %s: info/noarch.json: %w", pc.filename, err)
		}
		eps = nj.EntryPoints
	}
	var out []entryPoint
	for _, ep := range eps {
		name, value, ok := strings.Cut(ep, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return nil, fmt.Errorf("conda package %s: entry point %q is not \"name = module:function\" with a file name", pc.filename, ep)
		}
		out = append(out, entryPoint{name: name, value: strings.TrimSpace(value)})
	}
	return out, nil
}

// launcher is the bin/<name> script for an entry point: the same script
// pip writes (internal/pyscript), run by the environment's Python.
func (ep entryPoint) launcher(pc *pkgContents, py *pythonEnv) ([]byte, error) {
	b, err := pyscript.Launcher(py.interpreter, ep.name, ep.value)
	if err != nil {
		return nil, fmt.Errorf("conda package %s: %w", pc.filename, err)
	}
	return b, nil
}
