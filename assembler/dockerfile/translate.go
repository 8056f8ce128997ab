package dockerfile

import (
	"fmt"
	"path"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// A RUN is translated only when every command in it is one this file can
// prove equivalent to a package layer (or harmless around one: apt-get
// update, cleanups). Anything else, or any shell construct that is not a
// plain list of commands, sends the whole RUN to the sandbox.

// install is one package layer a RUN becomes.
type install struct {
	layer plan.Layer
	what  string // "deb layer: gcc libc6-dev"
}

// translation is what a RUN becomes: installs, or (why != "") the sandbox.
type translation struct {
	installs []install
	why      string
}

func notTranslated(format string, a ...any) translation {
	return translation{why: fmt.Sprintf(format, a...)}
}

// rootUser reports whether a USER value is root.
func rootUser(u string) bool {
	switch u {
	case "", "root", "0", "0:0", "root:root", "root:0", "0:root":
		return true
	}
	return false
}

// posixShell reports whether SHELL runs scripts as sh would.
func posixShell(sh []string) bool {
	if len(sh) == 0 {
		return true
	}
	switch path.Base(sh[0]) {
	case "sh", "bash", "dash", "ash":
	default:
		return false
	}
	if sh[len(sh)-1] != "-c" && !strings.HasSuffix(sh[len(sh)-1], "c") {
		return false
	}
	for i := 1; i < len(sh)-1; i++ {
		a := sh[i]
		switch {
		case a == "-o" && i+1 < len(sh)-1:
			i++
		case strings.HasPrefix(a, "-") && strings.Trim(a[1:], "euxlc") == "":
		default:
			return false
		}
	}
	return true
}

var (
	debNameRe = lazyregexp.New(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$`)
	pipRe     = lazyregexp.New(`^pip(3(\.[0-9]+)?)?$`)
	pythonRe  = lazyregexp.New(`^python(3(\.[0-9]+)?)?$`)
)

// harmlessVars may be set in front of a translated command (or exported).
var harmlessVars = map[string]bool{
	"DEBIAN_FRONTEND": true, "DEBCONF_NONINTERACTIVE_SEEN": true, "APT_LISTCHANGES_FRONTEND": true,
	"PIP_NO_CACHE_DIR": true, "PIP_DISABLE_PIP_VERSION_CHECK": true, "PIP_ROOT_USER_ACTION": true,
	"PIP_BREAK_SYSTEM_PACKAGES": true, "PIP_PROGRESS_BAR": true, "PIP_QUIET": true, "PIP_NO_WARN_SCRIPT_LOCATION": true,
	"PYTHONDONTWRITEBYTECODE": true,
}

// standardDirs are where the system's pip and python live.
var standardDirs = map[string]bool{"": true, "/usr/bin": true, "/usr/local/bin": true, "/bin": true, "/usr/sbin": true, "/usr/local/sbin": true, "/sbin": true}

// cleanupPrefixes are what a translated RUN may remove: caches of apt and
// pip, which package layers never write.
var cleanupPrefixes = []string{
	"/var/lib/apt/lists", "/var/cache/apt", "/var/cache/debconf", "/var/log/apt", "/var/log/dpkg.log",
	"/root/.cache/pip", "~/.cache/pip", "/root/.cache", "~/.cache",
}

// translate decides what a RUN becomes. argv is the exec form (nil for a
// shell script), script the shell form.
func (s *stage) translate(script string, argv []string, where string) translation {
	if !rootUser(s.cf.Config.User) {
		return notTranslated("it runs as user %s, not root", s.cf.Config.User)
	}
	cmds := []shellCmd{{words: argv}}
	if argv == nil {
		if !posixShell(s.cf.Config.Shell) {
			return notTranslated("SHELL %v is not a POSIX shell", s.cf.Config.Shell)
		}
		var why string
		if cmds, why = readScript(script, s.cf.Config.Shell, s.env); why != "" {
			return notTranslated("%s", why)
		}
	}
	var t translation
	for _, c := range cmds {
		in, why := s.command(c, where)
		if why != "" {
			return notTranslated("%s", why)
		}
		if in != nil {
			t.installs = append(t.installs, *in)
		}
	}
	if len(t.installs) == 0 {
		return notTranslated("it installs no packages")
	}
	return t
}

// command reads one command of a RUN: an install, a harmless command (nil,
// ""), or why it is neither.
func (s *stage) command(c shellCmd, where string) (*install, string) {
	for _, name := range c.assigns {
		if !harmlessVars[name] {
			return nil, fmt.Sprintf("it sets %s for a command", name)
		}
	}
	words := c.words
	if len(words) == 0 {
		return nil, ""
	}
	cmd := words[0]
	quoted := "`" + strings.Join(words, " ") + "`"
	if c.glob && cmd != "rm" {
		return nil, quoted + " uses a wildcard"
	}
	switch {
	case cmd == "true" || cmd == ":":
		return nil, ""
	case cmd == "set":
		return nil, setOptions(words[1:], quoted)
	case cmd == "export":
		for _, w := range words[1:] {
			name, _, _ := strings.Cut(w, "=")
			if !harmlessVars[name] {
				return nil, fmt.Sprintf("it exports %s", name)
			}
		}
		return nil, ""
	case cmd == "apt-get" || cmd == "apt" || cmd == "/usr/bin/apt-get" || cmd == "/usr/bin/apt":
		return s.apt(words[1:], quoted, where)
	case cmd == "rm":
		return nil, rmCleanup(words[1:], quoted)
	}
	dir, base := path.Split(cmd)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case pipRe.MatchString(base) && standardDirs[dir]:
		if len(words) < 2 || words[1] != "install" {
			return nil, quoted + " is not `pip install`"
		}
		return s.pip(words[2:], quoted, where)
	case pythonRe.MatchString(base) && standardDirs[dir]:
		if len(words) < 4 || words[1] != "-m" || words[2] != "pip" || words[3] != "install" {
			return nil, quoted + " is not `python -m pip install`"
		}
		return s.pip(words[4:], quoted, where)
	}
	return nil, quoted + " is not a package install"
}

// setOptions accepts `set` with only the options that change how the
// shell reports errors, not what the commands do.
func setOptions(args []string, quoted string) string {
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case w == "-o" || w == "+o":
			i++
		case (strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+")) && strings.Trim(w[1:], "euxv") == "":
		default:
			return quoted + " is not a plain option setting"
		}
	}
	return ""
}

func (s *stage) apt(args []string, quoted, where string) (*install, string) {
	sub := ""
	var pkgs []string
	noRecommends := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" && i+1 < len(args):
			i++
			if v := args[i]; strings.Contains(v, "Install-Recommends=") {
				noRecommends = strings.HasSuffix(v, "=false") || strings.HasSuffix(v, "=0")
			}
		case strings.HasPrefix(a, "-o"):
			if strings.Contains(a, "Install-Recommends=") {
				noRecommends = strings.HasSuffix(a, "=false") || strings.HasSuffix(a, "=0")
			}
		case a == "--no-install-recommends":
			noRecommends = true
		case a == "--yes" || a == "--assume-yes" || a == "--quiet" || a == "--no-install-suggests" || a == "--fix-missing" || a == "--no-upgrade":
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 1 && strings.Trim(a[1:], "yq") == "":
		case strings.HasPrefix(a, "-"):
			return nil, fmt.Sprintf("%s: apt option %s", quoted, a)
		case sub == "":
			sub = a
		default:
			if !debNameRe.MatchString(a) {
				return nil, fmt.Sprintf("%s: %q is not a plain package name", quoted, a)
			}
			pkgs = append(pkgs, a)
		}
	}
	switch sub {
	case "update", "clean", "autoclean":
		if len(pkgs) > 0 {
			return nil, quoted + " has unexpected arguments"
		}
		return nil, ""
	case "install":
	default:
		return nil, fmt.Sprintf("%s: apt-get %s changes more than adding packages", quoted, sub)
	}
	if len(pkgs) == 0 {
		return nil, quoted + " names no packages"
	}
	if !s.b.dry() {
		// Only a Debian stage has apt-get; elsewhere the command would fail.
		t, err := s.files()
		if err != nil {
			return nil, fmt.Sprintf("cannot read the stage's files: %v", err)
		}
		if n, _, _ := t.lookup("var/lib/dpkg/status", true); n == nil {
			return nil, "the stage has no dpkg database (/var/lib/dpkg/status): it is not a Debian image"
		}
	}
	var ps []plan.Package
	for _, p := range pkgs {
		ps = append(ps, plan.Package{Name: p, Where: where})
	}
	what := "deb layer: " + strings.Join(pkgs, " ")
	if !noRecommends {
		what += " (Recommends are not installed)"
	}
	return &install{layer: plan.Layer{Kind: plan.KindDeb, Source: where, Deb: &plan.DebLayer{Packages: ps}, Comment: "RUN " + strings.Join(append([]string{"apt-get", "install"}, pkgs...), " ")}, what: what}, ""
}

func rmCleanup(args []string, quoted string) string {
	paths := 0
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			if a == "--recursive" || a == "--force" || a == "--verbose" || strings.Trim(a[1:], "rRfv") == "" {
				continue
			}
			return fmt.Sprintf("%s: rm option %s", quoted, a)
		}
		// Cleaned, so that ../ cannot climb out of a cache.
		c := path.Clean(a)
		ok := false
		for _, p := range cleanupPrefixes {
			if c == p || strings.HasPrefix(c, p+"/") {
				ok = true
				break
			}
		}
		if !ok {
			return quoted + " removes more than package caches"
		}
		paths++
	}
	if paths == 0 {
		return quoted + " removes nothing"
	}
	return ""
}
