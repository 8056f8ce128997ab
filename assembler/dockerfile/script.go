package dockerfile

import (
	"fmt"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A RUN script is read with a real shell parser, and then only the
// constructs whose effect is certain are accepted: simple commands joined
// by &&, ; or newlines, with plain, quoted or escaped words and $NAME
// expansions of variables the stage sets. Everything else (pipes, ||,
// redirections, heredocs, subshells, groups, loops, conditionals, command
// substitution, expansions with operators...) is refused with the reason,
// and the RUN goes to the sandbox.

// shellCmd is one simple command of a RUN script, its words expanded as
// the shell would.
type shellCmd struct {
	assigns []string // the NAME of each NAME=value written before the command
	words   []string
	glob    bool // a word has an unquoted *, ? or [ (the shell would glob it)
}

// scriptReader turns a parsed script into shellCmds.
type scriptReader struct {
	env  []string
	bash bool
	// set are the variables the script assigns: reading them later would
	// need the shell's own state.
	set map[string]bool
}

// readScript reads script as the shell sh (a SHELL value; empty for
// /bin/sh) would, with env as its environment, into the commands of a
// plain list, or says why it is not one.
func readScript(script string, sh, env []string) ([]shellCmd, string) {
	lang := syntax.LangPOSIX
	if len(sh) > 0 && path.Base(sh[0]) == "bash" {
		lang = syntax.LangBash
	}
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(script), "")
	if err != nil {
		return nil, fmt.Sprintf("the shell cannot parse it (%v)", err)
	}
	r := &scriptReader{env: env, bash: lang == syntax.LangBash, set: map[string]bool{}}
	var cmds []shellCmd
	for _, st := range f.Stmts {
		cs, why := r.stmt(st)
		if why != "" {
			return nil, why
		}
		cmds = append(cmds, cs...)
	}
	return cmds, ""
}

// stmt reads one statement: a simple command or an && chain of them.
func (r *scriptReader) stmt(st *syntax.Stmt) ([]shellCmd, string) {
	switch {
	case st.Background:
		return nil, "it starts a background job (&)"
	case st.Coprocess || st.Disown:
		return nil, "it starts a coprocess"
	case st.Negated:
		return nil, "it negates a command (!)"
	case len(st.Redirs) > 0:
		for _, rd := range st.Redirs {
			if rd.Hdoc != nil {
				return nil, "it redirects input or output (a heredoc)"
			}
		}
		return nil, "it redirects input or output"
	}
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		cmd, why := r.call(c)
		if why != "" {
			return nil, why
		}
		return []shellCmd{cmd}, ""
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.AndStmt:
		case syntax.OrStmt:
			return nil, "it uses ||"
		default:
			return nil, "it uses a pipe"
		}
		x, why := r.stmt(c.X)
		if why != "" {
			return nil, why
		}
		y, why := r.stmt(c.Y)
		if why != "" {
			return nil, why
		}
		return append(x, y...), ""
	case *syntax.DeclClause:
		cmd, why := r.decl(c)
		if why != "" {
			return nil, why
		}
		return []shellCmd{cmd}, ""
	case *syntax.Subshell:
		return nil, "it uses a subshell"
	case *syntax.Block:
		return nil, "it uses a command group"
	}
	return nil, construct(st.Cmd) + " is not a package install"
}

// construct names a shell construct for a reason.
func construct(c syntax.Command) string {
	switch c.(type) {
	case *syntax.IfClause:
		return "an if statement"
	case *syntax.WhileClause:
		return "a while loop"
	case *syntax.ForClause:
		return "a for loop"
	case *syntax.CaseClause:
		return "a case statement"
	case *syntax.FuncDecl:
		return "a function definition"
	case *syntax.ArithmCmd:
		return "an arithmetic command"
	case *syntax.TestClause:
		return "a [[ test ]]"
	}
	return fmt.Sprintf("a shell construct (%T)", c)
}

// call reads a simple command: its assignments and words.
func (r *scriptReader) call(c *syntax.CallExpr) (shellCmd, string) {
	var cmd shellCmd
	for _, a := range c.Assigns {
		name, why := r.assign(a)
		if why != "" {
			return cmd, why
		}
		cmd.assigns = append(cmd.assigns, name)
	}
	for _, w := range c.Args {
		fields, glob, why := r.word(w)
		if why != "" {
			return cmd, why
		}
		cmd.words = append(cmd.words, fields...)
		cmd.glob = cmd.glob || glob
	}
	if len(cmd.words) == 0 {
		// NAME=value alone sets a shell variable.
		for _, n := range cmd.assigns {
			r.set[n] = true
		}
	}
	if len(cmd.words) > 0 && cmd.words[0] == "export" {
		for _, w := range cmd.words[1:] {
			name, _, _ := strings.Cut(w, "=")
			r.set[name] = true
		}
	}
	return cmd, ""
}

// decl reads bash's export (the only declaration builtin a package install
// needs) as the words POSIX shells give it.
func (r *scriptReader) decl(c *syntax.DeclClause) (shellCmd, string) {
	if c.Variant.Value != "export" {
		return shellCmd{}, fmt.Sprintf("`%s` is not a package install", c.Variant.Value)
	}
	cmd := shellCmd{words: []string{"export"}}
	for _, a := range c.Args {
		if a.Name == nil {
			return cmd, "it passes an option to export"
		}
		name, why := r.assign(a)
		if why != "" {
			return cmd, why
		}
		r.set[name] = true
		cmd.words = append(cmd.words, name)
	}
	return cmd, ""
}

// assign checks NAME=value (or a bare NAME after export) and returns NAME.
func (r *scriptReader) assign(a *syntax.Assign) (string, string) {
	if a.Name == nil || a.Append || a.Index != nil || a.Array != nil {
		return "", "it assigns a variable in a way other than NAME=value"
	}
	if a.Value != nil {
		// The value matters only in that it must not run anything.
		if _, _, why := r.word(a.Value); why != "" {
			return "", why
		}
	}
	return a.Name.Value, ""
}

// word expands one word into the fields the shell would make of it. A
// word made only of unquoted expansions that are empty vanishes.
func (r *scriptReader) word(w *syntax.Word) (fields []string, glob bool, why string) {
	var cur strings.Builder
	quoted := false // a quoted part keeps the word even when empty
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			s, g, why := r.unquoted(p.Value)
			if why != "" {
				return nil, false, why
			}
			cur.WriteString(s)
			glob = glob || g
		case *syntax.SglQuoted:
			if p.Dollar {
				return nil, false, "it uses $'...' quoting"
			}
			cur.WriteString(p.Value)
			quoted = true
		case *syntax.DblQuoted:
			s, why := r.dblQuoted(p)
			if why != "" {
				return nil, false, why
			}
			cur.WriteString(s)
			quoted = true
		case *syntax.ParamExp:
			v, why := r.param(p)
			if why != "" {
				return nil, false, why
			}
			if _, ok := getEnv(r.env, "IFS"); ok || r.set["IFS"] {
				return nil, false, "it expands $" + p.Param.Value + " with IFS set"
			}
			if strings.ContainsAny(v, " \t\n") {
				if len(w.Parts) > 1 {
					return nil, false, "it splits $" + p.Param.Value + " inside a longer word"
				}
				// The shell splits the value into fields.
				return strings.Fields(v), strings.ContainsAny(v, "*?["), ""
			}
			cur.WriteString(v)
			glob = glob || strings.ContainsAny(v, "*?[")
		default:
			return nil, false, expansion(part)
		}
	}
	if cur.Len() == 0 && !quoted {
		return nil, glob, ""
	}
	return []string{cur.String()}, glob, ""
}

// expansion names a word part that is refused.
func expansion(p syntax.WordPart) string {
	switch p.(type) {
	case *syntax.CmdSubst:
		return "it uses command substitution"
	case *syntax.ArithmExp:
		return "it uses arithmetic expansion"
	case *syntax.ProcSubst:
		return "it uses process substitution"
	case *syntax.ExtGlob:
		return "it uses an extended glob"
	}
	return fmt.Sprintf("it uses a shell expansion (%T)", p)
}

// unquoted removes the backslashes of unquoted text and reports unescaped
// glob characters.
func (r *scriptReader) unquoted(s string) (string, bool, string) {
	var b strings.Builder
	glob := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		case '*', '?', '[':
			glob = true
			b.WriteByte(c)
		case '{', '}':
			if r.bash {
				return "", false, "it may use brace expansion"
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), glob, ""
}

// dblQuoted expands a "..." part: text with its escapes, and $NAME.
func (r *scriptReader) dblQuoted(q *syntax.DblQuoted) (string, string) {
	if q.Dollar {
		return "", `it uses $"..." quoting`
	}
	var b strings.Builder
	for _, part := range q.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			// Inside double quotes a backslash escapes only $ ` " \ and
			// a newline (which it removes); elsewhere it stays.
			s := p.Value
			for i := 0; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						b.WriteByte(s[i])
					}
					continue
				}
				b.WriteByte(s[i])
			}
		case *syntax.ParamExp:
			v, why := r.param(p)
			if why != "" {
				return "", why
			}
			b.WriteString(v)
		default:
			return "", expansion(part)
		}
	}
	return b.String(), ""
}

// param is the value of $NAME or ${NAME}: only a variable the stage sets
// (ENV or ARG), which the script does not change, with no operator.
func (r *scriptReader) param(p *syntax.ParamExp) (string, string) {
	if p.Param == nil || p.Flags != nil || p.Excl || p.Length || p.Width || p.IsSet ||
		p.Split != syntax.OptUnset || p.GlobSubst != syntax.OptUnset || p.RcExpand != syntax.OptUnset ||
		p.NestedParam != nil || p.Index != nil || len(p.Modifiers) > 0 || p.Slice != nil || p.Repl != nil ||
		p.Names != 0 || p.Exp != nil {
		return "", "it uses a parameter expansion with an operator"
	}
	name := p.Param.Value
	if !syntax.ValidName(name) {
		return "", "it reads the special parameter $" + name
	}
	if r.set[name] {
		return "", "it reads $" + name + ", which it sets itself"
	}
	v, ok := getEnv(r.env, name)
	if !ok {
		return "", "it reads $" + name + ", which the stage does not set"
	}
	return v, ""
}
