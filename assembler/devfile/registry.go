package devfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/lazyregexp"
	"go.yaml.in/yaml/v3"
)

// File names of a devfile registry repository.
const (
	StacksDir           = "stacks"
	SamplesDir          = "samples"
	StackFile           = "stack.yaml"
	DevfileName         = "devfile.yaml"
	HiddenDevfileName   = ".devfile.yaml"
	ExtraEntriesFile    = "extraDevfileEntries.yaml"
	LastModifiedFile    = "last_modified.json"
	IndexFile           = "index.json"
	ArchiveName         = "archive.tar"
	ownersFile          = "OWNERS"
	metaFile            = "meta.yaml"
	catalogPrefix       = "devfile-catalog"
	stackType           = "stack"
	sampleType          = "sample"
	deploymentInnerLoop = "innerloop"
	deploymentOuterLoop = "outerloop"
)

var (
	tagRe = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// repoComponentRe is one path component of an OCI repository name: a
	// stack directory becomes devfile-catalog/<dir>.
	repoComponentRe = lazyregexp.New(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
)

// registry is a devfile registry repository as read from disk.
type registry struct {
	root     string // absolute
	stacks   []*stack
	extra    extraEntries
	lastMod  lastModified
	index    []entry
	where    []loc // where each index entry was declared
	problems problems
	log      *slog.Logger
}

// loc is a place in the repository, for problems.
type loc struct {
	file string
	line int
}

// stack is one directory under stacks/.
type stack struct {
	dir      string // directory name
	rel      string // "stacks/<dir>"
	multi    bool   // has a stack.yaml
	item     entry
	versions []*stackVersion // in index order (newest first)
}

// where names the file that declares the stack: stack.yaml, or the devfile.
func (st *stack) where() loc {
	if st.multi || len(st.versions) == 0 {
		return loc{file: st.rel + "/" + StackFile}
	}
	return loc{file: st.versions[0].rel + "/" + st.versions[0].devfile}
}

// stackVersion is one devfile of a stack and the files pushed with it.
type stackVersion struct {
	rel       string // directory, relative to the root ("stacks/go/2.1.0" or "stacks/nodejs")
	devfile   string // DevfileName or HiddenDevfileName
	verLine   int    // line of metadata.version in the devfile
	info      version
	resources []string // index resources: kept files plus archive.tar
	packed    []string // top-level names packed into archive.tar, sorted
	archive   []byte   // the gzip-compressed archive.tar, when packed is not empty
}

// read loads and validates the registry at root. Problems are collected in
// r.problems; the error is for I/O failures only.
func read(root string, o *options) (*registry, error) {
	r := &registry{root: root, log: o.logger}
	stacksPath := filepath.Join(root, StacksDir)
	ents, err := os.ReadDir(stacksPath)
	if err != nil {
		return nil, fmt.Errorf("failed to read stack directory %s: %w", stacksPath, err)
	}
	if err := r.readLastModified(); err != nil {
		return nil, err
	}
	for _, de := range ents { // os.ReadDir sorts by name, as the generator's does
		if !de.IsDir() {
			continue
		}
		st, err := r.readStack(de.Name())
		if err != nil {
			return nil, err
		}
		if st != nil {
			r.stacks = append(r.stacks, st)
			r.index = append(r.index, st.item)
			r.where = append(r.where, st.where())
		}
	}
	if err := r.readExtra(); err != nil {
		return nil, err
	}
	if o.checkIcons {
		r.checkIcons(o)
	}
	return r, nil
}

func (r *registry) readFile(rel string) ([]byte, error) {
	p, err := r.resolve(rel)
	if err != nil {
		return nil, err
	}
	b, err := bounded.ReadFile(p, bounded.Config)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	return b, nil
}

// resolve returns the real path of rel, refusing paths and symlinks that
// lead outside the repository.
func (r *registry) resolve(rel string) (string, error) {
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(filepath.ToSlash(rel), "../") {
		return "", &fileError{rel, "the path is outside the repository"}
	}
	p, err := filepath.EvalSymlinks(filepath.Join(r.root, filepath.FromSlash(rel)))
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", rel, err)
	}
	rootReal, err := filepath.EvalSymlinks(r.root)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", r.root, err)
	}
	if p != rootReal && !strings.HasPrefix(p, rootReal+string(filepath.Separator)) {
		return "", &fileError{rel, fmt.Sprintf("leads outside the repository (to %s): registry-support's index generator follows the link, "+
			"but what is pushed must come from the repository alone, or the same commit would push different artifacts on another machine, so assemble refuses it: copy the file in instead of linking it", p)}
	}
	return p, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func (r *registry) readLastModified() error {
	b, err := bounded.ReadFile(filepath.Join(r.root, LastModifiedFile), bounded.GeneratedMap)
	if errors.Is(err, fs.ErrNotExist) {
		// The current index generator fails without it; assemble goes on,
		// but the index then carries no real dates, which should be seen.
		r.log.Warn("devfile: no "+LastModifiedFile+": every lastModified in the index will be empty (0001-01-01T00:00:00Z); "+
			"the registry's own build makes the file with .ci/generate_last_mod_file.sh, which takes each stack's and sample's last commit date (git log -1 --format=%aI -- <dir>)",
			"root", r.root)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", LastModifiedFile, err)
	}
	if err := json.Unmarshal(b, &r.lastMod); err != nil {
		line := 0
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line = 1 + strings.Count(string(b[:min(int(se.Offset), len(b))]), "\n")
		case errors.As(err, &te):
			line = 1 + strings.Count(string(b[:min(int(te.Offset), len(b))]), "\n")
		}
		r.problems.add(LastModifiedFile, line, "%v (expected {\"stacks\":[{\"name\",\"version\",\"lastModified\":\"RFC 3339 time\"}],\"samples\":[...]})", err)
	}
	return nil
}

// readStack reads stacks/<dir>: a single-version stack (a devfile in the
// directory) or a multi-version one (stack.yaml and version directories).
func (r *registry) readStack(dir string) (*stack, error) {
	st := &stack{dir: dir, rel: StacksDir + "/" + dir}
	before := len(r.problems.List)
	if !repoComponentRe.MatchString(dir) {
		rename := "use lower-case letters, digits, '.', '_' and '-'"
		if l := strings.ToLower(dir); repoComponentRe.MatchString(l) {
			rename = fmt.Sprintf("rename it %s", l)
		}
		r.problems.add(st.rel, 0, "stack directory name %q cannot be an OCI repository name (devfile-catalog/%s): %s, "+
			"but the stack is pushed under its directory name and an OCI repository name must be lower-case letters, digits, '.', '_' and '-', so assemble cannot push it: %s",
			dir, dir, generatorAccepts, rename)
	}
	abs := filepath.Join(r.root, StacksDir, dir)
	if !exists(filepath.Join(abs, StackFile)) {
		st.item.Type = stackType
		v := &stackVersion{rel: st.rel, info: version{Default: true}}
		if !r.readVersion(st, v) {
			return nil, nil
		}
		st.versions = append(st.versions, v)
		st.item.Versions = []version{v.info}
		r.finishStack(st, before)
		return st, nil
	}
	st.multi = true
	stackRel := st.rel + "/" + StackFile
	src, err := r.readFile(stackRel)
	if err != nil {
		r.problems.addErr(stackRel, err)
		return nil, nil
	}
	top := r.problems.parseYAML(stackRel, src)
	if top == nil {
		return nil, nil
	}
	var info entry
	if !r.problems.decode(stackRel, top, &info) {
		return nil, nil
	}
	r.checkStackYAML(stackRel, top, &info)
	st.item = info
	st.item.Type = stackType
	st.item.Versions = nil
	vs := append([]version(nil), info.Versions...)
	sortVersionsDescending(vs)
	for _, sv := range vs {
		if sv.Git != nil {
			r.log.Warn("devfile: stack version with a git reference skipped (the index generator does not support them)", "stack", dir, "version", sv.Version)
			continue
		}
		if sv.Version == "" || !semverRe.MatchString(sv.Version) || !exists(filepath.Join(abs, sv.Version)) {
			continue // reported by checkStackYAML
		}
		v := &stackVersion{rel: st.rel + "/" + sv.Version, info: version{Default: sv.Default}}
		if !r.readVersion(st, v) {
			continue
		}
		if v.info.Version != sv.Version {
			r.problems.add(v.rel+"/"+v.devfile, v.verLine, "metadata.version %q does not match its directory %s listed in stack.yaml: %s and indexes the version as %s, "+
				"but the registry looks for its files in stacks/%s/%s/, so assemble cannot push devfile-catalog/%s:%s from them: make metadata.version and the directory the same",
				v.info.Version, sv.Version, generatorAccepts, v.info.Version, dir, v.info.Version, dir, v.info.Version)
		}
		st.versions = append(st.versions, v)
		st.item.Versions = append(st.item.Versions, v.info)
	}
	// Any version without architectures supports them all, and so does the stack.
	for _, v := range st.item.Versions {
		if len(v.Architectures) == 0 {
			st.item.Architectures = nil
			break
		}
	}
	r.finishStack(st, before)
	return st, nil
}

// checkStackYAML applies validateStackInfo's rules (all reported at once)
// and rejects versions the generator's sort cannot parse.
func (r *registry) checkStackYAML(file string, top *yaml.Node, info *entry) {
	for _, f := range []string{"name", "displayName", "icon"} {
		if str(top, f) == "" {
			r.problems.add(file, 0, "%s is not set in stack.yaml", f)
		}
	}
	vnodes := items(top, "versions")
	if len(info.Versions) == 0 {
		r.problems.add(file, keyLine(top, "versions"), "versions list is not set in stack.yaml, or is empty")
	}
	firstDefault := 0
	seen := map[string]int{}
	for i, v := range info.Versions {
		line := 0
		if i < len(vnodes) {
			line = vnodes[i].Line
		}
		if v.Default {
			if firstDefault == 0 {
				firstDefault = line
			} else {
				r.problems.add(file, line, "stack.yaml has multiple default versions (the first is at line %d): keep default: true on one", firstDefault)
			}
		}
		switch {
		case v.Version == "":
			r.problems.add(file, line, "a version has no version number")
			continue
		case !semverRe.MatchString(v.Version):
			r.problems.add(file, line, "version %q is not MAJOR.MINOR.PATCH (the index generator sorts versions by these numbers)", v.Version)
			continue
		}
		if prev, ok := seen[v.Version]; ok {
			r.problems.add(file, line, "version %s is listed twice (first at line %d): %s and indexes it twice, but both would be pushed as the one tag %s/%s:%s, so assemble cannot push them: keep one entry",
				v.Version, prev, generatorAccepts, catalogPrefix, path.Base(path.Dir(file)), v.Version)
		}
		seen[v.Version] = line
		if v.Git == nil {
			dir := path.Join(path.Dir(file), v.Version)
			fi, err := os.Stat(filepath.Join(r.root, filepath.FromSlash(dir)))
			if err != nil || !fi.IsDir() {
				r.problems.add(file, line, "cannot find resource folder for version %s defined in stack.yaml: create %s/ with its devfile.yaml", v.Version, dir)
			}
		}
	}
	if len(info.Versions) > 0 && firstDefault == 0 {
		r.problems.add(file, keyLine(top, "versions"), "stack.yaml does not contain a default version: add default: true to one version")
	}
	r.checkDeploymentScopes(file, keyLine(top, "deploymentScopes"), info.DeploymentScopes)
}

// checkDeploymentScopes applies the index schema's rule for
// deploymentScopes, which the generator itself never checks (neither in
// stack.yaml nor in extraDevfileEntries.yaml).
func (r *registry) checkDeploymentScopes(file string, line int, m map[string]bool) {
	const why = "registry-support's index generator does not check deploymentScopes and would copy it into index.json, " +
		"but the index schema has two scopes only and clients filter stacks and samples by them, so a misspelt scope would silently match nothing; assemble refuses it"
	if len(m) > 2 {
		r.problems.add(file, line, "deploymentScopes has %d keys; at most 2 (innerloop, outerloop) are allowed: %s: keep innerloop and outerloop only", len(m), why)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if k != deploymentInnerLoop && k != deploymentOuterLoop {
			r.problems.add(file, line, "deploymentScopes key %q must be innerloop or outerloop: %s: rename or remove it", k, why)
		}
	}
}

// devfileDoc is the part of a devfile the index reads.
type devfileDoc struct {
	SchemaVersion   string          `yaml:"schemaVersion"`
	Metadata        devfileMetadata `yaml:"metadata"`
	StarterProjects []struct {
		Name string `yaml:"name"`
	} `yaml:"starterProjects"`
	Commands []struct {
		Exec      struct{ Group struct{ Kind string } } `yaml:"exec"`
		Apply     struct{ Group struct{ Kind string } } `yaml:"apply"`
		Composite struct{ Group struct{ Kind string } } `yaml:"composite"`
	} `yaml:"commands"`
}

// devfileMetadata is a devfile's metadata as the index reads it.
type devfileMetadata struct {
	Name          string   `yaml:"name"`
	Version       string   `yaml:"version"`
	DisplayName   string   `yaml:"displayName"`
	Description   string   `yaml:"description"`
	Tags          []string `yaml:"tags"`
	Architectures []string `yaml:"architectures"`
	Icon          string   `yaml:"icon"`
	ProjectType   string   `yaml:"projectType"`
	Language      string   `yaml:"language"`
	Provider      string   `yaml:"provider"`
	SupportURL    string   `yaml:"supportUrl"`
}

var groupOrder = []string{"build", "run", "test", "debug", "deploy"}

// readVersion reads the devfile of v and its files (parseStackDevfile).
// It returns false when the version cannot be used at all.
func (r *registry) readVersion(st *stack, v *stackVersion) bool {
	abs := filepath.Join(r.root, filepath.FromSlash(v.rel))
	doc, ok := r.readDevfile(v, abs)
	if !ok {
		return false
	}
	fillStackItem(&st.item, doc.Metadata)
	info := versionInfo(st, v, doc)
	// The stack's tags are its default version's; its architectures, every version's.
	item := &st.item
	if info.Default {
		for _, t := range info.Tags {
			if !inList(item.Tags, t) {
				item.Tags = append(item.Tags, t)
			}
		}
	}
	for _, a := range info.Architectures {
		if !inList(item.Architectures, a) {
			item.Architectures = append(item.Architectures, a)
		}
	}
	if err := r.readResources(v, abs); err != nil {
		r.problems.addErr(v.rel, err)
		return false
	}
	info.Resources = v.resources
	v.info = info
	return true
}

// readDevfile finds the version's devfile (devfile.yaml or .devfile.yaml,
// not both), parses and checks it.
func (r *registry) readDevfile(v *stackVersion, abs string) (*devfileDoc, bool) {
	plain, hidden := exists(filepath.Join(abs, DevfileName)), exists(filepath.Join(abs, HiddenDevfileName))
	switch {
	case plain && hidden:
		r.problems.add(v.rel, 0, "both %s and %s exist: keep one", DevfileName, HiddenDevfileName)
		return nil, false
	case hidden:
		v.devfile = HiddenDevfileName
	case plain:
		v.devfile = DevfileName
	default:
		r.problems.add(v.rel, 0, "no %s: every stack (or stack version directory) needs one", DevfileName)
		return nil, false
	}
	file := v.rel + "/" + v.devfile
	src, err := r.readFile(file)
	if err != nil {
		r.problems.addErr(file, err)
		return nil, false
	}
	top := r.problems.parseYAML(file, src)
	if top == nil {
		return nil, false
	}
	r.problems.checkDevfile(file, top, true)
	v.verLine = keyLine(get(top, "metadata"), "version")
	var doc devfileDoc
	if !r.problems.decode(file, top, &doc) {
		return nil, false
	}
	return &doc, true
}

// fillStackItem takes the stack's index fields from the first version that
// has each.
func fillStackItem(item *entry, md devfileMetadata) {
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&item.ProjectType, md.ProjectType}, {&item.Language, md.Language}, {&item.Provider, md.Provider},
		{&item.SupportURL, md.SupportURL}, {&item.Name, md.Name}, {&item.DisplayName, md.DisplayName},
		{&item.Description, md.Description}, {&item.Icon, md.Icon},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
}

// versionInfo is the version's index entry: its metadata, the command
// groups it has (every group listed, in the index's order) and its starter
// projects.
func versionInfo(st *stack, v *stackVersion, doc *devfileDoc) version {
	md := doc.Metadata
	info := version{
		Version:       md.Version,
		SchemaVersion: doc.SchemaVersion,
		Default:       v.info.Default,
		Description:   md.Description,
		Tags:          md.Tags,
		Architectures: md.Architectures,
		Icon:          md.Icon,
		Links:         map[string]string{"self": fmt.Sprintf("%s/%s:%s", catalogPrefix, st.dir, md.Version)},
		CommandGroups: map[string]bool{},
	}
	for _, k := range groupOrder {
		info.CommandGroups[k] = false
	}
	for _, c := range doc.Commands {
		for _, k := range []string{c.Exec.Group.Kind, c.Apply.Group.Kind, c.Composite.Group.Kind} {
			if k != "" {
				info.CommandGroups[k] = true
			}
		}
	}
	for _, sp := range doc.StarterProjects {
		info.StarterProjects = append(info.StarterProjects, sp.Name)
	}
	return info
}

// Files the registry build leaves beside the devfile; everything else at
// the top of a version directory goes into archive.tar (build.sh's
// tar_files_and_cleanup).
func keptByBuild(name string) bool {
	switch name {
	case DevfileName, HiddenDevfileName, metaFile, "logo.svg", "logo.png", ownersFile, ArchiveName:
		return true
	}
	return strings.HasSuffix(name, ".vsx") || strings.HasSuffix(name, ".zip")
}

// readResources works out what the registry build leaves in the version
// directory and packs the rest into archive.tar.
func (r *registry) readResources(v *stackVersion, abs string) error {
	ents, err := os.ReadDir(abs)
	if err != nil {
		return fmt.Errorf("reading %s: %w", v.rel, err)
	}
	hasArchive := false
	for _, de := range ents {
		name := de.Name()
		// A multi-version stack's version directories never hold other versions;
		// a single-version stack's directory is packed whole.
		if keptByBuild(name) {
			if de.IsDir() {
				r.problems.add(v.rel+"/"+name, 0, "%s is a directory, but the registry expects a file by that name", name)
				continue
			}
			if name == ArchiveName {
				hasArchive = true
			}
			if name == ownersFile {
				continue
			}
			if _, _, err := mediaType(name); err != nil {
				r.problems.add(v.rel+"/"+name, 0, "%v", err)
			}
			if _, err := r.resolve(v.rel + "/" + name); err != nil {
				r.problems.addErr(v.rel+"/"+name, err)
			}
			v.resources = append(v.resources, name)
			continue
		}
		v.packed = append(v.packed, name)
	}
	if len(v.packed) == 0 {
		return nil
	}
	if hasArchive {
		r.problems.add(v.rel+"/"+ArchiveName, 0, "archive.tar is made by the registry build from %s: remove it from the repository", strings.Join(v.packed, ", "))
		return nil
	}
	a, err := r.packArchive(v.rel, v.packed)
	if err != nil {
		return err
	}
	v.archive = a
	v.resources = append(v.resources, ArchiveName)
	sort.Strings(v.resources)
	return nil
}

// finishStack validates the stack as the generator's validateIndexComponent
// does and fills its dates.
func (r *registry) finishStack(st *stack, problemsBefore int) {
	setLastModified(&st.item, r.lastMod.Stacks)
	// Problems already found (a version that could not be read, stack.yaml
	// rules) are the causes; the item checks would only repeat them.
	if len(r.problems.List) == problemsBefore {
		r.validateItem(st.rel, 0, st.item)
	}
}

// validateItem checks an index item (validateIndexComponent); provider,
// supportUrl and architectures are only warned about, as the generator does.
func (r *registry) validateItem(file string, line int, e entry) {
	if e.Type == stackType {
		if e.Name == "" {
			r.problems.add(file, line, "the stack has no name")
		}
		if len(e.Versions) == 0 {
			r.problems.add(file, line, "stack %q has no versions", e.Name)
		}
		defaults := 0
		for _, v := range e.Versions {
			if v.Default {
				defaults++
			}
			if v.Version == "" {
				r.problems.add(file, line, "stack %q has a version with no version number", e.Name)
				continue
			}
			if v.SchemaVersion == "" {
				r.problems.add(file, line, "stack %q version %s: schemaVersion is empty", e.Name, v.Version)
			}
			if len(v.Links) == 0 {
				r.problems.add(file, line, "stack %q version %s: links are empty", e.Name, v.Version)
			}
			if len(v.Resources) == 0 {
				r.problems.add(file, line, "stack %q version %s: resources are empty", e.Name, v.Version)
			}
		}
		if len(e.Versions) > 0 && defaults == 0 {
			r.problems.add(file, line, "stack %q has no default version", e.Name)
		}
		if defaults > 1 {
			r.problems.add(file, line, "stack %q has multiple default versions", e.Name)
		}
	}
	// The generator prints these as FYIs and goes on.
	if e.Provider == "" {
		r.log.Info("devfile: no provider", "item", e.Name, "file", file)
	}
	if e.SupportURL == "" {
		r.log.Info("devfile: no supportUrl", "item", e.Name, "file", file)
	}
	if len(e.Architectures) == 0 {
		r.log.Info("devfile: no architectures (all are assumed)", "item", e.Name, "file", file)
	}
}

// readExtra reads extraDevfileEntries.yaml: samples (and stacks) hosted
// elsewhere, which go into the index as they are, with their type added.
func (r *registry) readExtra() error {
	src, err := bounded.ReadFile(filepath.Join(r.root, ExtraEntriesFile), bounded.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", ExtraEntriesFile, err)
	}
	file := ExtraEntriesFile
	top := r.problems.parseYAML(file, src)
	if top == nil {
		return nil
	}
	if !r.problems.decode(file, top, &r.extra) {
		return nil
	}
	samplesDir := filepath.Join(r.root, SamplesDir)
	validateSamples := exists(samplesDir)
	for _, kind := range []string{sampleType, stackType} {
		list, nodes := r.extra.Samples, items(top, "samples")
		lm := r.lastMod.Samples
		if kind == stackType {
			list, nodes = r.extra.Stacks, items(top, "stacks")
			lm = r.lastMod.Stacks
		}
		for i, e := range list {
			line := 0
			if i < len(nodes) {
				line = nodes[i].Line
			}
			e.Type = kind
			if e.Name == "" {
				r.problems.add(file, line, "%s entry has no name", kind)
			}
			if kind == sampleType {
				r.validateSample(file, line, e)
				if validateSamples {
					r.checkCachedSample(e)
				}
			}
			r.checkDeploymentScopes(file, line, e.DeploymentScopes)
			r.validateItem(file, line, e)
			setLastModified(&e, lm)
			r.index = append(r.index, e)
			r.where = append(r.where, loc{file, line})
		}
	}
	return nil
}

func (r *registry) validateSample(file string, line int, e entry) {
	if len(e.Versions) == 0 {
		if e.Git == nil {
			r.problems.add(file, line, "sample %q has no git: add git.remotes.origin", e.Name)
		} else if len(e.Git.Remotes) > 1 {
			r.problems.add(file, line, "sample %q has multiple git remotes; keep one", e.Name)
		}
		return
	}
	defaults := 0
	for _, v := range e.Versions {
		switch {
		case v.Version == "":
			r.problems.add(file, line, "sample %q has a version entry with no version", e.Name)
			continue
		case v.SchemaVersion == "":
			r.problems.add(file, line, "sample %q version %s: schemaVersion is empty", e.Name, v.Version)
		}
		if v.Git == nil {
			r.problems.add(file, line, "sample %q version %s: git is empty", e.Name, v.Version)
		}
		if v.Default {
			defaults++
		}
	}
	if defaults == 0 {
		r.problems.add(file, line, "sample %q has no default version", e.Name)
	} else if defaults > 1 {
		r.problems.add(file, line, "sample %q has multiple default versions", e.Name)
	}
}

// checkCachedSample: when samples/ exists (the build caches sample
// devfiles there), each sample's devfile must be there and be valid.
func (r *registry) checkCachedSample(e entry) {
	dirs := []string{path.Join(SamplesDir, e.Name)}
	if len(e.Versions) > 0 {
		dirs = nil
		for _, v := range e.Versions {
			dirs = append(dirs, path.Join(SamplesDir, e.Name, v.Version))
		}
	}
	for _, d := range dirs {
		file := d + "/" + DevfileName
		if !exists(filepath.Join(r.root, filepath.FromSlash(file))) {
			r.problems.add(file, 0, "sample %q has no cached devfile here (the registry build caches every sample's devfile in samples/)", e.Name)
			continue
		}
		src, err := r.readFile(file)
		if err != nil {
			r.problems.addErr(file, err)
			continue
		}
		if top := r.problems.parseYAML(file, src); top != nil {
			r.problems.checkDevfile(file, top, false)
		}
	}
}
