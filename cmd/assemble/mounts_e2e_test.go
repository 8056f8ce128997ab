package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// --secret (a file and a variable) and --ssh reach a Dockerfile's RUN
// --mount=type=secret and type=ssh; the secrets' values are in no blob of
// the output and no file of the cache.
func TestDockerfileSecretSSHFlags(t *testing.T) {
	bb := testtool.StaticBusybox(t)
	dial, err := os.ReadFile(testtool.UnixDialer(t))
	if err != nil {
		t.Fatal(err)
	}
	const fileVal, envVal = "cli-file-secret-71c2", "cli-env-secret-0b9f"
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(fileVal), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ASSEMBLE_E2E_SECRET", envVal)
	sock, connected := testtool.AgentStandIn(t, "hello from the agent\n")

	repo := dockerfileRepo(t, map[string]string{"Dockerfile": `FROM scratch
COPY busybox /bin/busybox
COPY dial /bin/dial
SHELL ["/bin/busybox", "sh", "-c"]
ARG FILE_SHA ENV_SHA
RUN --mount=type=secret,id=tok --mount=type=secret,id=envtok,env=TOK \
    test "$(/bin/busybox sha256sum /run/secrets/tok | /bin/busybox cut -c1-64)" = "$FILE_SHA" && \
    test "$(printf %s "$TOK" | /bin/busybox sha256sum | /bin/busybox cut -c1-64)" = "$ENV_SHA" && \
    echo ok > /secrets-ok
RUN --mount=type=ssh /bin/busybox test -S "$SSH_AUTH_SOCK" && /bin/dial "$SSH_AUTH_SOCK" | /bin/busybox grep -q hello && echo ok > /ssh-ok
`})
	for name, data := range map[string][]byte{"busybox": bb, "dial": dial} {
		if err := os.WriteFile(filepath.Join(repo, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	out := filepath.Join(t.TempDir(), "layout")
	mustAssemble(t, cache, "build", repo, "-o", "oci:"+out,
		"--secret", "id=tok,src="+secretFile, "--secret", "id=envtok,env=ASSEMBLE_E2E_SECRET",
		"--ssh", "default="+sock, "--build-arg", "FILE_SHA="+sum(fileVal), "--build-arg", "ENV_SHA="+sum(envVal))
	select {
	case <-connected:
	default:
		t.Error("the agent saw no connection")
	}
	var layers []byte // the output's layers, uncompressed
	for _, dir := range []string{out, cache} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				if u, err := io.ReadAll(zr); err == nil {
					b = append(b, u...)
					if dir == out {
						layers = append(layers, u...)
					}
				}
			}
			for _, v := range []string{fileVal, envVal} {
				if bytes.Contains(b, []byte(v)) {
					t.Errorf("%s holds the secret %q", p, v)
				}
			}
			return nil
		})
	}
	for _, name := range []string{"secrets-ok", "ssh-ok"} {
		if !bytes.Contains(layers, []byte(name)) {
			t.Errorf("no layer of the output holds /%s", name)
		}
	}

	// Bad flags name themselves.
	t.Setenv("SSH_AUTH_SOCK", "")
	for _, c := range []struct{ args, want []string }{
		{[]string{"--secret", "src=" + secretFile}, []string{"--secret", "no id"}},
		{[]string{"--secret", "id=x,src=/no/such/file"}, []string{"--secret", "no such file"}},
		{[]string{"--ssh", "default"}, []string{"--ssh default", "SSH_AUTH_SOCK is not set"}},
		{[]string{"--ssh", "default=" + secretFile}, []string{"not a socket"}},
	} {
		r := assemble(t, cache, append([]string{"build", repo, "-o", "oci:" + filepath.Join(t.TempDir(), "x")}, c.args...)...)
		if r.err == nil {
			t.Errorf("%v: the build succeeded", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, r.stderr)
			}
		}
	}
}
