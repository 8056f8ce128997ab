package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/assemble-build/assemble/internal/quote"
	"github.com/assemble-build/assemble/layers/run"
)

// emptyLayerDiffID is the diffID of a layer with no entries (an empty tar):
// a RUN that changed nothing records history only, as BuildKit does.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// runInstr carries out a RUN: translated into package layers when it is
// a package install, else executed in the sandbox.
func (s *stage) runInstr(c *instructions.RunCommand, text string) error {
	if len(c.Files) == 0 && strings.TrimSpace(strings.Join(c.CmdLine, " ")) == "" {
		return errors.New("RUN has no command: give it one (RUN CMD, RUN [\"EXE\", ...] or a heredoc)")
	}
	if sec := instructions.GetSecurity(c); sec != "" && sec != "sandbox" {
		return fmt.Errorf("RUN --security=%s is not supported", sec)
	}
	if devs := instructions.GetDevices(c); len(devs) > 0 {
		return errors.New("RUN --device is not supported")
	}
	argv, script, err := s.runArgv(c)
	if err != nil {
		return err
	}
	r := runStep{
		c:         c,
		text:      text,
		where:     fmt.Sprintf("%s:%d", s.b.d.name, lineOf(c.Location())),
		argv:      argv,
		createdBy: "RUN " + runCommandString(argv, s.args, s.env),
	}
	t := s.runTranslation(c, script, r.where)
	if t.why == "" {
		return s.runTranslated(r, t.installs)
	}
	return s.runExecuted(r, t.why)
}

// runStep is a RUN being carried out.
type runStep struct {
	c     *instructions.RunCommand
	text  string
	where string // "Dockerfile:LINE"
	// argv is what the sandbox would execute; createdBy its history line.
	argv      []string
	createdBy string
}

// runTranslation tries translation on what the shell would run.
func (s *stage) runTranslation(c *instructions.RunCommand, script, where string) translation {
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeCache {
			return notTranslated("it uses RUN --mount")
		}
	}
	switch {
	case len(c.Files) > 0 && script == "":
		return notTranslated("it runs a script file from a heredoc")
	case !c.PrependShell:
		return s.translate("", c.CmdLine, where)
	}
	return s.translate(script, nil, where)
}

// runTranslated adds the package layers a RUN was translated into.
func (s *stage) runTranslated(r runStep, installs []install) error {
	b := s.b
	var whats []string
	for _, in := range installs {
		whats = append(whats, in.what)
	}
	b.step(s, r.c.Location(), r.text, strings.Join(whats, "; "))
	if b.dry() {
		return nil
	}
	for _, in := range installs {
		img, err := s.image()
		if err != nil {
			return err
		}
		specs, err := b.svc.Env(b.ctx, in.layer, img, s.platform)
		if err != nil {
			return fmt.Errorf("RUN, translated to a %s: %w", in.what, err)
		}
		if src := in.layer.Source; !slices.Contains(s.installs, src) {
			s.installs = append(s.installs, src)
		}
		if len(specs) == 0 {
			s.history(r.createdBy, "translated to a "+in.what+": everything is installed already", false)
		}
		for _, spec := range specs {
			if err := s.buildLayer(spec, r.createdBy, "translated to a "+in.what); err != nil {
				return fmt.Errorf("RUN, translated to a %s: %w", in.what, err)
			}
		}
	}
	return nil
}

// runExecuted executes a RUN that is not translated (why says why) in the
// sandbox, unless --no-run forbids it.
func (s *stage) runExecuted(r runStep, why string) error {
	b := s.b
	if b.o.noRun && !b.dry() {
		return fmt.Errorf("RUN would execute a command (%s), and running commands is turned off (--no-run): %s", why, quote.Command(r.text))
	}
	mounts, env, err := s.runMounts(r.c)
	if err != nil {
		return err
	}
	becomes := "run in the sandbox (" + why + ")"
	if len(mounts) > 0 {
		becomes += "; mounts: " + describeMounts(mounts)
	}
	if b.o.noRun {
		becomes += "; refused with --no-run"
	}
	b.step(s, r.c.Location(), r.text, becomes)
	if b.dry() {
		return nil
	}
	img, err := s.image()
	if err != nil {
		return err
	}
	spec := s.sandboxSpec(img, r, mounts, env)
	// The layer may read the sandbox's result until it is added.
	defer spec.Close()
	l, err := b.svc.Layer(b.ctx, spec)
	if err != nil {
		return runFailure(r.c, err)
	}
	if d, err := l.DiffID(); err == nil && d.String() == emptyLayerDiffID {
		s.history(r.createdBy, "", false)
		return nil
	}
	s.addLayer(l, r.createdBy, "")
	return nil
}

// sandboxSpec is the layer of what the RUN's command changes over img,
// run with the stage's env (and env), user and working directory, and the
// RUN's mounts.
func (s *stage) sandboxSpec(img v1.Image, r runStep, mounts []run.Mount, env []string) *run.Layer {
	wd := s.cf.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return run.NewLayer(run.Spec{
		Base:    img,
		Command: r.argv,
		Env:     append(append([]string(nil), s.env...), env...),
		User:    s.cf.Config.User,
		WorkDir: wd,
		Network: instructions.GetNetwork(r.c) == instructions.NetworkHost,
		Stdout:  s.b.o.runOutput,
		Stderr:  s.b.o.runOutput,
		Mounts:  mounts,
	}, s.b.o.runOptions...)
}

// runFailure words the error of a sandboxed RUN: a failed command names
// its exit status and its output's tail.
func runFailure(c *instructions.RunCommand, err error) error {
	var exit *run.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("RUN: %w", err)
	}
	msg := fmt.Sprintf("RUN %s: the command failed with exit status %d", quote.Command(strings.Join(c.CmdLine, " ")), exit.Code)
	if exit.Output != "" {
		msg += "; its last output:\n" + exit.Output
	}
	return &runError{msg: msg, exit: exit}
}

// runError is a RUN whose command failed; it unwraps to the sandbox's
// *run.ExitError (exit status and output).
type runError struct {
	msg  string
	exit *run.ExitError
}

func (e *runError) Error() string { return e.msg }
func (e *runError) Unwrap() error { return e.exit }

// runArgv is the command a RUN executes, as BuildKit builds it; script is
// the shell script when there is one.
func (s *stage) runArgv(c *instructions.RunCommand) (argv []string, script string, err error) {
	args := c.CmdLine
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return nil, "", fmt.Errorf("RUN: a heredoc needs the shell form")
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				// A script with its own interpreter: written where the
				// layer does not see it (/dev is the sandbox's tmpfs) and
				// run by the interpreter its first line names.
				line, _, _ := strings.Cut(data[2:], "\n")
				interp := strings.Fields(line)
				if len(interp) == 0 {
					return nil, "", fmt.Errorf("RUN <<%s: the script's #! line names no interpreter", c.Files[0].Name)
				}
				inv := interp[0]
				if len(interp) > 1 {
					inv += " '" + strings.ReplaceAll(strings.Join(interp[1:], " "), "'", `'\''`) + "'"
				}
				sh := `p=/dev/shm/.assemble-heredoc-$$; printf '%s' "$1" > "$p" && chmod 0755 "$p" && exec ` + inv + ` "$p"`
				return []string{"/bin/sh", "-c", sh, "sh", data}, "", nil
			}
			args = []string{data}
		} else {
			var sb strings.Builder
			sb.WriteString(args[0])
			for _, f := range c.Files {
				sb.WriteByte('\n')
				sb.WriteString(f.Data)
				sb.WriteString(f.Name)
			}
			args = []string{sb.String()}
		}
	}
	if !c.PrependShell {
		return append([]string(nil), args...), "", nil
	}
	full := s.withShell(instructions.ShellDependantCmdLine{CmdLine: args, PrependShell: true})
	return full, strings.Join(args, " "), nil
}

// runCommandString is the history line BuildKit writes for a RUN: the
// stage's build arguments, then the command.
func runCommandString(args []string, buildArgs []instructions.KeyValuePairOptional, env []string) string {
	var tmp []string
	idx := map[string]int{}
	for _, a := range buildArgs {
		v, ok := getEnv(env, a.Key)
		if !ok {
			v = a.ValueString()
		}
		if i, ok := idx[a.Key]; ok {
			tmp[i] = a.Key + "=" + v
		} else {
			idx[a.Key] = len(tmp)
			tmp = append(tmp, a.Key+"="+v)
		}
	}
	if len(tmp) > 0 {
		tmp = append([]string{fmt.Sprintf("|%d", len(tmp))}, tmp...)
	}
	return strings.Join(append(tmp, args...), " ")
}
