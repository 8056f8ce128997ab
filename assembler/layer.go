package assembler

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/quote"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/run"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
)

// specs is what a plan layer becomes: the layer specs to stack, in order,
// and what to say about them.
type specs struct {
	specs []layers.Spec
	// step, when set, is reported before the specs are built.
	step string
	// python, for a python layer, is attached to the report of its layer.
	python *PythonReport
	// conda, for a conda layer, likewise.
	conda *CondaReport
}

// below is the image a plan layer goes on: the stack so far, for one platform.
type below struct {
	img      v1.Image
	platform v1.Platform
}

// layerFactory turns one kind of plan layer, with the image below it, into
// layer specs. There is one per plan layer kind.
type layerFactory func(s *services, ctx context.Context, l plan.Layer, at below) (specs, error)

var layerFactories = map[string]layerFactory{
	plan.KindFiles:     (*services).filesLayer,
	plan.KindDeb:       (*services).debLayer,
	plan.KindPython:    (*services).pythonLayer,
	plan.KindRun:       (*services).runLayer,
	plan.KindGenerated: (*services).generatedLayer,
	plan.KindConda:     (*services).condaLayer,
}

// layerSpecs turns a plan layer into specs by its kind's factory.
func (s *services) layerSpecs(ctx context.Context, l plan.Layer, at below) (specs, error) {
	f, ok := layerFactories[l.Kind]
	if !ok {
		return specs{}, fmt.Errorf("%s: unknown layer kind %q", l.Source, l.Kind)
	}
	return f(s, ctx, l, at)
}

// filesLayer copies a directory of the repository, minus what the ignore
// file and the run's excluded paths (outputs inside the repository) name.
// It does not depend on the image below.
func (s *services) filesLayer(_ context.Context, l plan.Layer, _ below) (specs, error) {
	f, root := l.Files, s.p.Root
	spec := &layers.Files{Root: root, Dir: f.Dir, Dest: f.Dest, Include: f.Include, Exclude: f.Exclude, UID: f.UID, GID: f.GID}
	if !f.NoIgnoreFile {
		pats, _, err := layers.ReadIgnoreFile(root)
		if err != nil {
			return specs{}, err
		}
		spec.Ignore = pats
	}
	for _, ex := range s.o.exclude {
		if rel, ok := absUnder(root, ex); ok {
			spec.Ignore = append(spec.Ignore, rel)
		}
	}
	return specs{specs: []layers.Spec{s.env.filesSpec(spec)}}, nil
}

// debLayer resolves Debian packages against what the image below has.
func (s *services) debLayer(ctx context.Context, l plan.Layer, at below) (specs, error) {
	ss, err := s.env.debLayers(ctx, l, at.img, at.platform, s.installed)
	if err != nil {
		return specs{}, &sourcedError{source: l.Source, err: err}
	}
	out := specs{specs: ss}
	if len(ss) == 0 {
		out.step = l.Source + ": every package is already installed"
	}
	return out, nil
}

// pythonLayer resolves requirements for the interpreter of the image below.
func (s *services) pythonLayer(ctx context.Context, l plan.Layer, at below) (specs, error) {
	spec, set, target, err := s.env.pythonLayer(ctx, l, at.img, at.platform)
	if err != nil {
		return specs{}, err
	}
	s.installed.addWheels(set, target)
	for _, r := range set {
		logctx.From(ctx).Debug("python requirement resolved", "name", r.Name, "version", r.Version, "file", r.Filename, "sha256", r.SHA256)
	}
	return specs{
		specs: []layers.Spec{spec},
		step:  fmt.Sprintf("python %s (%s, %s): %d distributions", target.PythonFull, target.Interpreter, target.Purelib, len(set)),
		python: &PythonReport{Interpreter: target.Interpreter, Version: target.PythonFull, Purelib: target.Purelib,
			Glibc: target.Glibc, Arch: target.Arch, Resolved: set, Pins: wheel.FormatPins(set)},
	}, nil
}

// sourcedError is an error prefixed with the plan layer it comes from
// ("apt.txt: ..."). The Dockerfile frontend says where a layer comes from
// itself, so Env takes the prefix off again.
type sourcedError struct {
	source string
	err    error
}

func (e *sourcedError) Error() string { return e.source + ": " + e.err.Error() }
func (e *sourcedError) Unwrap() error { return e.err }

// runLayer runs a command in the sandbox over the image below.
func (s *services) runLayer(_ context.Context, l plan.Layer, at below) (specs, error) {
	r := l.Run
	if s.o.noRun {
		return specs{}, fmt.Errorf("%s: refusing to run %s (--no-run): this step needs the sandbox", l.Source, quote.Command(strings.Join(r.Command, " ")))
	}
	cf, err := at.img.ConfigFile()
	if err != nil {
		return specs{}, err
	}
	spec := run.NewLayer(run.Spec{
		Base: at.img, Command: r.Command, Env: oci.MergeEnv(cf.Config.Env, r.Env),
		User: r.User, WorkDir: r.WorkDir, Network: r.Network,
		Stdout: s.o.runOutput, Stderr: s.o.runOutput,
	})
	return specs{specs: []layers.Spec{spec}}, nil
}

// generatedLayer holds files the plan made.
func (s *services) generatedLayer(_ context.Context, l plan.Layer, _ below) (specs, error) {
	g := &layers.Generated{}
	for _, f := range l.Generated.Files {
		g.Files = append(g.Files, layers.GeneratedFile{Path: f.Path, Content: f.Content, Mode: fs.FileMode(f.Mode), UID: f.UID, GID: f.GID})
	}
	if l.Comment != "" {
		g.Name = "generated: " + l.Comment
	}
	return specs{specs: []layers.Spec{g}}, nil
}
