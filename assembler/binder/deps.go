package binder

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/layers/wheel"
)

// aptRE is repo2docker's check of an apt.txt line; like repo2docker it only
// looks at the start of the line.
var aptRE = lazyregexp.New(`^[a-z0-9.+-]+`)

// aptPackages reads apt.txt as repo2docker does: one package a line (several
// separated by spaces are passed along as apt-get would take them), text
// after # is a comment.
func (r *repo) aptPackages(rel string) ([]plan.Package, error) {
	b, err := r.readFile(rel)
	if err != nil {
		return nil, err
	}
	var pkgs []plan.Package
	for i, line := range strings.Split(string(b), "\n") {
		pkg := strings.TrimSpace(strings.SplitN(line, "#", 2)[0])
		if pkg == "" {
			continue
		}
		if !aptRE.MatchString(pkg) {
			return nil, fmt.Errorf("%s:%d: %q is not a package name (lower-case letters, digits, '.', '+', '-'); list one Debian package a line", rel, i+1, pkg)
		}
		for _, f := range strings.Fields(pkg) {
			pkgs = append(pkgs, plan.Package{Name: f, Where: fmt.Sprintf("%s:%d", rel, i+1)})
		}
	}
	return pkgs, nil
}

// localRef is a package of the repository named by a dependency file
// ("-e ." in requirements.txt, {path = "."} in a Pipfile): it can only be
// installed once the repository is in the image, by pip in a run layer.
type localRef struct {
	// arg is what pip gets ("." or ".[extra]"), relative to dir.
	arg      string
	editable bool
	// dir is the repository-relative directory pip runs in ("" for the root).
	dir   string
	where string
}

// reqFile is what a requirements file says, as far as planning cares.
type reqFile struct {
	file  string
	names []string // normalized names of the named requirements, includes followed
	local []localRef
	// lines are the file's logical lines without the local references, with
	// relative paths rewritten against the repository root, for an inline layer.
	lines []string
}

// logicalLines joins continuation lines and drops comments, as pip does.
func logicalLines(text string) []struct {
	n    int
	text string
} {
	var out []struct {
		n    int
		text string
	}
	var cur strings.Builder
	start := 0
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			if i < len(lines)-1 {
				continue
			}
		} else {
			cur.WriteString(l)
		}
		s := stripComment(cur.String())
		cur.Reset()
		if s != "" {
			out = append(out, struct {
				n    int
				text string
			}{start, s})
		}
	}
	return out
}

var commentRE = lazyregexp.New(`(^|\s+)#.*$`)

func stripComment(s string) string { return strings.TrimSpace(commentRE.ReplaceAllString(s, "")) }

// splitOption splits "-r file", "-rfile", "--requirement=file" and
// "--requirement file" into the long option name and its value.
func splitOption(line string) (name, value string) {
	short := map[string]string{"-r": "--requirement", "-c": "--constraint", "-e": "--editable", "-f": "--find-links", "-i": "--index-url"}
	if strings.HasPrefix(line, "--") {
		name, value, ok := strings.Cut(line, "=")
		if i := strings.IndexAny(line, " \t"); i >= 0 && (!ok || i < len(name)) {
			return line[:i], strings.TrimSpace(line[i:])
		}
		return name, strings.TrimSpace(value)
	}
	if len(line) >= 2 {
		if long, ok := short[line[:2]]; ok {
			return long, strings.TrimSpace(strings.TrimPrefix(line[2:], "="))
		}
	}
	f := strings.Fields(line)
	return f[0], strings.TrimSpace(strings.TrimPrefix(line, f[0]))
}

// requirementPart drops the per-requirement options (--hash ...) of a line.
func requirementPart(line string) string {
	for _, sep := range []string{" --", "\t--", " -"} {
		if i := strings.Index(line, sep); i >= 0 {
			line = line[:i]
		}
	}
	return strings.TrimSpace(line)
}

// looksLocal is repo2docker's is_local_pip_requirement for a requirement
// argument: a path, not a name, not a wheel or archive file.
func looksLocal(arg string) bool {
	low := strings.ToLower(arg)
	for _, ext := range []string{".whl", ".tar.gz", ".zip", ".tgz", ".tar.bz2"} {
		if strings.HasSuffix(low, ext) {
			return false
		}
	}
	return strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "/")
}

// scanRequirements reads a requirements file (and those it includes with
// -r) for the names it asks for and the repository packages it installs.
func (r *repo) scanRequirements(rel string) (*reqFile, error) {
	rf := &reqFile{file: rel}
	if err := r.scanReq(rel, rf, true, map[string]bool{}); err != nil {
		return nil, err
	}
	sort.Strings(rf.names)
	return rf, nil
}

func (r *repo) scanReq(rel string, rf *reqFile, top bool, seen map[string]bool) error {
	if seen[rel] {
		return nil // pip reports the loop; the resolver's parser does too
	}
	seen[rel] = true
	b, err := r.readFile(rel)
	if err != nil {
		return err
	}
	dir := path.Dir(rel)
	for _, ll := range logicalLines(string(b)) {
		where := fmt.Sprintf("%s:%d", rel, ll.n)
		line := ll.text
		if strings.HasPrefix(line, "-") {
			name, value := splitOption(line)
			switch name {
			case "--requirement":
				inc := path.Clean(path.Join(dir, value))
				if strings.Contains(value, "://") || path.IsAbs(value) || inc == ".." || strings.HasPrefix(inc, "../") {
					return fmt.Errorf("%s: -r %s: include requirements files from inside the repository, by relative path", where, value)
				}
				if err := r.scanReq(inc, rf, false, seen); err != nil {
					return err
				}
				if top {
					rf.lines = append(rf.lines, "-r "+inc)
				}
				continue
			case "--constraint", "--find-links":
				if top {
					if !strings.Contains(value, "://") && !path.IsAbs(value) && !strings.HasPrefix(value, "file:") {
						value = path.Join(dir, value)
					}
					rf.lines = append(rf.lines, name+" "+value)
				}
				continue
			case "--editable":
				if looksLocal(value) {
					if err := r.localReq(rf, value, true, top, where, "-e "+value); err != nil {
						return err
					}
					continue
				}
			}
			if top {
				rf.lines = append(rf.lines, line)
			}
			continue
		}
		arg := requirementPart(line)
		if looksLocal(arg) {
			if err := r.localReq(rf, arg, false, top, where, arg); err != nil {
				return err
			}
			continue
		}
		if q, err := wheel.ParseRequirement(arg); err == nil {
			rf.names = append(rf.names, wheel.NormalizeName(q.Name))
		}
		if top {
			rf.lines = append(rf.lines, line)
		}
	}
	return nil
}

// localReq records a package of the repository that a requirements file
// names (shown as the line has it: "-e ./pkg", "./pkg"); only the top
// file may name one, its path taken from the repository root as pip takes
// it from its working directory.
func (r *repo) localReq(rf *reqFile, arg string, editable, top bool, where, shown string) error {
	if !top {
		return fmt.Errorf("%s: %s installs a package of the repository from an included file: move the line into %s", where, shown, rf.file)
	}
	ref, err := r.local(arg, editable, "", where)
	if err != nil {
		return err
	}
	rf.local = append(rf.local, ref)
	return nil
}

// local checks a reference to a package of the repository: arg is relative
// to dir (repository-relative; pip's working directory).
func (r *repo) local(arg string, editable bool, dir, where string) (localRef, error) {
	p := arg
	if i := strings.IndexByte(p, '['); i >= 0 {
		p = p[:i] // ".[test]": extras
	}
	if path.IsAbs(p) {
		return localRef{}, fmt.Errorf("%s: %s is an absolute path: name the package by a path relative to the repository", where, arg)
	}
	rel := path.Clean(path.Join(dir, p))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return localRef{}, fmt.Errorf("%s: %s is outside the repository", where, arg)
	}
	if rel == "." {
		rel = ""
	}
	if !r.exists(path.Join(rel, "setup.py")) && !r.exists(path.Join(rel, "pyproject.toml")) {
		return localRef{}, fmt.Errorf("%s: %s is not a Python package (no setup.py or pyproject.toml in %s)", where, arg, "./"+rel)
	}
	return localRef{arg: arg, editable: editable, dir: dir, where: where}, nil
}

// pipfileLock is the part of Pipfile.lock that matters here.
type pipfileLock struct {
	Meta struct {
		Requires map[string]string `json:"requires"`
		Sources  []pipSource       `json:"sources"`
	} `json:"_meta"`
	Default map[string]lockEntry `json:"default"`
	Develop map[string]lockEntry `json:"develop"`
}

type pipSource struct {
	Name string `json:"name" toml:"name"`
	URL  string `json:"url" toml:"url"`
}

type lockEntry struct {
	Version  string   `json:"version"`
	Hashes   []string `json:"hashes"`
	Markers  string   `json:"markers"`
	Extras   []string `json:"extras"`
	Path     string   `json:"path"`
	Editable bool     `json:"editable"`
	Git      string   `json:"git"`
	File     string   `json:"file"`
}

// pipenvPlan is what a Pipfile or Pipfile.lock asks pipenv to install.
type pipenvPlan struct {
	packages []string
	lines    []int // where each of packages is in its file, when known (Pipfile.lock)
	names    []string
	local    []localRef
	sources  []pipSource
	python   string // "3.11" from [requires] or _meta.requires; "" when unset
	pyFrom   string
}

// pipenvLock reads Pipfile.lock as `pipenv install --system --dev
// --ignore-pipfile` would install it: default and develop packages, pinned
// and hashed.
func (r *repo) pipenvLock(rel string) (*pipenvPlan, error) {
	b, err := r.readFile(rel)
	if err != nil {
		return nil, err
	}
	var lock pipfileLock
	if err := json.Unmarshal(b, &lock); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: byte %d: %v (regenerate it with pipenv lock)", rel, se.Offset, err)
		}
		return nil, fmt.Errorf("%s: %w (regenerate it with pipenv lock)", rel, err)
	}
	pp := &pipenvPlan{sources: lock.Meta.Sources}
	pp.pythonFrom(rel+": _meta.requires.", func(k string) string { return lock.Meta.Requires[k] })
	dir := pipenvDir(rel)
	at := lockEntryLines(b)
	lineOf := map[string]int{}
	sections := []pipenvSection[lockEntry]{{"default", lock.Default}, {"develop", lock.Develop}}
	err = addPipenvPackages(pp, sections, func(section, n string, e lockEntry) (string, *localRef, error) {
		where := fmt.Sprintf("%s:%d: %s.%s", rel, at[section+"."+n], section, n)
		switch {
		case e.Git != "":
			return "", nil, fmt.Errorf("%s: installing from git (%s) is not supported: assemble installs released wheels; pin a released version or build a wheel into a wheelhouse (--find-links DIR)", where, e.Git)
		case e.Path != "":
			ref, err := r.local(e.Path, e.Editable, dir, where)
			return "", &ref, err
		}
		line := lockLine(n, e)
		lineOf[line] = at[section+"."+n]
		return line, nil, nil
	})
	if err != nil {
		return nil, err
	}
	pp.packages, pp.lines = sortByLine(pp.packages, lineOf)
	return pp, nil
}

// lockEntryLines finds the line of each package entry of a Pipfile.lock
// ("default.numpy" -> 42), reading the JSON's tokens with their offsets.
func lockEntryLines(b []byte) map[string]int {
	type frame struct{ object, wantKey bool }
	out := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []frame
	section := ""
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		off := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		n := len(stack)
		if k, ok := tok.(string); ok && n > 0 && stack[n-1].object && stack[n-1].wantKey {
			stack[n-1].wantKey = false
			switch {
			case n == 1:
				section = k
			case n == 2 && (section == "default" || section == "develop"):
				// The key's quote follows the separator that ends at off.
				q := off + max(bytes.IndexByte(b[off:], '"'), 0)
				out[section+"."+k] = 1 + bytes.Count(b[:q], []byte("\n"))
			}
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:n-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// sortByLine orders requirement lines as their lock entries are ordered and
// returns each one's line (0 when unknown, those last), so the resolver's
// messages name the entry's line in the lock ("from Pipfile.lock:42").
func sortByLine(lines []string, lineOf map[string]int) ([]string, []int) {
	sorted := slices.Clone(lines)
	slices.SortStableFunc(sorted, func(a, b string) int {
		la, lb := lineOf[a], lineOf[b]
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return cmp.Compare(la, lb)
	})
	at := make([]int, len(sorted))
	for i, l := range sorted {
		at[i] = lineOf[l]
	}
	return sorted, at
}

// lockLine is a Pipfile.lock entry as a requirement line, pinned and hashed.
func lockLine(name string, e lockEntry) string {
	line := name + extras(e.Extras)
	if e.File != "" {
		line += " @ " + e.File
	} else {
		line += e.Version
	}
	if e.Markers != "" {
		line += " ; " + e.Markers
	}
	for _, h := range e.Hashes {
		line += " --hash=" + h
	}
	return line
}

// pythonFrom takes the Python version from the first of
// python_full_version and python_version that get gives, noting where
// (from and the key) for `assemble plan`.
func (pp *pipenvPlan) pythonFrom(from string, get func(key string) string) {
	for _, k := range []string{"python_full_version", "python_version"} {
		if v := get(k); v != "" {
			pp.python, pp.pyFrom = majorMinor(v), from+k
			return
		}
	}
}

// pipenvDir is the directory of a Pipfile or Pipfile.lock, "" at the top,
// which local paths in it are relative to.
func pipenvDir(rel string) string {
	if dir := path.Dir(rel); dir != "." {
		return dir
	}
	return ""
}

// pipenvSection is one table of packages of a Pipfile or Pipfile.lock.
type pipenvSection[T any] struct {
	name    string
	entries map[string]T
}

// addPipenvPackages adds the packages of sections to pp in order, each
// section's names sorted; a name that an earlier section has is skipped, as
// pipenv installs the first section's pin. entry turns a package into a
// requirement line or, for a package of the repository, a reference.
func addPipenvPackages[T any](pp *pipenvPlan, sections []pipenvSection[T], entry func(section, name string, e T) (string, *localRef, error)) error {
	seen := map[string]bool{}
	for _, s := range sections {
		for _, n := range slices.Sorted(maps.Keys(s.entries)) {
			key := wheel.NormalizeName(n)
			if seen[key] {
				continue
			}
			seen[key] = true
			line, ref, err := entry(s.name, n, s.entries[n])
			switch {
			case err != nil:
				return err
			case ref != nil:
				pp.local = append(pp.local, *ref)
			default:
				pp.packages = append(pp.packages, line)
				pp.names = append(pp.names, key)
			}
		}
	}
	return nil
}

// pipfileToml is the part of a Pipfile that matters here.
type pipfileToml struct {
	Source      []pipSource    `toml:"source"`
	Packages    map[string]any `toml:"packages"`
	DevPackages map[string]any `toml:"dev-packages"`
	Requires    map[string]any `toml:"requires"`
}

// markerKeys are the PEP 508 marker variables a Pipfile entry may set.
var markerKeys = []string{"os_name", "sys_platform", "platform_machine", "platform_python_implementation",
	"platform_release", "platform_system", "platform_version", "python_version", "python_full_version",
	"implementation_name", "implementation_version"}

// pipenvPipfile reads a Pipfile without a lock as `pipenv install --system
// --dev --skip-lock` would: its packages and dev-packages, resolved when built.
func (r *repo) pipenvPipfile(rel string) (*pipenvPlan, error) {
	b, err := r.readFile(rel)
	if err != nil {
		return nil, err
	}
	var pf pipfileToml
	if _, err := toml.Decode(string(b), &pf); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s (fix the TOML syntax)", rel, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	pp := &pipenvPlan{sources: pf.Source}
	pp.pythonFrom(rel+": [requires] ", func(k string) string { v, _ := pf.Requires[k].(string); return v })
	dir := pipenvDir(rel)
	sections := []pipenvSection[any]{{"packages", pf.Packages}, {"dev-packages", pf.DevPackages}}
	err = addPipenvPackages(pp, sections, func(section, n string, v any) (string, *localRef, error) {
		return r.pipfileEntry(n, v, dir, fmt.Sprintf("%s: [%s] %s", rel, section, n))
	})
	if err != nil {
		return nil, err
	}
	return pp, nil
}

func (r *repo) pipfileEntry(name string, v any, dir, where string) (string, *localRef, error) {
	switch e := v.(type) {
	case string:
		return name + versionSpec(e), nil, nil
	case map[string]any:
		str := func(k string) string { s, _ := e[k].(string); return s }
		if g := str("git"); g != "" {
			return "", nil, fmt.Errorf("%s: installing from git (%s) is not supported: assemble installs released wheels; pin a released version or build a wheel into a wheelhouse (--find-links DIR)", where, g)
		}
		if p := str("path"); p != "" {
			ed, _ := e["editable"].(bool)
			ref, err := r.local(p, ed, dir, where)
			if err != nil {
				return "", nil, err
			}
			return "", &ref, nil
		}
		var xs []string
		if l, ok := e["extras"].([]any); ok {
			for _, x := range l {
				if s, ok := x.(string); ok {
					xs = append(xs, s)
				}
			}
		}
		line := name + extras(xs)
		if f := str("file"); f != "" {
			line += " @ " + f
		} else {
			line += versionSpec(str("version"))
		}
		var markers []string
		if m := str("markers"); m != "" {
			markers = append(markers, "("+m+")")
		}
		for _, k := range markerKeys {
			if m := str(k); m != "" {
				markers = append(markers, fmt.Sprintf("%s %s", k, quoteMarker(m)))
			}
		}
		if len(markers) > 0 {
			line += " ; " + strings.Join(markers, " and ")
		}
		return line, nil, nil
	}
	return "", nil, fmt.Errorf("%s: expected a version string or a table, got %T", where, v)
}

// quoteMarker turns pipenv's `sys_platform = "== 'linux'"` into "== 'linux'".
func quoteMarker(m string) string {
	m = strings.TrimSpace(m)
	if strings.ContainsAny(m[:1], "=<>!~") || strings.HasPrefix(m, "in ") || strings.HasPrefix(m, "not in ") {
		return m
	}
	return "== '" + m + "'"
}

// versionSpec turns a Pipfile version ("*", ">=1", "1.2") into a specifier.
func versionSpec(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" {
		return ""
	}
	if strings.ContainsAny(v[:1], "=<>!~") {
		return v
	}
	return "==" + v
}

func extras(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return "[" + strings.Join(xs, ",") + "]"
}

// majorMinor keeps "3.11" of "3.11.4".
func majorMinor(v string) string {
	parts := strings.Split(strings.TrimSpace(v), ".")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ".")
}

// jupyterCommand is the default command for what the requirements name:
// repo2docker's `jupyter notebook --ip 0.0.0.0` when the notebook server is
// there, JupyterLab's own server when only it is, else nil.
func jupyterCommand(names []string) []string {
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	switch {
	case has["notebook"] || has["jupyter"]:
		return []string{"jupyter", "notebook", "--ip", "0.0.0.0"}
	case has["jupyterlab"]:
		return []string{"jupyter", "lab", "--ip", "0.0.0.0"}
	}
	return nil
}
