package wheel

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Requirements is what a pip requirements file (and the files it includes)
// asks for: top-level requirements, constraints and index options.
type Requirements struct {
	Requirements []Requirement
	Constraints  []Requirement
	// IndexURL replaces the default index (PyPI's simple API) when set.
	IndexURL       string
	ExtraIndexURLs []string
	// FindLinks are wheelhouse directories (absolute paths) or URLs of HTML pages with links.
	FindLinks []string
	NoIndex   bool
	Pre       bool
	// RequireHashes is pip's hash-checking mode: set by --require-hashes or by
	// any --hash option. Every requirement is then pinned with == and hashed.
	RequireHashes bool
}

// ParseOption changes how requirements files are read.
type ParseOption func(*parseConfig)

type parseConfig struct {
	getenv  func(string) (string, bool)
	baseDir string
}

// WithEnv sets how ${VAR} references in requirements files are expanded
// (os.LookupEnv by default, as pip does).
func WithEnv(lookup func(string) (string, bool)) ParseOption {
	return func(c *parseConfig) { c.getenv = lookup }
}

// WithBaseDir sets the directory that relative paths in a requirements text
// read by ParseRequirementsReader are resolved against.
func WithBaseDir(dir string) ParseOption {
	return func(c *parseConfig) { c.baseDir = dir }
}

// ParseRequirements reads a pip requirements file and the files it includes
// with -r and -c. Relative includes, --find-links directories and wheel paths
// are resolved against the including file's directory.
func ParseRequirements(path string, opts ...ParseOption) (*Requirements, error) {
	cfg := newParseConfig(opts)
	rs := &Requirements{}
	p := &reqParser{cfg: cfg, out: rs}
	if err := p.file(path, false, nil); err != nil {
		return nil, err
	}
	return rs, p.finish()
}

// ParseRequirementsReader reads requirements text (a Domino dependency group,
// say) named name in error messages.
func ParseRequirementsReader(name string, r io.Reader, opts ...ParseOption) (*Requirements, error) {
	cfg := newParseConfig(opts)
	rs := &Requirements{}
	p := &reqParser{cfg: cfg, out: rs}
	dir := cfg.baseDir
	if dir == "" {
		dir = "."
	}
	if err := p.parse(name, dir, r, false, nil); err != nil {
		return nil, err
	}
	return rs, p.finish()
}

func newParseConfig(opts []ParseOption) *parseConfig {
	cfg := &parseConfig{getenv: os.LookupEnv}
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

type reqParser struct {
	cfg      *parseConfig
	out      *Requirements
	hashSeen string // file:line of the first --hash, for the hash-mode error
}

type lineError struct {
	src string
	err error
}

func (e *lineError) Error() string { return e.src + ": " + e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

func (p *reqParser) file(path string, constraint bool, stack []string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("requirements file %s: %w", path, err)
	}
	for _, s := range stack {
		if s == abs {
			return fmt.Errorf("requirements file %s includes itself (through %s)", path, strings.Join(stack, " -> "))
		}
	}
	b, err := bounded.ReadFile(path, bounded.PackageList)
	if err != nil {
		return fmt.Errorf("reading requirements file: %w", err)
	}
	return p.parse(path, filepath.Dir(path), bytes.NewReader(b), constraint, append(stack, abs))
}

var (
	commentRE = lazyregexp.New(`(^|\s+)#.*$`)
	envVarRE  = lazyregexp.New(`\$\{([A-Z0-9_]+)\}`)
	// commentLineRE is pip's COMMENT_RE used with re.match: a comment line.
	commentLineRE = lazyregexp.New(`^\s*#`)
	vcsAtRE       = lazyregexp.New(`@\s*(git|hg|svn|bzr)\+`)
)

type logicalLine struct {
	n    int
	text string
}

// joinLines mirrors pip's join_lines: a trailing backslash continues a line,
// except on a comment line.
func joinLines(r io.Reader) ([]logicalLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var out []logicalLine
	var cur []string
	start := 0
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		isComment := commentLineRE.MatchString(line)
		if !strings.HasSuffix(line, `\`) || isComment {
			if isComment {
				line = " " + line
			}
			if cur != nil {
				cur = append(cur, line)
				out = append(out, logicalLine{start, strings.Join(cur, "")})
				cur = nil
			} else {
				out = append(out, logicalLine{n, line})
			}
			continue
		}
		if cur == nil {
			start = n
		}
		cur = append(cur, strings.TrimRight(line, `\`))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		out = append(out, logicalLine{start, strings.Join(cur, "")})
	}
	return out, nil
}

func (p *reqParser) parse(name, dir string, r io.Reader, constraint bool, stack []string) error {
	lines, err := joinLines(r)
	if err != nil {
		return fmt.Errorf("reading requirements file %s: %w", name, err)
	}
	for _, ll := range lines {
		src := fmt.Sprintf("%s:%d", name, ll.n)
		line := strings.TrimSpace(commentRE.ReplaceAllString(ll.text, ""))
		if line == "" {
			continue
		}
		var missing []string
		line = envVarRE.ReplaceAllStringFunc(line, func(m string) string {
			v, ok := p.cfg.getenv(m[2 : len(m)-1])
			if !ok {
				missing = append(missing, m)
				return m
			}
			return v
		})
		if len(missing) > 0 {
			return &lineError{src, fmt.Errorf("environment variable %s is not set", missing[0])}
		}
		if err := p.line(src, dir, line, constraint, stack); err != nil {
			var le *lineError
			if errors.As(err, &le) {
				return err
			}
			return &lineError{src, err}
		}
	}
	return nil
}

// breakArgsOptions splits a line as pip does: words up to the first one
// starting with "-" are the requirement, the rest are options.
func breakArgsOptions(line string) (string, string) {
	toks := strings.Split(line, " ")
	for i, t := range toks {
		if strings.HasPrefix(t, "-") {
			return strings.TrimSpace(strings.Join(toks[:i], " ")), strings.Join(toks[i:], " ")
		}
	}
	return strings.TrimSpace(line), ""
}

type reqOption struct {
	name  string
	value string
}

// optionSpec lists the options pip accepts in requirements files; true means
// the option takes a value.
var optionSpec = map[string]bool{
	"-r": true, "--requirement": true, "-c": true, "--constraint": true,
	"-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true,
	"--no-index": false, "--pre": false, "--require-hashes": false, "--prefer-binary": false,
	"--only-binary": true, "--no-binary": true, "--trusted-host": true, "--use-feature": true,
	"-e": true, "--editable": true, "--hash": true,
	"--config-settings": true, "--global-option": true, "--install-option": true,
}

var longAlias = map[string]string{"-r": "--requirement", "-c": "--constraint", "-i": "--index-url", "-f": "--find-links", "-e": "--editable"}

func parseOptions(s string) ([]reqOption, error) {
	words, err := shlexSplit(s)
	if err != nil {
		return nil, err
	}
	var out []reqOption
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, value, hasValue := w, "", false
		if strings.HasPrefix(w, "--") {
			if k, v, ok := strings.Cut(w, "="); ok {
				name, value, hasValue = k, v, true
			}
		} else if strings.HasPrefix(w, "-") && len(w) > 2 {
			name, value, hasValue = w[:2], w[2:], true
		} else if !strings.HasPrefix(w, "-") {
			return nil, fmt.Errorf("unexpected %q (a requirement must come before its options)", w)
		}
		takes, known := optionSpec[name]
		if !known {
			return nil, fmt.Errorf("unknown option %s", name)
		}
		if takes && !hasValue {
			if i+1 >= len(words) {
				return nil, fmt.Errorf("option %s needs a value", name)
			}
			i++
			value = words[i]
		} else if !takes && hasValue {
			return nil, fmt.Errorf("option %s takes no value", name)
		}
		if l, ok := longAlias[name]; ok {
			name = l
		}
		out = append(out, reqOption{name, value})
	}
	return out, nil
}

// shlexSplit splits words as POSIX shells do for quotes and backslashes.
func shlexSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func (p *reqParser) line(src, dir, line string, constraint bool, stack []string) error {
	args, optStr := breakArgsOptions(line)
	opts, err := parseOptions(optStr)
	if err != nil {
		return err
	}
	if args == "" {
		return p.options(src, dir, opts, constraint, stack)
	}
	req, err := parseRequirementArg(args, dir)
	if err != nil {
		return err
	}
	req.Source = src
	for _, o := range opts {
		switch o.name {
		case "--hash":
			algo, hexd, ok := strings.Cut(o.value, ":")
			if !ok {
				return fmt.Errorf("--hash %q: expected ALGORITHM:DIGEST, e.g. sha256:<hex>", o.value)
			}
			if algo != "sha256" {
				return fmt.Errorf("--hash %q: only sha256 hashes are supported (regenerate the hashes with sha256, e.g. pip-compile --generate-hashes)", o.value)
			}
			if b, err := hex.DecodeString(hexd); err != nil || len(b) != 32 {
				return fmt.Errorf("--hash %q: not a sha256 hex digest", o.value)
			}
			req.Hashes = append(req.Hashes, "sha256:"+strings.ToLower(hexd))
			if p.hashSeen == "" {
				p.hashSeen = src
			}
		case "--config-settings", "--global-option", "--install-option":
			return fmt.Errorf("option %s builds from source, which assemble does not do: build a wheel and add it to a wheelhouse (--find-links DIR)", o.name)
		default:
			return fmt.Errorf("option %s cannot follow a requirement on the same line; put it on its own line", o.name)
		}
	}
	if constraint {
		if len(req.Extras) > 0 {
			return fmt.Errorf("constraint %q has extras; constraints cannot have extras (put the extras in the requirements file)", args)
		}
		p.out.Constraints = append(p.out.Constraints, req)
	} else {
		p.out.Requirements = append(p.out.Requirements, req)
	}
	return nil
}

func (p *reqParser) options(src, dir string, opts []reqOption, constraint bool, stack []string) error {
	for _, o := range opts {
		switch o.name {
		case "--requirement", "--constraint":
			if isURL(o.value) {
				return fmt.Errorf("%s %s: including requirements files by URL is not supported; copy the file into the repository", o.name, o.value)
			}
			path := o.value
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			// A file included with -r inside a constraints file holds constraints too.
			if err := p.file(path, constraint || o.name == "--constraint", stack); err != nil {
				var le *lineError
				if errors.As(err, &le) {
					return err
				}
				return &lineError{src, err}
			}
		case "--index-url":
			p.out.IndexURL = o.value
		case "--extra-index-url":
			p.out.ExtraIndexURLs = appendUnique(p.out.ExtraIndexURLs, o.value)
		case "--find-links":
			fl := o.value
			if !isURL(fl) {
				if strings.HasPrefix(fl, "file:") {
					if u, err := url.Parse(fl); err == nil {
						fl = u.Path
					}
				}
				if !filepath.IsAbs(fl) {
					fl = filepath.Join(dir, fl)
				}
				fl = filepath.Clean(fl)
			}
			p.out.FindLinks = appendUnique(p.out.FindLinks, fl)
		case "--no-index":
			p.out.NoIndex = true
		case "--pre":
			p.out.Pre = true
		case "--require-hashes":
			p.out.RequireHashes = true
			if p.hashSeen == "" {
				p.hashSeen = src
			}
		case "--prefer-binary", "--trusted-host", "--use-feature":
			// Wheels are always preferred (only wheels are installed); TLS
			// trust comes from the system; features are pip's own.
		case "--only-binary":
		case "--no-binary":
			if o.value != ":none:" {
				return fmt.Errorf("--no-binary %s asks pip to build from source, which assemble does not do: remove it and use wheels", o.value)
			}
		case "--editable":
			return editableError(o.value)
		case "--hash":
			return errors.New("--hash must follow a requirement on the same line")
		default:
			return fmt.Errorf("option %s must follow a requirement on the same line", o.name)
		}
	}
	return nil
}

func editableError(v string) error {
	return fmt.Errorf("editable install -e %s is not supported: assemble installs wheels only; build a wheel (pip wheel %s -w wheelhouse) and add --find-links wheelhouse, or copy the source into the image and add it to PYTHONPATH", v, v)
}

func (p *reqParser) finish() error {
	if p.hashSeen == "" {
		return nil
	}
	p.out.RequireHashes = true
	for _, r := range p.out.Requirements {
		if len(r.Hashes) == 0 {
			return fmt.Errorf("%s: %s has no --hash, but hash-checking mode is on (from %s): give every requirement its --hash=sha256:<hex>", r.Source, r.Name, p.hashSeen)
		}
		if r.URL == "" && !r.Specifier.IsPinned() {
			return fmt.Errorf("%s: %s is not pinned with ==, but hash-checking mode is on (from %s): pin every requirement to one version", r.Source, r.Name, p.hashSeen)
		}
	}
	return nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

var vcsPrefixes = []string{"git+", "hg+", "svn+", "bzr+"}

func isVCS(s string) bool {
	for _, p := range vcsPrefixes {
		if strings.HasPrefix(strings.ToLower(s), p) {
			return true
		}
	}
	return false
}

var sourceExts = []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip"}

func isSourceArchive(s string) bool {
	s = strings.ToLower(s)
	for _, e := range sourceExts {
		if strings.HasSuffix(s, e) {
			return true
		}
	}
	return false
}

// parseRequirementArg turns the requirement part of a line into a
// Requirement, refusing what pip would build from source.
func parseRequirementArg(arg, dir string) (Requirement, error) {
	if isVCS(arg) || vcsAtRE.MatchString(arg) {
		return Requirement{}, fmt.Errorf("VCS requirement %q is not supported: assemble installs released wheels; pin a released version, or build a wheel (pip wheel URL -w wheelhouse) and add --find-links wheelhouse", arg)
	}
	// A bare URL or path (pip's "unnamed requirement").
	if u, err := url.Parse(arg); err == nil && u.Scheme != "" && u.Host != "" || strings.HasPrefix(arg, "file:") {
		return directWheel(arg, "", dir)
	}
	if looksLikePath(arg) {
		return directWheel(arg, "", dir)
	}
	r, err := ParseRequirement(arg)
	if err != nil {
		return r, err
	}
	if r.URL != "" {
		d, err := directWheel(r.URL, r.Name, dir)
		if err != nil {
			return r, err
		}
		r.URL = d.URL
	}
	return r, nil
}

func looksLikePath(s string) bool {
	if strings.Contains(s, "@") || strings.ContainsAny(s, "<>=!~;[") {
		return false
	}
	return strings.Contains(s, "/") || strings.HasPrefix(s, ".") || strings.HasSuffix(strings.ToLower(s), ".whl") || isSourceArchive(s)
}

// directWheel accepts a wheel by URL or path; anything else would be built
// from source by pip.
func directWheel(ref, name, dir string) (Requirement, error) {
	loc := ref
	isRemote := isURL(ref)
	if !isRemote {
		p, frag := ref, ""
		if strings.HasPrefix(ref, "file:") {
			u, err := url.Parse(ref)
			if err != nil {
				return Requirement{}, fmt.Errorf("bad file URL %q: %w", ref, err)
			}
			p, frag = u.Path, u.Fragment
		} else if strings.Contains(ref, "://") {
			return Requirement{}, fmt.Errorf("URL %q: only http, https and file URLs are supported", ref)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		loc = (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Clean(p)), Fragment: frag}).String()
	}
	u, err := url.Parse(loc)
	if err != nil {
		return Requirement{}, fmt.Errorf("bad URL %q: %w", ref, err)
	}
	base := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	if !strings.HasSuffix(strings.ToLower(base), ".whl") {
		what := "local source path"
		if isRemote {
			what = "source archive URL"
		} else if isSourceArchive(base) {
			what = "local source archive"
		}
		return Requirement{}, fmt.Errorf("%s %q is not supported: assemble installs wheels without running a build; build a wheel (pip wheel %s -w wheelhouse) and add --find-links wheelhouse", what, ref, ref)
	}
	wf, err := ParseWheelFilename(base)
	if err != nil {
		return Requirement{}, err
	}
	if name != "" && NormalizeName(name) != NormalizeName(wf.Name) {
		return Requirement{}, fmt.Errorf("requirement %s points at wheel %s of another project (%s)", name, base, wf.Name)
	}
	if name == "" {
		name = wf.Name
	}
	return Requirement{Name: name, URL: loc}, nil
}
