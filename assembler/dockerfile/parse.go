package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/layers"
)

// dockerfile is a parsed Dockerfile with its global (pre-FROM) arguments
// resolved.
type dockerfile struct {
	// name is how messages name the file ("Dockerfile", "docker/Dockerfile").
	name string
	// abs is the file's path on disk.
	abs string
	// contextDir is the build context's absolute path; contextRel is it
	// relative to the repository root.
	contextDir, contextRel string
	root                   string
	lex                    *shell.Lex
	stages                 []instructions.Stage
	// global holds the meta arguments and the automatic platform ones.
	global []string
	// metaKeys are the names declared by ARG before the first FROM.
	metaKeys map[string]bool
	// target is the stage to build ("" for the last one).
	target string
	// warnings are what BuildKit's linter would report, logged by the build.
	warnings []string
}

// load reads and parses the Dockerfile of df.
func load(root string, df plan.Dockerfile, o *options, platform v1.Platform) (*dockerfile, error) {
	rootAbs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", root, err)
	}
	rel := df.Path
	if o.file != "" {
		rel = o.file
	}
	if rel == "" {
		rel = "Dockerfile"
	}
	abs := rel
	if !filepath.IsAbs(abs) {
		clean, err := layers.CleanPath(filepath.ToSlash(rel))
		if err != nil || strings.HasPrefix(filepath.ToSlash(rel), "../") {
			return nil, fmt.Errorf("the Dockerfile path %q: it must be inside the repository %s", rel, rootAbs)
		}
		abs = filepath.Join(rootAbs, filepath.FromSlash(clean))
	}
	ctxRel, err := layers.CleanPath(filepath.ToSlash(df.Context))
	if err != nil || strings.HasPrefix(filepath.ToSlash(df.Context), "../") {
		return nil, fmt.Errorf("build context %q: it must be inside the repository %s", df.Context, rootAbs)
	}
	d := &dockerfile{name: filepath.ToSlash(rel), abs: abs, root: rootAbs, contextRel: ctxRel, contextDir: filepath.Join(rootAbs, filepath.FromSlash(ctxRel))}
	if fi, err := os.Stat(d.contextDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", d.contextDir)
	}
	data, err := bounded.ReadFile(abs, bounded.Dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: a Dockerfile needs at least a FROM instruction", d.name)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, d.located(err, "")
	}
	stages, meta, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, d.located(err, "")
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s has no FROM instruction: nothing to build", d.name)
	}
	d.stages = stages
	d.lex = shell.NewLex(res.EscapeToken)
	d.warnings = duplicateStages(d.name, stages)

	target := ""
	if o.target != nil {
		target = *o.target
	} else {
		target = df.Target
	}
	d.target = target
	if target == "" {
		target = stages[len(stages)-1].Name
	}
	d.global = defaultArgs(platform, o.buildArgs, target)
	d.metaKeys = map[string]bool{}
	for _, cmd := range meta {
		for _, kv := range cmd.Args {
			d.metaKeys[kv.Key] = true
			if v, ok := o.buildArgs[kv.Key]; ok {
				d.global = setEnv(d.global, kv.Key, v)
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := d.lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(d.global))
			if err != nil {
				return nil, d.located(parser.WithLocation(err, cmd.Location()), "ARG")
			}
			d.global = setEnv(d.global, kv.Key, v)
		}
	}
	return d, nil
}

// duplicateStages warns of a stage name used twice: BuildKit's linter
// (DuplicateStageName) only warns, and a name then means the last stage
// defined with it before the reference.
func duplicateStages(file string, stages []instructions.Stage) []string {
	var out []string
	seen := map[string]int{}
	for _, st := range stages {
		if st.Name == "" {
			continue
		}
		if line, ok := seen[st.Name]; ok {
			out = append(out, fmt.Sprintf("%s:%d: stage name %q is already used at line %d; references to it mean the later stage", file, lineOf(st.Location), st.Name, line))
		}
		seen[st.Name] = lineOf(st.Location)
	}
	return out
}

// located turns an error from BuildKit's parser into "Dockerfile:LINE: message".
func (d *dockerfile) located(err error, what string) error {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	// BuildKit's parse error repeats the line in its message.
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			msg = msg[:i] + msg[i+j+2:]
		}
	}
	if what != "" {
		msg = what + ": " + msg
	}
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", d.name, line, msg)
	}
	return fmt.Errorf("%s: %s", d.name, msg)
}

// lineOf is the first line of a location.
func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// defaultArgs are the platform arguments BuildKit defines automatically.
// Nothing is emulated, so the build platform is the host's.
func defaultArgs(target v1.Platform, overrides map[string]string, stage string) []string {
	build := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if stage == "" {
		stage = "default"
	}
	kv := [][2]string{
		{"BUILDPLATFORM", build.String()},
		{"BUILDOS", build.OS},
		{"BUILDOSVERSION", ""},
		{"BUILDARCH", build.Architecture},
		{"BUILDVARIANT", build.Variant},
		// BuildKit formats TARGETPLATFORM without the OS version.
		{"TARGETPLATFORM", v1.Platform{OS: target.OS, Architecture: target.Architecture, Variant: target.Variant}.String()},
		{"TARGETOS", target.OS},
		{"TARGETOSVERSION", target.OSVersion},
		{"TARGETARCH", target.Architecture},
		{"TARGETVARIANT", target.Variant},
		{"TARGETSTAGE", stage},
	}
	var env []string
	for _, p := range kv {
		v := p[1]
		if o, ok := overrides[p[0]]; ok {
			v = o
		}
		env = append(env, p[0]+"="+v)
	}
	return env
}

// setEnv sets KEY=VALUE in env, in place when KEY is there.
func setEnv(env []string, k, v string) []string {
	out := append([]string(nil), env...)
	for i, kv := range out {
		if key, _, _ := strings.Cut(kv, "="); key == k {
			out[i] = k + "=" + v
			return out
		}
	}
	return append(out, k+"="+v)
}

func getEnv(env []string, k string) (string, bool) {
	for _, kv := range env {
		if key, v, _ := strings.Cut(kv, "="); key == k {
			return v, true
		}
	}
	return "", false
}
