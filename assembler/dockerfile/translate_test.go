package dockerfile

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
)

// The shell parser reads words as sh does (quotes, escapes, line
// continuations, comments, $NAME of the stage's variables) and refuses
// every construct whose effect it cannot be sure of.
func TestTranslateShellSyntax(t *testing.T) {
	bash := []string{"/bin/bash", "-o", "pipefail", "-c"}
	cases := []struct {
		run   string
		want  string   // "" = translated; else a part of why it runs
		names []string // when translated: the packages of every install, in order
		env   []string
		shell []string
	}{
		// Words.
		{`apt-get install -y "curl" 'jq'`, "", []string{"curl", "jq"}, nil, nil},
		{`apt-get install -y cu\rl "j"'q'`, "", []string{"curl", "jq"}, nil, nil},
		{`pip install "requests >= 2" 'six==1.16.0'`, "", []string{"requests >= 2", "six==1.16.0"}, nil, nil},
		{"pip install \"six\\\n==1.16.0\"", "", []string{"six==1.16.0"}, nil, nil},
		{`apt-get install -y \*`, "not a plain package name", nil, nil, nil},
		{`apt-get install -y "lib*"`, "not a plain package name", nil, nil, nil},
		{`apt-get install -y ""`, "not a plain package name", nil, nil, nil},
		{`apt-get install -y $'curl'`, "$'...'", nil, nil, bash},
		{`apt-get install -y 'curl`, "cannot parse", nil, nil, nil},
		// Line continuations and comments.
		{"apt-get install -y \\\n    curl \\\n    jq", "", []string{"curl", "jq"}, nil, nil},
		{"# tools\napt-get install -y curl # jq\n\n# done", "", []string{"curl"}, nil, nil},
		{"apt-get install -y curl \\\n  # a comment ends the command here\n", "", []string{"curl"}, nil, nil},
		{"apt-get install -y curl#jq", "not a plain package name", nil, nil, nil},
		// Lists: ; newlines and && chain, || and pipes do not.
		{"apt-get update; apt-get install -y curl", "", []string{"curl"}, nil, nil},
		{"apt-get update\napt-get install -y curl\npip install six", "", []string{"curl", "six"}, nil, nil},
		{"apt-get update && apt-get install -y curl && pip install six", "", []string{"curl", "six"}, nil, nil},
		{"apt-get update || true && apt-get install -y curl", "||", nil, nil, nil},
		{"apt-get install -y curl || apt-get install -y wget", "||", nil, nil, nil},
		{"apt-get install -y curl |& cat", "pipe", nil, nil, bash},
		{"apt-get install -y curl;;", "cannot parse", nil, nil, nil},
		// Heredocs and other redirections.
		{"cat <<EOF > /etc/apt/apt.conf.d/90x\nAPT::Install-Recommends \"0\";\nEOF\napt-get install -y curl", "heredoc", nil, nil, nil},
		{"apt-get install -y curl <<EOF\nY\nEOF", "heredoc", nil, nil, nil},
		{"apt-get install -y curl 2>&1", "redirect", nil, nil, nil},
		// Compound commands.
		{"(apt-get install -y curl)", "subshell", nil, nil, nil},
		{"{ apt-get install -y curl; }", "command group", nil, nil, nil},
		{"! apt-get install -y curl", "negates", nil, nil, nil},
		{"for p in curl; do apt-get install -y $p; done", "for loop is not a package install", nil, nil, nil},
		{"while false; do :; done; apt-get install -y curl", "while loop is not a package install", nil, nil, nil},
		{"case x in x) apt-get install -y curl;; esac", "case statement is not a package install", nil, nil, nil},
		{"f() { :; }; apt-get install -y curl", "function definition is not a package install", nil, nil, nil},
		{"[[ -e /x ]] && apt-get install -y curl", "test", nil, nil, bash},
		// Variables: only $NAME of what the stage sets, with no operator.
		{"apt-get install -y $PKG ${PKG}-doc \"$PKG\"", "", []string{"curl", "curl-doc", "curl"}, []string{"PKG=curl"}, nil},
		{"apt-get install -y $PKGS", "", []string{"curl", "jq"}, []string{"PKGS=curl  jq"}, nil},
		{"apt-get install -y $EMPTY curl", "", []string{"curl"}, []string{"EMPTY="}, nil},
		{"apt-get install -y \"$PKGS\"", "not a plain package name", nil, []string{"PKGS=curl jq"}, nil},
		{"apt-get install -y lib$PKGS", "splits $PKGS", nil, []string{"PKGS=a b"}, nil},
		{"apt-get install -y $PKG", "wildcard", nil, []string{"PKG=lib*"}, nil},
		{"apt-get install -y $PKG", "$PKG, which the stage does not set", nil, nil, nil},
		{"apt-get install -y ${PKG:-curl}", "operator", nil, []string{"PKG=curl"}, nil},
		{"apt-get install -y $1", "special parameter", nil, nil, nil},
		{"apt-get install -y $PKG", "IFS", nil, []string{"PKG=curl", "IFS=,"}, nil},
		{"DEBIAN_FRONTEND=noninteractive; apt-get install -y $DEBIAN_FRONTEND", "which it sets itself", nil, []string{"DEBIAN_FRONTEND=x"}, nil},
		{"apt-get install -y $((1+1))", "arithmetic", nil, nil, nil},
		{"apt-get install -y `cat pkgs`", "command substitution", nil, nil, nil},
		{"DEBIAN_FRONTEND=$(cat f) apt-get install -y curl", "command substitution", nil, nil, nil},
		{"apt-get install -y \"$(cat pkgs)\"", "command substitution", nil, nil, nil},
		// export and assignments, in sh and in bash.
		{"export DEBIAN_FRONTEND=noninteractive && apt-get install -y curl", "", []string{"curl"}, nil, nil},
		{"export DEBIAN_FRONTEND=noninteractive && apt-get install -y curl", "", []string{"curl"}, nil, bash},
		{"export FOO=1 && apt-get install -y curl", "exports FOO", nil, nil, bash},
		{"export -n DEBIAN_FRONTEND && apt-get install -y curl", "option", nil, nil, bash},
		{"local x=1; apt-get install -y curl", "not a package install", nil, nil, bash},
		{"FOO=1; apt-get install -y curl", "sets FOO", nil, nil, nil},
		{"apt-get install -y lib{a,b}", "brace expansion", nil, nil, bash},
		// Cleanups stay where package caches are.
		{"apt-get install -y curl && rm -rf /var/lib/apt/lists/../../../../etc", "removes more than package caches", nil, nil, nil},
		{"set -o pipefail && apt-get install -y curl && rm -rf /var/lib/apt/lists/", "", []string{"curl"}, nil, bash},
	}
	for _, c := range cases {
		got, ok := checkTranslate(t, translateStage("", c.shell, c.env), c.run, c.want)
		if names := installNames(got); ok && !reflect.DeepEqual(names, c.names) {
			t.Errorf("%q: installs %q, want %q", c.run, names, c.names)
		}
	}
}

// A RUN heredoc is the script itself: translated when it is a plain list,
// run when it writes a file or names an interpreter.
func TestTranslateHeredoc(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": `FROM debian:bookworm
RUN <<EOF
# tools
apt-get update
apt-get install -y --no-install-recommends \
    curl jq
EOF
RUN cat <<EOF > /etc/apt/apt.conf.d/99norecommends
APT::Install-Recommends "0";
EOF
RUN <<EOF
#!/bin/bash
apt-get install -y curl
EOF
`})
	steps, err := Describe(dir, plan.Dockerfile{Path: "Dockerfile", Context: "."})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"base docker://docker.io/library/debian:bookworm",
		"deb layer: curl jq",
		"run in the sandbox (it redirects input or output (a heredoc))",
		"run in the sandbox (it runs a script file from a heredoc)",
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.Becomes)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps become:\n%q\nwant\n%q", got, want)
	}
}

// The exec form is taken word for word: NAME=value is a program name there.
func TestTranslateExecForm(t *testing.T) {
	s := translateStage("", nil, nil)
	if got := s.translate("", []string{"apt-get", "install", "-y", "$PKG"}, "Dockerfile:1"); !strings.Contains(got.why, "not a plain package name") {
		t.Errorf("exec form with $PKG: why = %q", got.why)
	}
	if got := s.translate("", []string{"DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "curl"}, "Dockerfile:1"); !strings.Contains(got.why, "not a package install") {
		t.Errorf("exec form with an assignment: why = %q", got.why)
	}
}

// installNames lists the packages (deb) and requirements (python) of a
// translation's installs.
func installNames(tr translation) []string {
	var names []string
	for _, in := range tr.installs {
		if in.layer.Deb != nil {
			for _, p := range in.layer.Deb.Packages {
				names = append(names, p.Name)
			}
		}
		if in.layer.Python != nil {
			names = append(names, in.layer.Python.Packages...)
		}
	}
	return names
}

// translateStage is a stage to try translations on, with no services (so
// apt-get needs no dpkg database): PATH and env are its environment.
func translateStage(user string, shell, env []string) *stage {
	s := &stage{b: &builder{}, prov: map[string]string{}}
	s.cf = configOfUser(user)
	s.cf.Config.Shell = shell
	s.env = []string{"PATH=" + defaultPath}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		s.env = setEnv(s.env, k, v)
	}
	s.tree = newTree(context.Background())
	return s
}

// checkTranslate translates the script run in s and reports whether it is
// translated as wanted: want "" means translated, else a part of the reason
// it runs instead. ok is true when it was translated and wanted to be.
func checkTranslate(t *testing.T, s *stage, run, want string) (got translation, ok bool) {
	t.Helper()
	got = s.translate(run, nil, "Dockerfile:1")
	switch {
	case want == "" && got.why != "":
		t.Errorf("%q: not translated (%s)", run, got.why)
	case want != "" && !strings.Contains(got.why, want):
		t.Errorf("%q: why = %q, want it to mention %q", run, got.why, want)
	}
	return got, want == "" && got.why == ""
}

// pip install --break-system-packages (or PIP_BREAK_SYSTEM_PACKAGES=1, as
// pip reads it) is translated: the flag only lifts pip's refusal of an
// externally managed Python. A --find-links directory COPY'd from the
// context stays a wheelhouse of the context when a requirements file is
// COPY'd in beside the wheels, as long as both hold the same
// distributions; otherwise, and for options that move the install, the
// RUN runs.
func TestTranslatePipBreakSystemPackages(t *testing.T) {
	const whl = "a-1.0-py3-none-any.whl"
	dir := repo(t, map[string]string{"wheels/" + whl: "", "wheels/README": "", "requirements.txt": "a\n", "more/" + whl: "", "more/b-1.0.tar.gz": ""})
	newStage := func(env []string, imageFiles ...string) *stage {
		s := translateStage("", nil, env)
		s.b.d = &dockerfile{root: dir}
		entries := []layers.Entry{{Path: "wheels", Type: layers.TypeDir, Mode: 0o755}}
		for _, f := range imageFiles {
			entries = append(entries, layers.Entry{Path: f, Type: layers.TypeFile, Mode: 0o644})
		}
		if err := s.tree.apply(entries); err != nil {
			t.Fatal(err)
		}
		// From the context: the wheel and the requirements file; not the README.
		s.prov["wheels/"+whl] = "wheels/" + whl
		s.prov["wheels/requirements.txt"] = "requirements.txt"
		return s
	}
	run := "python3 -m pip install --break-system-packages --no-index --find-links /wheels -r /wheels/requirements.txt"
	cases := []struct {
		name  string
		s     *stage
		run   string
		want  string
		links string
	}{
		{"flag", newStage(nil, "wheels/"+whl, "wheels/requirements.txt", "wheels/README"), run, "", "wheels"},
		{"variable in front", newStage(nil, "wheels/"+whl), "PIP_BREAK_SYSTEM_PACKAGES=1 pip install -f /wheels a", "", "wheels"},
		{"stage variable", newStage([]string{"PIP_BREAK_SYSTEM_PACKAGES=1"}, "wheels/"+whl), "pip install --find-links=/wheels a", "", "wheels"},
		{"a wheel not from the context", newStage(nil, "wheels/"+whl, "wheels/b-1.0-py3-none-any.whl"), run, "--find-links directory /wheels", ""},
		{"--user", newStage(nil, "wheels/"+whl), "pip install --break-system-packages --user a", "--user", ""},
		{"--target", newStage(nil, "wheels/"+whl), "pip install --break-system-packages --target /opt a", "--target", ""},
	}
	for _, c := range cases {
		got, ok := checkTranslate(t, c.s, c.run, c.want)
		if !ok {
			continue
		}
		if py := got.installs[0].layer.Python; len(py.FindLinks) != 1 || py.FindLinks[0] != c.links {
			t.Errorf("%s: find-links = %q, want %q", c.name, py.FindLinks, c.links)
		}
	}
	// The context's directory has a distribution the image's lacks: pip in
	// the image would not see it, the Python layer would.
	s := newStage(nil, "wheels/"+whl)
	s.prov["wheels/"+whl] = "more/" + whl
	checkTranslate(t, s, run, "--find-links directory /wheels")
}
