package dockerfile

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/assemble-build/assemble/layers/run"
)

// emptyLayerDiffID is the diffID of a layer with no entries (an empty tar):
// a RUN that changed nothing records history only, as BuildKit does.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// runInstr carries out a RUN: translated into package layers when it is
// a package install, else executed in the sandbox.
func (s *stage) runInstr(c *instructions.RunCommand, text string) error {
	b := s.b
	where := fmt.Sprintf("%s:%d", b.d.name, lineOf(c.Location()))
	if sec := instructions.GetSecurity(c); sec != "" && sec != "sandbox" {
		return fmt.Errorf("RUN --security=%s is not supported", sec)
	}
	if devs := instructions.GetDevices(c); len(devs) > 0 {
		return errors.New("RUN --device is not supported")
	}
	cacheOnly := true
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeCache {
			cacheOnly = false
		}
	}
	argv, script, err := s.runArgv(c)
	if err != nil {
		return err
	}
	createdBy := "RUN " + runCommandString(argv, s.args, s.env)

	// Translation is tried on what the shell would run.
	var t translation
	switch {
	case !cacheOnly:
		t = notTranslated("it uses RUN --mount")
	case len(c.Files) > 0 && script == "":
		t = notTranslated("it runs a script file from a heredoc")
	case !c.PrependShell:
		t = s.translate("", c.CmdLine, where)
	default:
		t = s.translate(script, nil, where)
	}
	if t.why == "" {
		var whats []string
		for _, in := range t.installs {
			whats = append(whats, in.what)
		}
		b.step(s, c.Location(), text, strings.Join(whats, "; "))
		if b.dry() {
			return nil
		}
		for _, in := range t.installs {
			img, err := s.image()
			if err != nil {
				return err
			}
			specs, err := b.svc.Env(b.ctx, in.layer, img, s.platform)
			if err != nil {
				return fmt.Errorf("RUN, translated to a %s: %w", in.what, err)
			}
			if len(specs) == 0 {
				s.history(createdBy, "translated to a "+in.what+": everything is installed already", false)
			}
			for _, spec := range specs {
				if err := s.buildLayer(spec, createdBy, "translated to a "+in.what); err != nil {
					return fmt.Errorf("RUN, translated to a %s: %w", in.what, err)
				}
			}
		}
		return nil
	}

	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeCache {
			return fmt.Errorf("RUN --mount=type=%s is not supported; copy what the command needs into the stage first", m.Type)
		}
	}
	if b.o.noRun && !b.dry() {
		return fmt.Errorf("RUN would execute a command (%s), and running commands is turned off (--no-run): %s", t.why, firstLine(text))
	}
	becomes := "run in the sandbox (" + t.why + ")"
	if b.o.noRun {
		becomes += "; refused with --no-run"
	}
	b.step(s, c.Location(), text, becomes)
	if b.dry() {
		return nil
	}
	if len(instructions.GetMounts(c)) > 0 {
		slog.Warn("RUN --mount=type=cache: no cache is mounted; what the command writes there stays in the layer", "line", where)
	}
	img, err := s.image()
	if err != nil {
		return err
	}
	wd := s.cf.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	spec := run.NewLayer(run.Spec{
		Base:    img,
		Command: argv,
		Env:     append([]string(nil), s.env...),
		User:    s.cf.Config.User,
		WorkDir: wd,
		Network: instructions.GetNetwork(c) == instructions.NetworkHost,
		Stdout:  b.o.runOutput,
		Stderr:  b.o.runOutput,
	}, b.o.runOptions...)
	defer spec.Close()
	l, err := b.svc.Layer(b.ctx, spec)
	if err != nil {
		var exit *run.ExitError
		if errors.As(err, &exit) {
			msg := fmt.Sprintf("RUN %s: the command failed with exit status %d", firstLine(strings.Join(c.CmdLine, " ")), exit.Code)
			if exit.Output != "" {
				msg += "; its last output:\n" + exit.Output
			}
			return &runError{msg: msg, exit: exit}
		}
		return fmt.Errorf("RUN: %w", err)
	}
	if d, err := l.DiffID(); err == nil && d.String() == emptyLayerDiffID {
		s.history(createdBy, "", false)
		return nil
	}
	s.addLayer(l, createdBy, "")
	return nil
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
