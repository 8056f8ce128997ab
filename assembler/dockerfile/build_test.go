package dockerfile

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Config instructions: every field Docker sets, history with empty_layer.
func TestConfigInstructions(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": `# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM ${BASE}
ENV A=1 B="two words"
ENV C=${A}-\${A}
LABEL org.example.name="demo" version=1.0
MAINTAINER someone@example.com
USER 1000:1000
EXPOSE 8080 53/udp 9000-9001/tcp
VOLUME ["/data", "/cache"]
WORKDIR /
STOPSIGNAL SIGINT
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD curl -f http://localhost/ || exit 1
ONBUILD RUN echo child
ENTRYPOINT ["/app"]
CMD echo $A
`})
	svc := newServices(t)
	img := build(t, svc, dir)
	cf := configOf(t, img)
	c := cf.Config
	wantEnv := []string{"PATH=" + defaultPath, "A=1", "B=two words", "C=1-${A}"}
	if !reflect.DeepEqual(c.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", c.Env, wantEnv)
	}
	if c.Labels["org.example.name"] != "demo" || c.Labels["version"] != "1.0" {
		t.Errorf("Labels = %v", c.Labels)
	}
	if cf.Author != "someone@example.com" {
		t.Errorf("Author = %q", cf.Author)
	}
	if c.User != "1000:1000" {
		t.Errorf("User = %q", c.User)
	}
	for _, p := range []string{"8080/tcp", "53/udp", "9000/tcp", "9001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts lacks %s: %v", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 2 {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	if c.StopSignal != "SIGINT" || c.WorkingDir != "/" {
		t.Errorf("StopSignal %q WorkingDir %q", c.StopSignal, c.WorkingDir)
	}
	if !reflect.DeepEqual(c.Shell, []string{"/bin/bash", "-o", "pipefail", "-c"}) {
		t.Errorf("Shell = %q", c.Shell)
	}
	if h := c.Healthcheck; h == nil || !reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}) || h.Interval != 5*time.Second || h.Timeout != 2*time.Second || h.Retries != 3 {
		t.Errorf("Healthcheck = %+v", c.Healthcheck)
	}
	if !reflect.DeepEqual(c.OnBuild, []string{"RUN echo child"}) {
		t.Errorf("OnBuild = %q", c.OnBuild)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/app"}) {
		t.Errorf("Entrypoint = %q", c.Entrypoint)
	}
	// CMD in shell form takes the SHELL; after ENTRYPOINT it is kept.
	if !reflect.DeepEqual(c.Cmd, []string{"/bin/bash", "-o", "pipefail", "-c", "echo $A"}) {
		t.Errorf("Cmd = %q", c.Cmd)
	}
	h := history(t, img)
	want := []string{
		"ENV A=1 B=two words (empty)",
		"ENV C=1-${A} (empty)",
		"LABEL org.example.name=demo version=1.0 (empty)",
		"MAINTAINER someone@example.com (empty)",
		"USER 1000:1000 (empty)",
		"EXPOSE [53/udp 8080/tcp 9000/tcp 9001/tcp] (empty)",
		"VOLUME [/data /cache]", // makes /data and /cache (issue 18)
		"WORKDIR / (empty)",
		"STOPSIGNAL SIGINT (empty)",
		"SHELL [/bin/bash -o pipefail -c] (empty)",
	}
	for i, w := range want {
		if i >= len(h) || h[i] != w {
			t.Fatalf("history[%d] = %q, want %q\nall: %q", i, at(h, i), w, h)
		}
	}
	if !strings.HasPrefix(h[10], "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:5s") {
		t.Errorf("history[10] = %q", h[10])
	}
	if h[11] != `ENTRYPOINT ["/app"] (empty)` || h[12] != `CMD ["/bin/bash" "-o" "pipefail" "-c" "echo $A"] (empty)` || len(h) != 13 {
		t.Errorf("history tail = %q", h[11:])
	}
	if m, _ := img.Manifest(); len(m.Layers) != 1 {
		t.Errorf("%d layers, want one (VOLUME's directories)", len(m.Layers))
	}
	// ENTRYPOINT without CMD in the same stage clears the base's CMD.
	dir2 := repo(t, map[string]string{"Dockerfile": "FROM scratch AS a\nCMD [\"x\"]\nFROM a\nENTRYPOINT [\"y\"]\n"})
	if c := configOf(t, build(t, svc, dir2)).Config; c.Cmd != nil || !reflect.DeepEqual(c.Entrypoint, []string{"y"}) {
		t.Errorf("Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<none>"
}

// ARG before and after FROM, build args, defaults, the platform args.
func TestArgs(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": `ARG V=1
ARG NAME=base-${V}
FROM scratch
ARG V
ARG NAME
ARG LOCAL=local-${V}
ARG UNSET
ARG TARGETARCH
ENV OUT=${NAME}/${LOCAL}/${UNSET:-none}/${TARGETARCH}
LABEL v=$V
`})
	svc := newServices(t)
	img := build(t, svc, dir)
	env := configOf(t, img).Config.Env
	if env[len(env)-1] != "OUT=base-1/local-1/none/"+amd64().Architecture {
		t.Errorf("env = %q", env)
	}
	img = build(t, svc, dir, WithBuildArgs(map[string]string{"V": "9", "UNSET": "set"}))
	env = configOf(t, img).Config.Env
	if env[len(env)-1] != "OUT=base-9/local-9/set/"+amd64().Architecture {
		t.Errorf("with build args: env = %q", env)
	}
	// ARG values are not kept in the config, only in history.
	h := history(t, img)
	if h[0] != "ARG V=9 (empty)" {
		t.Errorf("history = %q", h)
	}
	// plan.Dockerfile.BuildArgs count too; options win over them.
	img, err := Build(context.Background(), dir, plan.Dockerfile{Path: "Dockerfile", Context: ".", BuildArgs: map[string]string{"V": "p", "UNSET": "q"}}, amd64(), svc, WithBuildArgs(map[string]string{"UNSET": "o"}))
	if err != nil {
		t.Fatal(err)
	}
	env = configOf(t, img).Config.Env
	if env[len(env)-1] != "OUT=base-p/local-p/o/"+amd64().Architecture {
		t.Errorf("plan build args: env = %q", env)
	}
}

// Line continuations, the escape directive, heredocs, comments.
func TestParsing(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": "# escape=`\n" +
		"FROM scratch\n" +
		"# a comment\n" +
		"ENV A=one `\n" +
		"    B=two\n" +
		"LABEL path=C:\\windows\n" +
		"COPY <<EOF <<-LAST /etc/\n" +
		"hello $A\n" +
		"EOF\n" +
		"\tindented\n" +
		"\tLAST\n" +
		"COPY <<'EOF' /raw.txt\n" +
		"keep $A\n" +
		"EOF\n",
	})
	img := build(t, newServices(t), dir)
	cf := configOf(t, img)
	if cf.Config.Labels["path"] != `C:\windows` {
		t.Errorf("label = %q", cf.Config.Labels["path"])
	}
	env := cf.Config.Env
	if env[1] != "A=one" || env[2] != "B=two" {
		t.Errorf("env = %q", env)
	}
	files := flatten(t, img)
	if f := files["etc/EOF"]; f.content != "hello one\n" || f.mode != 0o644 {
		t.Errorf("etc/EOF = %v", f)
	}
	if f := files["etc/LAST"]; f.content != "indented\n" {
		t.Errorf("etc/LAST = %v", f)
	}
	if f := files["raw.txt"]; f.content != "keep $A\n" {
		t.Errorf("raw.txt = %v", f)
	}
}

// Multi-stage: named and numbered stages, a target, FROM an earlier stage.
func TestStages(t *testing.T) {
	dir := repo(t, map[string]string{
		"a.txt": "A\n",
		"Dockerfile": `FROM scratch AS first
COPY a.txt /first/
ENV FROM_FIRST=1
FROM first AS second
COPY --from=0 /first/a.txt /second/b.txt
FROM scratch AS unused
COPY missing /nope
FROM scratch
COPY --from=second /second /out
COPY --from=first /first/a.txt /out/c.txt
`})
	svc := newServices(t)
	files := flatten(t, build(t, svc, dir))
	if files["out/b.txt"].content != "A\n" || files["out/c.txt"].content != "A\n" || len(files) != 3 {
		t.Errorf("files = %v", keys(files))
	}
	img := build(t, svc, dir, WithTarget("second"))
	files = flatten(t, img)
	if files["first/a.txt"].content != "A\n" || files["second/b.txt"].content != "A\n" {
		t.Errorf("target second: files = %v", keys(files))
	}
	if env := configOf(t, img).Config.Env; env[len(env)-1] != "FROM_FIRST=1" {
		t.Errorf("target second: env %q", env)
	}
	err := buildErr(t, svc, dir, WithTarget("unused"))
	mustContain(t, err, "Dockerfile:7:", "missing", "not found in the build context")
	err = buildErr(t, svc, dir, WithTarget("nosuch"))
	mustContain(t, err, `target stage "nosuch"`, "first, second, unused")
}
