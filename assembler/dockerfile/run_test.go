package dockerfile

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers/run"
)

// RUN executes in the sandbox with the stage's env, args, user and
// working directory; a deletion is a whiteout; a no-op RUN is history only.
func TestRunExecutes(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": `FROM base
ARG GREETING=hi
ENV WHO=world
WORKDIR /work
RUN echo "$GREETING $WHO $BASE_VAR $(pwd)" > out.txt && rm /var/base.txt
USER app
WORKDIR /home/app/made
RUN id -u > /home/app/uid.txt
RUN true
USER root
RUN <<EOF
echo heredoc > /heredoc.txt
EOF
RUN <<EOF
#!/bin/sh
echo "shebang $0" > /shebang.txt
EOF
RUN ["/bin/sh", "-c", "echo exec > /exec.txt"]
`})
	var out bytes.Buffer
	svc := newServices(t)
	img := build(t, svc, dir, WithBuildContexts(map[string]string{"base": base}), WithRunOutput(&out))
	checkRunFiles(t, img)
	checkRunHistory(t, img)
	// The second build takes every RUN from the cache.
	img2 := build(t, svc, dir, WithBuildContexts(map[string]string{"base": base}))
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("rebuild: digest %s != %s", d2, d1)
	}

	// The deletion is a whiteout that umoci and podman honour.
	checkRunWhiteout(t, img)
}

// checkRunFiles checks the files the RUNs of TestRunExecutes made and deleted.
func checkRunFiles(t *testing.T, img v1.Image) {
	t.Helper()
	files := flatten(t, img)
	if f := files["work/out.txt"]; f.content != "hi world base /work\n" {
		t.Errorf("work/out.txt = %v", f)
	}
	if _, ok := files["var/base.txt"]; ok {
		t.Error("var/base.txt was deleted by RUN, yet the image has it")
	}
	if f := files["home/app/uid.txt"]; f.content != "1000\n" || f.uid != 1000 {
		t.Errorf("home/app/uid.txt = %v", f)
	}
	if f := files["home/app/made"]; f.typ != tar.TypeDir || f.uid != 1000 || f.gid != 1000 {
		t.Errorf("WORKDIR as user app: home/app/made = %v", f)
	}
	if f := files["heredoc.txt"]; f.content != "heredoc\n" {
		t.Errorf("heredoc.txt = %v", f)
	}
	if f := files["shebang.txt"]; !strings.HasPrefix(f.content, "shebang /") {
		t.Errorf("shebang.txt = %v", f)
	}
	if f := files["exec.txt"]; f.content != "exec\n" {
		t.Errorf("exec.txt = %v", f)
	}
	for p := range files {
		if strings.Contains(p, "assemble-heredoc") || strings.HasPrefix(p, "dev/") {
			t.Errorf("the sandbox left %s in the image", p)
		}
	}
}

// checkRunHistory checks the RUN history entries of TestRunExecutes.
func checkRunHistory(t *testing.T, img v1.Image) {
	t.Helper()
	h := history(t, img)
	wantRun := `RUN |1 GREETING=hi /bin/sh -c echo "$GREETING $WHO $BASE_VAR $(pwd)" > out.txt && rm /var/base.txt`
	found := false
	for _, l := range h {
		found = found || l == wantRun
	}
	if !found {
		t.Errorf("history lacks %q:\n%q", wantRun, h)
	}
	var empty int
	for _, l := range h {
		if strings.HasPrefix(l, "RUN |1 GREETING=hi /bin/sh -c true") && strings.HasSuffix(l, "(empty)") {
			empty++
		}
	}
	if empty != 1 {
		t.Errorf("RUN true should be an empty_layer history entry:\n%q", h)
	}
	// Layers and non-empty history entries agree.
	m, _ := img.Manifest()
	nonEmpty := 0
	for _, x := range configOf(t, img).History {
		if !x.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(m.Layers) {
		t.Errorf("%d layers, %d non-empty history entries", len(m.Layers), nonEmpty)
	}
}

// checkRunWhiteout checks that umoci and podman honour the deletion in
// TestRunExecutes's image.
func checkRunWhiteout(t *testing.T, img v1.Image) {
	t.Helper()
	layoutDir := filepath.Join(shortDir(t), "layout")
	writeLayout(t, layoutDir, img, "run")
	umoci := testtool.RequireTool(t, "umoci")
	bundle := filepath.Join(shortDir(t), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--image", layoutDir+":run", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(bundle, "rootfs/var/base.txt")); !os.IsNotExist(err) {
		t.Errorf("umoci: /var/base.txt should be deleted (stat: %v)", err)
	}
	if b, err := os.ReadFile(filepath.Join(bundle, "rootfs/etc/base-file")); err != nil || string(b) != "from the base\n" {
		t.Errorf("umoci: the base's other files must stay: %q %v", b, err)
	}
	got := podmanRun(t, layoutDir, "run", "/bin/sh", "-c", "test -e /var/base.txt && echo present || echo deleted; cat /work/out.txt")
	if got != "deleted\nhi world base /work\n" {
		t.Errorf("podman printed %q", got)
	}
}

// A failing RUN names the line, the exit status and the output's tail; a
// RUN under --no-run is refused naming the line.
func TestRunErrors(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": "FROM base\nENV X=1\nRUN echo line one && echo the reason >&2 && exit 3\n"})
	err := buildErr(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base}))
	mustContain(t, err, "Dockerfile:3:", "exit status 3", "the reason")
	var exit *run.ExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Errorf("error %v does not unwrap to a *run.ExitError with code 3", err)
	}
	err = buildErr(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base}), WithNoRun(true))
	mustContain(t, err, "Dockerfile:3:", "--no-run", "echo line one")

	// Secret mounts are supported now (issue 18): a required one that was
	// not given is the error.
	dir = repo(t, map[string]string{"Dockerfile": "FROM base\nRUN --mount=type=secret,id=x,required cat /run/secrets/x\n"})
	mustContain(t, buildErr(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base})), "Dockerfile:2:", "--mount=type=secret", "id=x is required")
}

// Package installs are translated, not run: they work with no-run and
// reach Env with the packages, requirement files and options.
func TestRunTranslated(t *testing.T) {
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{
		"Dockerfile": `FROM base
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev=2.36-9+deb12u4 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt wheels/ ./
COPY wheels wheels
ENV PIP_NO_CACHE_DIR=1
RUN set -eux; \
    DEBIAN_FRONTEND=noninteractive apt-get -yq install jq; \
    python3 -m pip install --break-system-packages -r requirements.txt --find-links wheels 'requests>=2,<3' -U
RUN ["pip3", "install", "--no-index", "six==1.16.0"]
`,
		"requirements.txt": "hello==1.0\n",
		"wheels/x.txt":     "",
	})
	svc := newServices(t)
	img := build(t, svc, dir, WithBuildContexts(map[string]string{"base": base}), WithNoRun(true))
	if len(svc.installs) != 4 {
		t.Fatalf("installs = %+v", svc.installs)
	}
	deb := svc.installs[0]
	if deb.Kind != plan.KindDeb || len(deb.Deb.Packages) != 2 || deb.Deb.Packages[0].Name != "gcc" || deb.Deb.Packages[1].Name != "libc6-dev=2.36-9+deb12u4" || deb.Deb.Packages[0].Where != "Dockerfile:2" {
		t.Errorf("deb install = %+v", deb.Deb)
	}
	if jq := svc.installs[1]; jq.Kind != plan.KindDeb || jq.Deb.Packages[0].Name != "jq" {
		t.Errorf("jq install = %+v", jq)
	}
	py := svc.installs[2].Python
	if py == nil || len(py.Requirements) != 1 || py.Requirements[0] != "requirements.txt" || len(py.FindLinks) != 1 || py.FindLinks[0] != "wheels" || len(py.Packages) != 1 || py.Packages[0] != "requests>=2,<3" {
		t.Errorf("python install = %+v", py)
	}
	if py := svc.installs[3].Python; py == nil || !py.NoIndex || py.Packages[0] != "six==1.16.0" {
		t.Errorf("exec-form pip install = %+v", py)
	}
	files := flatten(t, img)
	if files["translated/deb-1"].content != "gcc\nlibc6-dev=2.36-9+deb12u4\n" {
		t.Errorf("translated layer: %v", keys(files))
	}
	h := history(t, img)
	if !strings.HasPrefix(h[1], "RUN /bin/sh -c apt-get update && apt-get install") {
		t.Errorf("history[1] = %q", h[1])
	}
	cf := configOf(t, img)
	if c := cf.History[1].Comment; !strings.Contains(c, "deb layer: gcc libc6-dev") {
		t.Errorf("history comment = %q", c)
	}

	// apt-get in a stage that is not Debian would fail: it is not translated.
	dir = repo(t, map[string]string{"Dockerfile": "FROM scratch\nRUN apt-get install -y curl\n"})
	mustContain(t, buildErr(t, newServices(t), dir, WithNoRun(true)), "Dockerfile:2:", "not a Debian image", "--no-run")
}

// What is and is not a package install.
func TestTranslateClassification(t *testing.T) {
	cases := []struct {
		run  string
		want string // "" = translated; else a part of why it runs
		env  []string
		user string
	}{
		{"apt-get install -y curl", "", nil, ""},
		{"apt-get update -qq && apt-get install -qqy --no-install-recommends curl ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*", "", nil, ""},
		{"apt install -y -o Dpkg::Options::=--force-confold vim", "", nil, ""},
		{"pip install --no-cache-dir numpy==1.26.4", "", nil, ""},
		{"pip3 install -q -U 'flask[async]>=3'", "", nil, ""},
		{"/usr/local/bin/python3.11 -m pip install six", "", nil, ""},
		{"apt-get install -y curl | tee log", "pipe", nil, ""},
		{"apt-get install -y curl || true", "||", nil, ""},
		{"apt-get install -y $(cat pkgs)", "command substitution", nil, ""},
		{"apt-get install -y curl > /dev/null", "redirect", nil, ""},
		{"apt-get install -y ./local.deb", "not a plain package name", nil, ""},
		{"apt-get install -y 'lib*'", "not a plain package name", nil, ""},
		{"apt-get install -y lib*", "wildcard", nil, ""},
		{"apt-get upgrade -y", "changes more than adding packages", nil, ""},
		{"apt-get install -t bookworm-backports -y curl", "apt option -t", nil, ""},
		{"apt-get install -y curl && make", "`make` is not a package install", nil, ""},
		{"rm -rf /tmp/* && apt-get install -y curl", "removes more than package caches", nil, ""},
		{"pip install -e .", "pip option -e", nil, ""},
		{"pip install --user six", "pip option --user", nil, ""},
		{"pip install .", "not a plain requirement", nil, ""},
		{"pip install git+https://x/y.git", "not a plain requirement", nil, ""},
		{"pip install -r requirements.txt", "not a file COPY'd from the build context", nil, ""},
		{"pip install six", "VIRTUAL_ENV", []string{"VIRTUAL_ENV=/venv"}, ""},
		{"pip install six", "PATH puts /opt/venv/bin", []string{"PATH=/opt/venv/bin:/usr/bin"}, ""},
		{"apt-get install -y curl", "user app", nil, "app"},
		{"echo hi", "`echo hi` is not a package install", nil, ""},
		{"apt-get update", "installs no packages", nil, ""},
		{"FOO=1 apt-get install -y curl", "sets FOO", nil, ""},
		{"if true; then apt-get install -y curl; fi", "not a package install", nil, ""},
		{"apt-get install -y curl &", "background", nil, ""},
	}
	for _, c := range cases {
		checkTranslate(t, translateStage(c.user, nil, c.env), c.run, c.want)
	}
}
