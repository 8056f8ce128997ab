package dockerfile

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// RUN --mount=type=bind reads a stage's file, the build context (without
// what .dockerignore hides), a named build context; read-only unless rw,
// and a rw mount's writes reach neither the layer nor the next RUN.
func TestRunMountBind(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	named := repo(t, map[string]string{"n.txt": "named context\n"})
	dir := repo(t, map[string]string{
		".dockerignore": "ignored.txt\n",
		"ignored.txt":   "hidden\n",
		"ctx.txt":       "from the context\n",
		"Dockerfile": `FROM base AS files
RUN mkdir /out && echo "from the stage" > /out/data.txt
FROM base
RUN --mount=type=bind,from=files,source=/out/data.txt,target=/mnt/data.txt cat /mnt/data.txt > /copied.txt
RUN --mount=type=bind,source=ctx.txt,target=ctx.txt cat /ctx.txt > /ctx-copied.txt
RUN --mount=type=bind,target=/src,rw echo scratch > /src/written.txt && cat /src/ctx.txt > /rw-read.txt
RUN --mount=type=bind,target=/src test ! -e /src/written.txt && test ! -e /src/ignored.txt && ! touch /src/x 2>/dev/null && echo ro > /ro.txt
RUN --mount=type=bind,from=named,target=/n cat /n/n.txt > /named.txt
`})
	img := build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base, "named": named}))
	files := flatten(t, img)
	for p, want := range map[string]string{
		"copied.txt": "from the stage\n", "ctx-copied.txt": "from the context\n", "rw-read.txt": "from the context\n",
		"ro.txt": "ro\n", "named.txt": "named context\n",
	} {
		if f := files[p]; f.content != want {
			t.Errorf("%s = %v, want %q", p, f, want)
		}
	}
	for p := range files {
		if p == "mnt" || p == "src" || p == "n" || p == "ctx.txt" || strings.HasPrefix(p, "mnt/") || strings.HasPrefix(p, "src/") {
			t.Errorf("%s is in the image: %v", p, keys(files))
		}
	}
	err := buildErr(t, newServices(t), repo(t, map[string]string{"Dockerfile": "FROM base\nRUN --mount=type=bind,source=nope,target=/x true\n"}),
		WithBuildContexts(map[string]string{"base": base}))
	mustContain(t, err, "Dockerfile:2", "source=nope", "not found in the build context")
}

// RUN --mount=type=tmpfs: an empty tmpfs whose files stay out of the layer.
func TestRunMountTmpfs(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	dir := repo(t, map[string]string{"Dockerfile": `FROM base
WORKDIR /w
RUN --mount=type=tmpfs,target=scratch,size=1m echo x > /w/scratch/f && test -f /w/scratch/f && echo done > /done.txt
`})
	files := flatten(t, build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base})))
	if files["done.txt"].content != "done\n" {
		t.Errorf("done.txt = %v", files["done.txt"])
	}
	if _, ok := files["w/scratch"]; ok {
		t.Errorf("w/scratch is in the image: %v", keys(files))
	}
}

// RUN --mount=type=secret: a file (default /run/secrets/ID, mode 0400) and
// a variable, read by the command; the value is in no layer, no history, no
// config and no file of the cache, and a changed value is a cache hit (as
// in BuildKit, whose cache key leaves secrets out).
func TestRunMountSecret(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	const fileVal, envVal = "file-secret-4f7b2c", "env-secret-9d1e3a"
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(fileVal), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ASSEMBLE_TEST_SECRET", envVal)
	dir := repo(t, map[string]string{"Dockerfile": `FROM base
ARG TOKEN=unused
RUN --mount=type=secret,id=token test "$(stat -c %a:%u /run/secrets/token)" = 400:0 && echo "file=$(cat /run/secrets/token)" && echo ok > /file-ok
RUN --mount=type=secret,id=envtok,env=TOKEN echo "env=$TOKEN" && echo ok > /env-ok
RUN --mount=type=secret,id=token,target=/etc/tok,mode=0440,uid=1000 test "$(stat -c %a:%u /etc/tok)" = 440:1000 && echo ok > /target-ok
RUN --mount=type=secret,id=missing test ! -e /run/secrets/missing && echo ok > /optional-ok
`})
	cacheDir := t.TempDir()
	c, err := layers.OpenCache(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	svc := &testServices{t: t, cache: c}
	secrets := WithSecrets(Secret{ID: "token", File: secretFile}, Secret{ID: "envtok", Env: "ASSEMBLE_TEST_SECRET"})
	var out bytes.Buffer
	img := build(t, svc, dir, WithBuildContexts(map[string]string{"base": base}), secrets, WithRunOutput(&out))
	// The Dockerfile does not hold the values: the RUNs print them.
	for _, want := range []string{"file=" + fileVal + "\n", "env=" + envVal + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the RUNs did not print %q:\n%s", want, out.String())
		}
	}
	files := flatten(t, img)
	for _, p := range []string{"file-ok", "env-ok", "target-ok", "optional-ok"} {
		if files[p].content != "ok\n" {
			t.Errorf("%s = %v", p, files[p])
		}
	}
	for p, f := range files {
		if strings.HasPrefix(p, "run") || p == "etc/tok" || strings.Contains(f.content, fileVal) || strings.Contains(f.content, envVal) {
			t.Errorf("%s is in the image (%v)", p, f)
		}
	}
	noSecretIn(t, img, cacheDir, fileVal, envVal)

	// Another value: the same key, so every RUN comes from the cache.
	if err := os.WriteFile(secretFile, []byte("another-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	img2 := build(t, svc, dir, WithBuildContexts(map[string]string{"base": base}), secrets)
	if d1, d2 := digestOf(t, img), digestOf(t, img2); d1 != d2 {
		t.Errorf("a changed secret rebuilt the image: %s != %s", d2, d1)
	}

	required := repo(t, map[string]string{"Dockerfile": "FROM base\nRUN --mount=type=secret,id=api,required true\n"})
	mustContain(t, buildErr(t, newServices(t), required, WithBuildContexts(map[string]string{"base": base})),
		"Dockerfile:2", "id=api is required", "--secret id=api,src=FILE")
}

// noSecretIn checks that no value appears in the image's layers, config
// (history included) or in any file of the cache directory.
func noSecretIn(t *testing.T, img v1.Image, cacheDir string, values ...string) {
	t.Helper()
	cf, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"config": cf}
	for i, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		blobs["layer "+string(rune('0'+i))] = b
	}
	err = filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		blobs[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range blobs {
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds the secret %q", name, v)
			}
		}
	}
	var parsed v1.ConfigFile
	if err := json.Unmarshal(cf, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.History) == 0 {
		t.Error("no history to check")
	}
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// RUN --mount=type=ssh forwards the agent given with --ssh: a socket at
// /run/buildkit/ssh_agent.0 named by SSH_AUTH_SOCK, which reaches the
// agent; an optional agent not given is no mount, a required one an error.
func TestRunMountSSH(t *testing.T) {
	testtool.RequireRoot(t)
	base := busyboxLayout(t)
	dialer, err := os.ReadFile(testtool.UnixDialer(t))
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := testtool.AgentStandIn(t, "agent says hello\n")
	dir := repo(t, map[string]string{"Dockerfile": `FROM base
RUN --mount=type=bind,source=dial,target=/usr/local/bin/dial --mount=type=ssh test -S /run/buildkit/ssh_agent.0 && test "$SSH_AUTH_SOCK" = /run/buildkit/ssh_agent.0 && /usr/local/bin/dial "$SSH_AUTH_SOCK" > /agent.txt
RUN --mount=type=ssh,id=other,target=/agent test ! -e /agent && echo ok > /optional-ok
`})
	if err := os.WriteFile(filepath.Join(dir, "dial"), dialer, 0o755); err != nil {
		t.Fatal(err)
	}
	files := flatten(t, build(t, newServices(t), dir, WithBuildContexts(map[string]string{"base": base}), WithSSH(SSHAgent{ID: "default", Socket: sock})))
	if files["agent.txt"].content != "agent says hello\n" {
		t.Errorf("agent.txt = %v", files["agent.txt"])
	}
	if files["optional-ok"].content != "ok\n" {
		t.Errorf("optional-ok = %v", files["optional-ok"])
	}
	for p := range files {
		if strings.HasPrefix(p, "run") || strings.HasPrefix(p, "usr/local") {
			t.Errorf("%s is in the image: %v", p, keys(files))
		}
	}
	required := repo(t, map[string]string{"Dockerfile": "FROM base\nRUN --mount=type=ssh,required=true true\n"})
	mustContain(t, buildErr(t, newServices(t), required, WithBuildContexts(map[string]string{"base": base})),
		"Dockerfile:2", "id=default is required", "--ssh default")
}

// The flags parse as docker buildx parses them.
func TestParseSecretSSH(t *testing.T) {
	f := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MYTOKEN", "v")
	for flag, want := range map[string]Secret{
		"id=a,src=" + f:           {ID: "a", File: f},
		"id=a,source=" + f:        {ID: "a", File: f},
		"id=a,env=MYTOKEN":        {ID: "a", Env: "MYTOKEN"},
		"type=env,id=a,src=X":     {ID: "a", Env: "X"},
		"id=MYTOKEN":              {ID: "MYTOKEN", Env: "MYTOKEN"},
		"type=file,id=b,src=" + f: {ID: "b", File: f},
	} {
		got, err := ParseSecret(flag)
		if err != nil || got != want {
			t.Errorf("ParseSecret(%q) = %+v, %v; want %+v", flag, got, err, want)
		}
	}
	for flag, msg := range map[string]string{
		"src=" + f:                "no id",
		"id=a,src=/nope":          "no such file",
		"id=a,bogus=1":            "unexpected key",
		"id=a,type=vault":         "unsupported secret type",
		"id":                      "KEY=VALUE",
		"id=a,src=x,env=Y":        "not both",
		"id=a,src=" + t.TempDir(): "not a regular file",
	} {
		if _, err := ParseSecret(flag); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSecret(%q) = %v; want %q", flag, err, msg)
		}
	}

	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("SSH_AUTH_SOCK", sock)
	if a, err := ParseSSH("default"); err != nil || a != (SSHAgent{ID: "default", Socket: sock}) {
		t.Errorf("ParseSSH(default) = %+v, %v", a, err)
	}
	if a, err := ParseSSH("gh=" + sock); err != nil || a != (SSHAgent{ID: "gh", Socket: sock}) {
		t.Errorf("ParseSSH(gh=SOCK) = %+v, %v", a, err)
	}
	if _, err := ParseSSH("default=" + f); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("ParseSSH(key file) = %v", err)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := ParseSSH("default"); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK is not set") {
		t.Errorf("ParseSSH without an agent = %v", err)
	}
}

// `assemble plan` lists a RUN's mounts without reading any source or
// secret.
func TestRunMountDescribe(t *testing.T) {
	dir := repo(t, map[string]string{"Dockerfile": `FROM scratch AS files
FROM scratch
WORKDIR /w
RUN --mount=type=bind,from=files,target=in --mount=type=tmpfs,target=/t --mount=type=secret,id=tok,env=TOK --mount=type=secret,id=k --mount=type=ssh true
`})
	steps, err := Describe(dir, plan.Dockerfile{Path: "Dockerfile", Context: "."})
	if err != nil {
		t.Fatal(err)
	}
	want := "mounts: bind at /w/in, tmpfs at /t, secret as $TOK, secret at /run/secrets/k, ssh at /run/buildkit/ssh_agent.0"
	last := steps[len(steps)-1]
	if !strings.Contains(last.Becomes, want) {
		t.Errorf("RUN becomes %q, want it to hold %q", last.Becomes, want)
	}
}
