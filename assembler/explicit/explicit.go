// Package explicit reads assemble.toml, the convention in which a repository
// says plainly what to build.
package explicit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// FileName is the file this convention reads, at the repository root.
const FileName = "assemble.toml"

// Name is the convention's name in plans.
const Name = "assemble.toml"

type file struct {
	Debian *debian `toml:"debian"`
	Image  []image `toml:"image"`
}

type debian struct {
	Mirror     string   `toml:"mirror"`
	Suite      string   `toml:"suite"`
	Components []string `toml:"components"`
	Keyring    string   `toml:"keyring"`
	LocalDir   string   `toml:"local_dir"`
}

type image struct {
	Name        string            `toml:"name"`
	Tags        []string          `toml:"tags"`
	Base        string            `toml:"base"`
	Platforms   []string          `toml:"platforms"`
	Config      config            `toml:"config"`
	Annotations map[string]string `toml:"annotations"`
	Layer       []layer           `toml:"layer"`
}

type config struct {
	Env        map[string]string `toml:"env"`
	User       string            `toml:"user"`
	Workdir    string            `toml:"workdir"`
	Entrypoint []string          `toml:"entrypoint"`
	Cmd        []string          `toml:"cmd"`
	Labels     map[string]string `toml:"labels"`
	Ports      []string          `toml:"ports"`
	Volumes    []string          `toml:"volumes"`
	StopSignal string            `toml:"stop_signal"`
}

type layer struct {
	Type    string `toml:"type"`
	Comment string `toml:"comment"`
	// files
	Dir        string   `toml:"dir"`
	Dest       string   `toml:"dest"`
	Include    []string `toml:"include"`
	Exclude    []string `toml:"exclude"`
	Owner      string   `toml:"owner"`
	IgnoreFile *bool    `toml:"ignore_file"`
	// deb
	Packages []string `toml:"packages"`
	Apt      []string `toml:"apt"`
	// python
	Requirements []string `toml:"requirements"`
	IndexURL     string   `toml:"index_url"`
	ExtraIndex   []string `toml:"extra_index_urls"`
	FindLinks    []string `toml:"find_links"`
	NoIndex      bool     `toml:"no_index"`
	Interpreter  string   `toml:"interpreter"`
}

// Detect reports whether dir has an assemble.toml.
func Detect(dir string) (bool, string) {
	if fi, err := os.Stat(filepath.Join(dir, FileName)); err == nil && fi.Mode().IsRegular() {
		return true, FileName + " at the repository root"
	}
	return false, ""
}

// Load reads dir/assemble.toml into a plan. Every problem names the file and,
// where it can, the line.
func Load(dir string) (*plan.Plan, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, FileName)
	src, err := bounded.ReadFile(path, bounded.Config)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var f file
	md, err := toml.Decode(string(src), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s (fix the TOML syntax on that line)", path, pe.Position.Line, pe.Message)
		}
		if te, ok := typeError(path, err, newLocator(src)); ok {
			return nil, te
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := newLocator(src)
	if und := md.Undecoded(); len(und) > 0 {
		var msgs []string
		for _, k := range und {
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q (check its spelling; see `assemble build --help` for the format)", path, lines.key(k), k.String()))
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	if len(f.Image) == 0 {
		return nil, fmt.Errorf("%s: no [[image]] table: declare at least one image", path)
	}
	p := &plan.Plan{Convention: Name, Reason: FileName + " at the repository root", Root: root}
	if f.Debian != nil {
		p.Debian = &plan.Debian{Mirror: f.Debian.Mirror, Suite: f.Debian.Suite, Components: f.Debian.Components, Keyring: f.Debian.Keyring, LocalDir: f.Debian.LocalDir}
	}
	var problems []string
	names := map[string]bool{}
	for i, im := range f.Image {
		at := fmt.Sprintf("%s:%d", path, lines.table("image", i))
		img, errs := convertImage(root, path, at, im, i, lines)
		problems = append(problems, errs...)
		if names[img.Name] {
			problems = append(problems, fmt.Sprintf("%s: image name %q is declared twice", at, img.Name))
		}
		names[img.Name] = true
		p.Images = append(p.Images, img)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return p, nil
}

var refNameRE = lazyregexp.New(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
var tagRE = lazyregexp.New(`^[\w][\w.-]{0,127}$`)

func convertImage(root, path, at string, im image, index int, lines *locator) (plan.Image, []string) {
	var problems []string
	img := plan.Image{
		Name:        im.Name,
		Tags:        im.Tags,
		Base:        im.Base,
		Platforms:   im.Platforms,
		Annotations: im.Annotations,
		Source:      at,
	}
	if img.Name == "" {
		problems = append(problems, fmt.Sprintf("%s: image has no name: add name = \"myimage\"", at))
	} else if !refNameRE.MatchString(img.Name) {
		problems = append(problems, fmt.Sprintf("%s: image name %q is not a valid image reference (lower-case letters, digits, '.', '_', '-', '/' and a registry host)", at, img.Name))
	}
	if len(img.Tags) == 0 {
		img.Tags = []string{"latest"}
	}
	for _, t := range img.Tags {
		if !tagRE.MatchString(t) {
			problems = append(problems, fmt.Sprintf("%s: tag %q is not a valid tag (letters, digits, '_', '.', '-'; at most 128)", at, t))
		}
	}
	if img.Base == "" {
		img.Base = "scratch"
	}
	c := im.Config
	img.Config = plan.Config{
		User: c.User, WorkingDir: c.Workdir, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		Labels: c.Labels, ExposedPorts: c.Ports, Volumes: c.Volumes, StopSignal: c.StopSignal,
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		img.Config.Env = append(img.Config.Env, k+"="+c.Env[k])
	}
	for _, port := range c.Ports {
		if !validPort(port) {
			problems = append(problems, fmt.Sprintf("%s: port %q: use NUMBER or NUMBER/tcp or NUMBER/udp", at, port))
		}
	}
	for j, l := range im.Layer {
		lat := fmt.Sprintf("%s:%d", path, lines.table("image.layer", lines.layerOrdinal(index, j)))
		pl, errs := convertLayer(root, lat, l)
		problems = append(problems, errs...)
		img.Layers = append(img.Layers, pl)
	}
	return img, problems
}

func convertLayer(root, at string, l layer) (plan.Layer, []string) {
	var problems []string
	typ := l.Type
	if typ == "" {
		typ = plan.KindFiles
	}
	pl := plan.Layer{Kind: typ, Source: at, Comment: l.Comment}
	switch typ {
	case plan.KindFiles:
		fl := &plan.FilesLayer{Dir: l.Dir, Dest: l.Dest, Include: l.Include, Exclude: l.Exclude}
		if fl.Dir == "" {
			fl.Dir = "."
		}
		if fl.Dest == "" {
			fl.Dest = "/"
		}
		if !strings.HasPrefix(fl.Dest, "/") {
			problems = append(problems, fmt.Sprintf("%s: dest %q must be an absolute image path (\"/app\")", at, fl.Dest))
		}
		if l.IgnoreFile != nil && !*l.IgnoreFile {
			fl.NoIgnoreFile = true
		}
		if l.Owner != "" {
			uid, gid, err := parseOwner(l.Owner)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: owner %q: %v", at, l.Owner, err))
			}
			fl.UID, fl.GID = uid, gid
		}
		if msg := checkDir(root, fl.Dir); msg != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", at, msg))
		}
		pl.Files = fl
	case plan.KindDeb:
		dl := &plan.DebLayer{}
		for _, name := range l.Packages {
			dl.Packages = append(dl.Packages, plan.Package{Name: name, Where: at})
		}
		for _, apt := range l.Apt {
			pkgs, err := readAptTxt(filepath.Join(root, apt), apt)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", at, err))
			}
			dl.Packages = append(dl.Packages, pkgs...)
		}
		if len(dl.Packages) == 0 {
			problems = append(problems, fmt.Sprintf("%s: a deb layer needs packages = [...] or apt = [\"apt.txt\"]", at))
		}
		pl.Deb = dl
	case plan.KindPython:
		if len(l.Requirements) == 0 {
			problems = append(problems, fmt.Sprintf("%s: a python layer needs requirements = [\"requirements.txt\"]", at))
		}
		for _, r := range l.Requirements {
			if msg := checkFile(root, r); msg != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", at, msg))
			}
		}
		pl.Python = &plan.PythonLayer{Requirements: l.Requirements, IndexURL: l.IndexURL, ExtraIndex: l.ExtraIndex, FindLinks: l.FindLinks, NoIndex: l.NoIndex, Interpreter: l.Interpreter}
	default:
		problems = append(problems, fmt.Sprintf("%s: unknown layer type %q: use \"files\", \"deb\" or \"python\"", at, typ))
	}
	if typ != plan.KindFiles && (l.Dir != "" || l.Dest != "" || l.Owner != "" || len(l.Include) > 0 || len(l.Exclude) > 0) {
		problems = append(problems, fmt.Sprintf("%s: dir, dest, owner, include and exclude belong to files layers, not %q", at, typ))
	}
	return pl, problems
}

// readAptTxt reads an apt.txt: one package a line, # comments, blank lines.
func readAptTxt(path, rel string) ([]plan.Package, error) {
	b, err := bounded.ReadFile(path, bounded.PackageList)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	var out []plan.Package
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, name := range strings.Fields(line) {
			out = append(out, plan.Package{Name: name, Where: fmt.Sprintf("%s:%d", path, n)})
		}
	}
	return out, sc.Err()
}

func parseOwner(s string) (int, int, error) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		g = u
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, errors.New("use numeric UID:GID, e.g. \"1000:1000\"")
	}
	return uid, gid, nil
}

func validPort(p string) bool {
	num, proto, ok := strings.Cut(p, "/")
	if ok && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return false
	}
	n, err := strconv.Atoi(num)
	return err == nil && n > 0 && n < 65536
}

// checkDir says what is wrong with a layer directory, or "".
func checkDir(root, rel string) string {
	p, msg := inside(root, rel)
	if msg != "" {
		return msg
	}
	if _, err := os.Lstat(p); err != nil {
		return fmt.Sprintf("dir %q does not exist in the repository (%s): create it or fix the path", rel, p)
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		rr, _ := filepath.EvalSymlinks(root)
		if r, err := filepath.Rel(rr, real); err != nil || r == ".." || strings.HasPrefix(r, "../") {
			return fmt.Sprintf("dir %q leads outside the repository through a symlink (%s)", rel, real)
		}
	}
	return ""
}

func checkFile(root, rel string) string {
	p, msg := inside(root, rel)
	if msg != "" {
		return msg
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return fmt.Sprintf("file %q does not exist in the repository (%s)", rel, p)
	}
	return ""
}

func inside(root, rel string) (string, string) {
	if filepath.IsAbs(rel) {
		return "", fmt.Sprintf("path %q must be relative to the repository root", rel)
	}
	p := filepath.Join(root, rel)
	if r, err := filepath.Rel(root, p); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Sprintf("path %q leaves the repository", rel)
	}
	return p, ""
}

// locator finds the lines of tables and keys in the source, since the TOML
// decoder reports positions only for syntax errors.
type locator struct {
	lines []string
}

func newLocator(src []byte) *locator {
	return &locator{lines: strings.Split(string(src), "\n")}
}

// table returns the line of the n-th (0-based) [[name]] header, or 0.
func (l *locator) table(name string, n int) int {
	re := regexp.MustCompile(`^\s*\[\[\s*` + regexp.QuoteMeta(name) + `\s*\]\]`)
	seen := 0
	for i, line := range l.lines {
		if re.MatchString(line) {
			if seen == n {
				return i + 1
			}
			seen++
		}
	}
	return 0
}

// layerOrdinal turns (image i, layer j) into the ordinal of the
// [[image.layer]] header across the file.
func (l *locator) layerOrdinal(img, layer int) int {
	imgRE := regexp.MustCompile(`^\s*\[\[\s*image\s*\]\]`)
	layRE := regexp.MustCompile(`^\s*\[\[\s*image\.layer\s*\]\]`)
	curImg, ord := -1, 0
	for _, line := range l.lines {
		switch {
		case imgRE.MatchString(line):
			curImg++
		case layRE.MatchString(line):
			if curImg == img {
				if layer == 0 {
					return ord
				}
				layer--
			}
			ord++
		}
	}
	return ord
}

// key returns the line where the last component of k is defined, or 1.
func (l *locator) key(k toml.Key) int {
	last := k[len(k)-1]
	assign := regexp.MustCompile(`^\s*("?)` + regexp.QuoteMeta(last) + `("?)\s*=`)
	header := regexp.MustCompile(`^\s*\[\[?\s*[^\]]*\b` + regexp.QuoteMeta(last) + `\s*\]\]?`)
	for i, line := range l.lines {
		if assign.MatchString(line) || header.MatchString(line) {
			return i + 1
		}
	}
	return 1
}
