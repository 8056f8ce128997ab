package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/oci"
)

// defaultPath is the PATH BuildKit gives a stage whose base has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// historyComment marks history entries this frontend wrote.
const historyComment = "assemble.dockerfile.v0"

// Build builds the Dockerfile df of the repository at root for one
// platform and returns the target stage's image.
func Build(ctx context.Context, root string, df plan.Dockerfile, platform v1.Platform, svc Services, opts ...Option) (v1.Image, error) {
	t, err := BuildTarget(ctx, root, df, platform, svc, opts...)
	if err != nil {
		return nil, err
	}
	return t.Image, nil
}

// Target is the target stage, built, with what went into its image: what
// an SBOM of the image lists.
type Target struct {
	Image v1.Image
	// Base is the reference the target's chain of stages (FROM a stage,
	// FROM a stage, ... FROM an image) starts from, as Services.Base (or a
	// build-context directory) was given it; "" for scratch. BaseImage is
	// that image.
	Base      string
	BaseImage v1.Image
	// Installs are the Sources ("Dockerfile:LINE") of the package layers
	// translated from RUN lines of the chain's stages, in order: the
	// plan.Layer.Source that Services.Env was given for each. A stage the
	// chain only COPYs files from is not in it: its packages are not in
	// the image, since copying files copies no package database.
	Installs []string
}

// BuildTarget builds the Dockerfile as Build does and says what went into
// the target stage's image.
func BuildTarget(ctx context.Context, root string, df plan.Dockerfile, platform v1.Platform, svc Services, opts ...Option) (*Target, error) {
	if svc == nil {
		return nil, errors.New("dockerfile.Build needs Services")
	}
	b, err := newBuilder(ctx, root, df, platform, svc, opts)
	if err != nil {
		return nil, err
	}
	defer b.close()
	s, err := b.targetStage()
	if err != nil {
		return nil, err
	}
	// The result is for the platform asked for, as BuildKit's with --platform.
	s.cf.OS, s.cf.Architecture, s.cf.Variant = platform.OS, platform.Architecture, platform.Variant
	if platform.OSVersion != "" {
		s.cf.OSVersion = platform.OSVersion
	}
	s.img = nil
	img, err := s.image()
	if err != nil {
		return nil, err
	}
	return &Target{Image: img, Base: s.from.ref, BaseImage: s.from.img, Installs: slices.Clone(s.installs)}, nil
}

// Describe lists what each instruction of the stages the target needs
// becomes, without building anything: for `assemble plan`. It reads the
// Dockerfile and the build context only; what depends on base images (their
// user, environment, files) is assumed to be a root user with no variables.
func Describe(root string, df plan.Dockerfile, opts ...Option) ([]Step, error) {
	b, err := newBuilder(context.Background(), root, df, hostPlatform(), nil, opts)
	if err != nil {
		return nil, err
	}
	defer b.close()
	if _, err := b.targetStage(); err != nil {
		return nil, err
	}
	// Stages are reached through their dependents: list in file order.
	sort.SliceStable(b.steps, func(i, j int) bool { return b.steps[i].Line < b.steps[j].Line })
	return b.steps, nil
}

// builder builds (or, with no Services, describes) one Dockerfile.
type builder struct {
	ctx      context.Context
	d        *dockerfile
	o        *options
	svc      Services // nil: describe only
	platform v1.Platform

	built    map[int]*stage
	building map[int]bool
	steps    []Step

	context  *hostSource // the main build context, opened on first use
	images   map[string]*imageSource
	spoolDir string
	cleanups []func()
}

func newBuilder(ctx context.Context, root string, df plan.Dockerfile, platform v1.Platform, svc Services, opts []Option) (*builder, error) {
	o := makeOptions(df, opts)
	d, err := load(root, df, o, platform)
	if err != nil {
		return nil, err
	}
	for _, w := range d.warnings {
		logctx.From(ctx).Warn(w)
	}
	return &builder{ctx: ctx, d: d, o: o, svc: svc, platform: platform, built: map[int]*stage{}, building: map[int]bool{}, images: map[string]*imageSource{}}, nil
}

func (b *builder) dry() bool { return b.svc == nil }

func (b *builder) close() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

// target is the index of the stage to build.
func (b *builder) target() (int, error) {
	name := b.d.target
	if name == "" {
		return len(b.d.stages) - 1, nil
	}
	if i, ok := b.stageIndex(name, len(b.d.stages)); ok {
		return i, nil
	}
	var names []string
	for _, st := range b.d.stages {
		if st.Name != "" {
			names = append(names, st.Name)
		}
	}
	return 0, fmt.Errorf("%s: target stage %q is not defined (stages: %s)", b.d.name, name, strings.Join(names, ", "))
}

// targetStage builds the target stage and the stages it needs.
func (b *builder) targetStage() (*stage, error) {
	st, err := b.target()
	if err != nil {
		return nil, err
	}
	return b.stage(st)
}

// errAt locates an instruction's error.
func (b *builder) errAt(loc []parser.Range, err error) error {
	var le *locatedError
	if errors.As(err, &le) {
		return err
	}
	return &locatedError{file: b.d.name, line: lineOf(loc), err: err}
}

// locatedError is an error at a line of the Dockerfile.
type locatedError struct {
	file string
	line int
	err  error
}

func (e *locatedError) Error() string { return fmt.Sprintf("%s:%d: %v", e.file, e.line, e.err) }
func (e *locatedError) Unwrap() error { return e.err }

func (b *builder) step(s *stage, loc []parser.Range, instr, becomes string) {
	b.steps = append(b.steps, Step{Stage: s.label, Line: lineOf(loc), Instruction: instr, Becomes: becomes})
	logctx.From(b.ctx).Debug("dockerfile step", "file", b.d.name, "line", lineOf(loc), "stage", s.label, "instruction", firstLine(instr), "becomes", becomes)
}

// stage is one stage being built: its base, the layers added so far, and
// the configuration and history Docker would record.
type stage struct {
	b        *builder
	idx      int
	label    string
	platform v1.Platform

	base v1.Image
	adds []oci.Addition
	cf   *v1.ConfigFile
	// env is what commands see: the config's Env plus ARG values.
	env []string
	// args are the ARGs declared in this stage (and its parent stages), in
	// order, for RUN history lines.
	args   []instructions.KeyValuePairOptional
	cmdSet bool

	// from is the image the stage's chain of stages starts from (zero for
	// scratch), and installs the sources of the package layers translated
	// in the chain: what the stage's image holds, for Target.
	from     baseImage
	installs []string

	tree *tree
	// prov maps image paths to the repository files COPY put there, while
	// no later layer touched them (to translate `pip install -r`).
	prov map[string]string

	img v1.Image
}

// stage builds stage i once (and the stages it needs).
func (b *builder) stage(i int) (*stage, error) {
	if s, ok := b.built[i]; ok {
		return s, nil
	}
	if b.building[i] {
		return nil, b.errAt(b.d.stages[i].Location, fmt.Errorf("stage %s depends on itself", stageLabel(b.d.stages[i], i)))
	}
	b.building[i] = true
	defer delete(b.building, i)
	s, err := b.buildStage(i)
	if err != nil {
		return nil, err
	}
	b.built[i] = s
	return s, nil
}

func stageLabel(st instructions.Stage, i int) string {
	if st.Name != "" {
		return st.Name
	}
	return strconv.Itoa(i)
}

func (b *builder) buildStage(i int) (*stage, error) {
	st := b.d.stages[i]
	s := &stage{b: b, idx: i, label: stageLabel(st, i), platform: b.platform, prov: map[string]string{}}
	at := func(err error) error { return b.errAt(st.Location, err) }

	if st.Platform != "" {
		v, _, err := b.d.lex.ProcessWord(st.Platform, shell.EnvsFromSlice(b.d.global))
		if err != nil {
			return nil, at(fmt.Errorf("FROM --platform=%s: %w", st.Platform, err))
		}
		p, err := oci.ParsePlatform(v)
		if err != nil {
			return nil, at(fmt.Errorf("FROM --platform=%s: %w", st.Platform, err))
		}
		s.platform = p
	}

	// A build context named like the stage replaces it, as in BuildKit.
	if st.Name != "" {
		if src, ok := b.contextFor(st.Name); ok {
			b.step(s, st.Location, st.SourceCode, "base "+src+" (build context "+st.Name+"; the stage's instructions are skipped)")
			if err := s.fromExternal(src); err != nil {
				return nil, at(err)
			}
			return s, nil
		}
	}

	name, _, err := b.d.lex.ProcessWord(st.BaseName, shell.EnvsFromSlice(b.d.global))
	if err != nil {
		return nil, at(fmt.Errorf("FROM %s: %w", st.BaseName, err))
	}
	if name == "" {
		return nil, at(fmt.Errorf("FROM %s: the base name is empty (is a build argument missing?)", st.BaseName))
	}
	var onbuild []string
	if j, ok := b.stageIndex(name, i); ok {
		parent, err := b.stage(j)
		if err != nil {
			return nil, err
		}
		b.step(s, st.Location, st.SourceCode, "stage "+parent.label)
		if err := s.fromStage(parent); err != nil {
			return nil, at(err)
		}
		onbuild = parent.cf.Config.OnBuild
	} else {
		ref, becomes, err := b.baseRef(name)
		if err != nil {
			return nil, at(fmt.Errorf("FROM %s: %w", name, err))
		}
		b.step(s, st.Location, st.SourceCode, becomes)
		if err := s.fromExternal(ref); err != nil {
			return nil, at(fmt.Errorf("FROM %s: %w", name, err))
		}
		onbuild = s.cf.Config.OnBuild
	}
	// ONBUILD triggers of the base run first, then are forgotten.
	s.cf.Config.OnBuild = nil
	for _, trigger := range onbuild {
		if err := s.runTrigger(trigger, st.Location); err != nil {
			return nil, err
		}
	}
	for _, cmd := range st.Commands {
		if err := b.ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.dispatch(cmd); err != nil {
			return nil, b.errAt(cmd.Location(), err)
		}
	}
	return s, nil
}

// stageIndex finds the stage named name defined last before stage i (as
// BuildKit, where a later stage of the same name replaces the earlier).
func (b *builder) stageIndex(name string, before int) (int, bool) {
	lname := strings.ToLower(name)
	for j := before - 1; j >= 0; j-- {
		if b.d.stages[j].Name != "" && b.d.stages[j].Name == lname {
			return j, true
		}
	}
	return 0, false
}

func (s *stage) runTrigger(trigger string, loc []parser.Range) error {
	res, err := parser.Parse(strings.NewReader(trigger))
	if err != nil {
		return s.b.errAt(loc, fmt.Errorf("ONBUILD trigger %q of the base: %w", trigger, err))
	}
	if len(res.AST.Children) != 1 {
		return s.b.errAt(loc, fmt.Errorf("ONBUILD trigger %q of the base is not one instruction", trigger))
	}
	node := res.AST.Children[0]
	node.StartLine, node.EndLine = lineOf(loc), lineOf(loc)
	cmd, err := instructions.ParseCommand(node)
	if err != nil {
		return s.b.errAt(loc, fmt.Errorf("ONBUILD trigger %q of the base: %w", trigger, err))
	}
	if err := s.dispatch(cmd); err != nil {
		return s.b.errAt(loc, fmt.Errorf("ONBUILD trigger %q of the base: %w", trigger, err))
	}
	return nil
}

// fromStage starts s from an earlier stage: its image, config, history,
// variables and arguments.
func (s *stage) fromStage(parent *stage) error {
	s.platform = parent.platform
	s.cf = parent.cf.DeepCopy()
	s.env = append([]string(nil), parent.env...)
	s.args = append([]instructions.KeyValuePairOptional(nil), parent.args...)
	s.from, s.installs = parent.from, slices.Clone(parent.installs)
	if s.b.dry() {
		s.tree = newTree(s.b.ctx)
		for k, v := range parent.prov {
			s.prov[k] = v
		}
		return nil
	}
	img, err := parent.image()
	if err != nil {
		return err
	}
	s.base = img
	if parent.tree != nil {
		s.tree = parent.tree.clone()
		for k, v := range parent.prov {
			s.prov[k] = v
		}
	}
	return nil
}

// fromExternal starts s from a base reference (or a build-context directory).
func (s *stage) fromExternal(ref string) error {
	s.cf = &v1.ConfigFile{OS: s.platform.OS, Architecture: s.platform.Architecture, Variant: s.platform.Variant, RootFS: v1.RootFS{Type: "layers"}}
	if s.b.dry() {
		s.tree = newTree(s.b.ctx)
		s.initConfig(true)
		return nil
	}
	var img v1.Image
	var err error
	if dir, ok := s.b.contextDir(ref); ok {
		img, err = s.b.dirImage(dir, s.platform)
	} else {
		img, err = s.b.svc.Base(s.b.ctx, ref, s.platform)
	}
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the base's config: %w", err)
	}
	s.base = img
	if ref != "scratch" {
		s.from = baseImage{ref: ref, img: img}
	}
	s.cf = cf.DeepCopy()
	if s.cf.OS == "" {
		s.cf.OS, s.cf.Architecture, s.cf.Variant = s.platform.OS, s.platform.Architecture, s.platform.Variant
	}
	n, err := layerCount(img)
	if err != nil {
		return err
	}
	if n == 0 {
		s.tree = newTree(s.b.ctx) // nothing to read
	}
	s.initConfig(ref == "scratch")
	return nil
}

// baseImage is an image a stage starts from, and the reference it was
// opened by.
type baseImage struct {
	ref string
	img v1.Image
}

// initConfig prepares a stage's config as BuildKit does: no creation time,
// a PATH always, and for an empty base the working directory "/".
func (s *stage) initConfig(empty bool) {
	s.cf.Created = v1.Time{}
	s.cf.Container = ""
	s.cf.Config.Image, s.cf.Config.Hostname = "", ""
	if empty && s.cf.Config.WorkingDir == "" {
		s.cf.Config.WorkingDir = "/"
	}
	if _, ok := getEnv(s.cf.Config.Env, "PATH"); !ok {
		s.cf.Config.Env = append(s.cf.Config.Env, "PATH="+defaultPath)
	}
	s.env = append([]string(nil), s.cf.Config.Env...)
}

func layerCount(img v1.Image) (int, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("reading the base's manifest: %w", err)
	}
	return len(m.Layers), nil
}

// image is the stage so far as an image.
func (s *stage) image() (v1.Image, error) {
	if s.b.dry() {
		return nil, nil
	}
	if s.img != nil {
		return s.img, nil
	}
	img, err := oci.Stack(s.base, s.adds, oci.Config{}, s.b.o.created, nil)
	if err != nil {
		return nil, err
	}
	stacked, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf := s.cf.DeepCopy()
	cf.RootFS = stacked.RootFS
	cf.Created = v1.Time{Time: s.b.o.created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the image config: %w", err)
	}
	s.img = img
	return img, nil
}

// history records an instruction in the image history.
func (s *stage) history(createdBy, comment string, layer bool) {
	if comment == "" {
		comment = historyComment
	}
	s.cf.History = append(s.cf.History, v1.History{
		Created:    v1.Time{Time: s.b.o.created},
		CreatedBy:  createdBy,
		Comment:    comment,
		EmptyLayer: !layer,
	})
	s.img = nil
}

// addLayer stacks a layer with its history line.
func (s *stage) addLayer(l v1.Layer, createdBy, comment string) {
	s.adds = append(s.adds, oci.Addition{Layer: l, CreatedBy: createdBy, Comment: comment})
	s.history(createdBy, comment, true)
}

// files returns the stage's filesystem metadata, brought up to date.
func (s *stage) files() (*tree, error) {
	if s.b.dry() {
		return s.tree, nil
	}
	img, err := s.image()
	if err != nil {
		return nil, err
	}
	memo, key := s.b.o.trees, ""
	if s.tree == nil && memo != nil && len(s.prov) == 0 {
		// Nothing to untrack as the layers are applied: the memo's copy
		// is the same tree.
		if key = treeKey(img); key != "" {
			s.tree = memo.get(key)
		}
	}
	fresh := s.tree == nil
	if fresh {
		s.tree = newTree(s.b.ctx)
	}
	s.tree.listings = s.b.o.listings
	s.tree.touched = s.untrack
	if err := s.tree.sync(img); err != nil {
		return nil, fmt.Errorf("reading the stage's files: %w", err)
	}
	if fresh && key != "" {
		memo.put(key, s.tree)
	}
	return s.tree, nil
}

// untrack forgets the provenance of p, what is below it and what is above it.
func (s *stage) untrack(p string) {
	if len(s.prov) == 0 {
		return
	}
	for k := range s.prov {
		if k == p || strings.HasPrefix(k, p+"/") || strings.HasPrefix(p, k+"/") || k == "" {
			delete(s.prov, k)
		}
	}
}

// dispatch carries out one instruction: its words expanded, then the
// instruction that writes layers or changes the config.
func (s *stage) dispatch(cmd instructions.Command) error {
	if err := s.expand(cmd); err != nil {
		return err
	}
	loc := cmd.Location()
	text := instructionText(cmd)
	switch c := cmd.(type) {
	case *instructions.ArgCommand:
		return s.arg(c, text)
	case *instructions.WorkdirCommand:
		return s.workdir(c, text)
	case *instructions.CopyCommand:
		return s.copyInstr(copyRequest{
			add: false, text: text, loc: loc, params: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod,
			link: c.Link, excludes: c.ExcludePatterns, parents: c.Parents,
		})
	case *instructions.AddCommand:
		return s.addInstr(c, text)
	case *instructions.RunCommand:
		return s.runInstr(c, text)
	case *instructions.VolumeCommand:
		return s.volume(c, text)
	case *instructions.OnbuildCommand:
		s.cf.Config.OnBuild = append(s.cf.Config.OnBuild, c.Expression)
		s.img = nil
		s.b.step(s, loc, text, "config (ONBUILD trigger, run by images built FROM this one)")
		return nil
	}
	createdBy, err := s.configure(cmd)
	if err != nil {
		return err
	}
	s.history(createdBy, "", false)
	s.b.step(s, loc, text, "config")
	return nil
}

// expand expands the variables in an instruction's words as BuildKit does
// (ARG expands its own values when it is carried out).
func (s *stage) expand(cmd instructions.Command) error {
	if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				w, _, err := s.b.d.lex.ProcessWord(word, shell.EnvsFromSlice(s.env))
				return w, err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", strings.ToUpper(cmd.Name()), err)
			}
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		lex := shell.NewLex('\\')
		lex.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) {
			w, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(s.env))
			return w, err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", strings.ToUpper(cmd.Name()), err)
		}
	}
	return nil
}

// addInstr carries out ADD: COPY that also fetches URLs and unpacks local
// archives.
func (s *stage) addInstr(c *instructions.AddCommand, text string) error {
	unpack := true
	if c.Unpack != nil {
		unpack = *c.Unpack
	}
	if c.KeepGitDir != nil {
		return errors.New("ADD --keep-git-dir: git sources are not supported; clone the repository into the build context and COPY it")
	}
	return s.copyInstr(copyRequest{
		add: true, text: text, loc: c.Location(), params: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod,
		link: c.Link, excludes: c.ExcludePatterns, checksum: c.Checksum, unpack: unpack, unpackSet: c.Unpack != nil,
	})
}

// withShell turns a shell-form command line into argv with the stage's SHELL.
func (s *stage) withShell(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	sh := s.cf.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), sh...), strings.Join(c.CmdLine, " "))
}

func (s *stage) arg(c *instructions.ArgCommand, text string) error {
	var parts []string
	for _, a := range c.Args {
		val, hasValue := s.b.o.buildArgs[a.Key]
		hasDefault := a.Value != nil
		switch {
		case hasValue:
			a.Value = &val
		case hasDefault:
			v, _, err := s.b.d.lex.ProcessWord(*a.Value, shell.EnvsFromSlice(s.env))
			if err != nil {
				return fmt.Errorf("ARG %s: %w", a.Key, err)
			}
			a.Value = &v
		default:
			// An ARG without a value takes the global one of that name.
			if v, ok := getEnv(s.b.d.global, a.Key); ok {
				a.Value = &v
			}
		}
		if a.Value != nil {
			s.env = setEnv(s.env, a.Key, *a.Value)
		}
		s.args = append(s.args, a)
		p := a.Key
		if a.Value != nil {
			p += "=" + *a.Value
		}
		parts = append(parts, p)
	}
	s.history("ARG "+strings.Join(parts, " "), "", false)
	s.b.step(s, c.Location(), text, "config (build argument)")
	return nil
}

// workdir sets the working directory and, as BuildKit does, makes it
// (owned by the stage's user) when it is missing.
func (s *stage) workdir(c *instructions.WorkdirCommand, text string) error {
	wd := c.Path
	if !path.IsAbs(wd) {
		cur := s.cf.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		wd = path.Join(cur, wd)
	}
	wd = path.Clean(wd)
	s.cf.Config.WorkingDir = wd
	if wd == "/" {
		s.history("WORKDIR "+wd, "", false)
		s.b.step(s, c.Location(), text, "config")
		return nil
	}
	t, err := s.files()
	if err != nil {
		return err
	}
	if n, _, _ := t.lookup(strings.TrimPrefix(wd, "/"), true); n != nil {
		if !n.IsDir() {
			return fmt.Errorf("WORKDIR %s: it exists and is not a directory", wd)
		}
		s.history("WORKDIR "+wd, "", false)
		s.b.step(s, c.Location(), text, "config (the directory exists)")
		return nil
	}
	uid, gid := 0, 0
	if u := s.cf.Config.User; u != "" {
		// As BuildKit: an unknown name leaves the directory to root.
		if id, err := resolveOwner(u, t, false); err == nil {
			uid, gid = id.uid, id.gid
		}
	}
	entries, err := newDirEntries(t, strings.TrimPrefix(wd, "/"), uid, gid)
	if err != nil {
		return fmt.Errorf("WORKDIR %s: %w", wd, err)
	}
	s.b.step(s, c.Location(), text, "layer: directory "+wd)
	if s.b.dry() {
		return t.apply(entries)
	}
	spec := newEntriesLayer("WORKDIR "+wd, entries)
	if err := s.buildLayer(spec, "WORKDIR "+wd, ""); err != nil {
		return err
	}
	if err := t.apply(entries); err != nil {
		return err
	}
	t.applied++
	return nil
}

// buildLayer builds spec through the pipeline and stacks it.
func (s *stage) buildLayer(spec layers.Spec, createdBy, comment string) error {
	l, err := s.b.svc.Layer(s.b.ctx, spec)
	if err != nil {
		return err
	}
	s.addLayer(l, createdBy, comment)
	return nil
}

// instructionText is the instruction as written, continuations joined.
func instructionText(cmd instructions.Command) string {
	if st, ok := cmd.(fmt.Stringer); ok {
		return st.String()
	}
	return cmd.Name()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

func hostPlatform() v1.Platform {
	return v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
}
