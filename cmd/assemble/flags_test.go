package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/spf13/pflag"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/oci/ocitest"
)

// cliRun is one run of the CLI with its own stdin and environment.
type cliRun struct {
	stdin string
	env   []string // added to (and overriding) the test's environment
}

// noCredentialsEnv points every credential file assemble, podman and
// skopeo read at empty places, so a run sees only what the test gives it.
func noCredentialsEnv(t testing.TB) []string {
	d := t.TempDir()
	// DOCKER_CONFIG unset: skopeo would take $DOCKER_CONFIG/config.json for its default auth file.
	return []string{"HOME=" + d, "DOCKER_CONFIG=", "XDG_RUNTIME_DIR=" + d,
		"XDG_CONFIG_HOME=" + filepath.Join(d, "config"), "REGISTRY_AUTH_FILE="}
}

func (c cliRun) run(t testing.TB, args ...string) result {
	t.Helper()
	full := append([]string{"--cache-dir", filepath.Join(t.TempDir(), "cache"), "--progress", "plain"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(append(os.Environ(), "SOURCE_DATE_EPOCH=", mainEnv+"=1"), c.env...)
	cmd.Stdin = strings.NewReader(c.stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return result{so.String(), se.String(), err}
}

func (c cliRun) must(t testing.TB, args ...string) result {
	t.Helper()
	r := c.run(t, args...)
	if r.err != nil {
		t.Fatalf("assemble %s: %v\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

func (c cliRun) fails(t testing.TB, want string, args ...string) result {
	t.Helper()
	r := c.run(t, args...)
	if r.err == nil || !strings.Contains(r.stderr, want) {
		t.Fatalf("assemble %s: err %v, want a failure saying %q:\n%s", strings.Join(args, " "), r.err, want, r.stderr)
	}
	return r
}

// skopeoOut runs skopeo with env added and returns its stdout.
func skopeoOut(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testtool.RequireTool(t, "skopeo"), args...)
	cmd.Env = append(os.Environ(), env...)
	var se bytes.Buffer
	cmd.Stderr = &se
	out, err := cmd.Output()
	if err != nil {
		return string(out), &skopeoError{err, se.String()}
	}
	return string(out), nil
}

type skopeoError struct {
	err    error
	stderr string
}

func (e *skopeoError) Error() string { return e.err.Error() + ": " + e.stderr }

// indexLayout writes a two-platform index (this machine's platform and
// another) as DIR:multi and returns the layout, the index and its images.
func indexLayout(t testing.TB) (string, v1.ImageIndex) {
	t.Helper()
	other := ocitest.ARM64
	if runtime.GOARCH == "arm64" {
		other = ocitest.AMD64
	}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	idx := ocitest.Index(t, 7, 1, 256, host, other)
	dir := filepath.Join(t.TempDir(), "src")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	return dir, idx
}

// platformDigest is the digest of idx's image for this machine's platform.
func platformDigest(t testing.TB, idx v1.ImageIndex) string {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == runtime.GOARCH {
			return d.Digest.String()
		}
	}
	t.Fatal("no image for this machine's platform")
	return ""
}

// login and logout write podman's auth.json after the registry (htpasswd)
// accepted the credentials; skopeo reads what they wrote.
func TestLoginLogout(t *testing.T) {
	reg := ocitest.StartRegistry(t, ocitest.WithHtpasswd("alice", "s3cret"))
	env := noCredentialsEnv(t)
	runtimeDir := strings.TrimPrefix(env[2], "XDG_RUNTIME_DIR=")
	defaultFile := filepath.Join(runtimeDir, "containers", "auth.json")
	c := cliRun{stdin: "wrong\n", env: env}

	r := c.fails(t, "invalid username or password", "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg.Host)
	if strings.Contains(r.stderr, "wrong") {
		t.Error("the password reached the output")
	}
	if _, err := os.Stat(defaultFile); err == nil {
		t.Fatal("refused credentials were stored")
	}
	c.stdin = "s3cret\n"
	r = c.must(t, "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg.Host)
	if !strings.Contains(r.stdout, "Login Succeeded!") {
		t.Errorf("login printed %q", r.stdout)
	}
	// $XDG_RUNTIME_DIR/containers/auth.json, where skopeo and podman look.
	if out, err := skopeoOut(t, env, "login", "--get-login", reg.Host); err != nil || strings.TrimSpace(out) != "alice" {
		t.Fatalf("skopeo login --get-login: %q %v", out, err)
	}
	c.must(t, "build", "../../testdata/hello", "--tls-verify=false", "-o", "docker://"+reg.Ref("x/hello:1"))
	if _, err := skopeoOut(t, env, "inspect", "--tls-verify=false", "docker://"+reg.Ref("x/hello:1")); err != nil {
		t.Fatalf("skopeo with the stored login: %v", err)
	}

	// REGISTRY_AUTH_FILE, then --authfile, take the place of the default.
	envFile := filepath.Join(t.TempDir(), "env-auth.json")
	ce := cliRun{stdin: "s3cret", env: append(append([]string{}, env...), "REGISTRY_AUTH_FILE="+envFile)}
	ce.must(t, "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg.Host)
	flagFile := filepath.Join(t.TempDir(), "flag-auth.json")
	ce.must(t, "login", "--tls-verify=false", "-u", "alice", "--password-stdin", "--authfile", flagFile, reg.Host)
	for _, f := range []string{envFile, flagFile} {
		if out, err := skopeoOut(t, env, "login", "--authfile", f, "--get-login", reg.Host); err != nil || strings.TrimSpace(out) != "alice" {
			t.Errorf("skopeo login --authfile %s --get-login: %q %v", f, out, err)
		}
	}
	// -p works but says why not to.
	r = c.must(t, "login", "--tls-verify=false", "-u", "alice", "-p", "s3cret", "--authfile", flagFile, reg.Host)
	if !strings.Contains(r.stderr, "--password-stdin") {
		t.Errorf("-p gave no warning: %s", r.stderr)
	}

	r = c.must(t, "logout", reg.Host)
	if !strings.Contains(r.stdout, "Removed login credentials for "+reg.Host) {
		t.Errorf("logout printed %q", r.stdout)
	}
	if _, err := skopeoOut(t, env, "login", "--get-login", reg.Host); err == nil {
		t.Error("skopeo still finds a login after logout")
	}
	c.fails(t, "not logged in", "logout", reg.Host)
	c.fails(t, "login", "inspect", "--tls-verify=false", "docker://"+reg.Ref("x/hello:1"))
	c.must(t, "logout", "--all", "--authfile", flagFile)
	if b, _ := os.ReadFile(flagFile); strings.Contains(string(b), reg.Host) {
		t.Errorf("logout --all left %s", b)
	}
}

// --creds, --src-creds, --dest-creds and --authfile against docker-registry
// with htpasswd auth; skopeo sees the same images with the same credentials.
func TestCredsFlags(t *testing.T) {
	reg := ocitest.StartRegistry(t, ocitest.WithHtpasswd("alice", "s3cret"))
	c := cliRun{env: noCredentialsEnv(t)}
	ref := "docker://" + reg.Ref("x/hello:1")
	c.fails(t, "login", "build", "../../testdata/hello", "--tls-verify=false", "-o", ref)
	b := c.must(t, "build", "../../testdata/hello", "--tls-verify=false", "--creds", "alice:s3cret", "-o", ref, "--json")
	digest := jsonDigest(t, b.stdout)

	c.fails(t, "login", "inspect", "--tls-verify=false", "--creds", "alice:nope", ref)
	c.fails(t, "no password and no terminal", "inspect", "--tls-verify=false", "--creds", "alice", ref)
	if r := c.must(t, "inspect", "--tls-verify=false", "--creds", "alice:s3cret", ref); !strings.Contains(r.stdout, digest) {
		t.Errorf("inspect --creds: %s", r.stdout)
	}

	dir := filepath.Join(t.TempDir(), "l")
	c.fails(t, "login", "copy", "--src-tls-verify=false", "--dest-creds", "alice:s3cret", ref, "oci:"+dir+":t")
	c.must(t, "copy", "--src-tls-verify=false", "--src-creds", "alice:s3cret", ref, "oci:"+dir+":t")
	dest := "docker://" + reg.Ref("y/hello:2")
	c.fails(t, "login", "copy", "--dest-tls-verify=false", "--src-creds", "alice:s3cret", "oci:"+dir+":t", dest)
	c.must(t, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", "oci:"+dir+":t", dest)
	out, err := skopeoOut(t, nil, "inspect", "--tls-verify=false", "--creds", "alice:s3cret", dest)
	if err != nil || !strings.Contains(out, digest) {
		t.Fatalf("skopeo inspect %s: %v\n%s", dest, err, out)
	}

	// --authfile: only that file, in podman's format.
	authFile := filepath.Join(t.TempDir(), "auth.json")
	c.fails(t, "--authfile", "inspect", "--tls-verify=false", "--authfile", authFile, dest)
	c.stdin = "s3cret"
	c.must(t, "login", "--tls-verify=false", "-u", "alice", "--password-stdin", "--authfile", authFile, reg.Host)
	if r := c.must(t, "inspect", "--tls-verify=false", "--authfile", authFile, dest); !strings.Contains(r.stdout, digest) {
		t.Errorf("inspect --authfile: %s", r.stdout)
	}
	c.must(t, "copy", "--src-tls-verify=false", "--authfile", authFile, dest, "oci:"+dir+":again")
	if _, err := skopeoOut(t, nil, "inspect", "--tls-verify=false", "--authfile", authFile, dest); err != nil {
		t.Errorf("skopeo --authfile: %v", err)
	}
}

// --tls-verify=false and its --src-/--dest- forms reach a registry with a
// self-signed certificate, each on its own side only.
func TestTLSVerifyFlags(t *testing.T) {
	reg := ocitest.StartInProcess(t, ocitest.WithTLS())
	c := cliRun{env: noCredentialsEnv(t)}
	src, _ := indexLayout(t)
	ref := "docker://" + reg.Ref("a/b:1")
	c.fails(t, "certificate", "copy", "oci:"+src+":multi", ref)
	c.fails(t, "certificate", "copy", "--src-tls-verify=false", "oci:"+src+":multi", ref)
	c.must(t, "copy", "--dest-tls-verify=false", "oci:"+src+":multi", ref)
	c.fails(t, "certificate", "inspect", ref)
	c.must(t, "inspect", "--tls-verify=false", ref)
	dir := filepath.Join(t.TempDir(), "l")
	c.fails(t, "certificate", "copy", "--dest-tls-verify=false", ref, "oci:"+dir+":t")
	c.must(t, "copy", "--src-tls-verify=false", ref, "oci:"+dir+":t")
	c.fails(t, "certificate", "build", "../../testdata/hello", "-o", "docker://"+reg.Ref("h/h:1"))
	c.must(t, "build", "../../testdata/hello", "--tls-verify=false", "-o", "docker://"+reg.Ref("h/h:1"))
}

// --retry-times N retries a failed request N times (skopeo's meaning).
func TestRetryTimes(t *testing.T) {
	reg := ocitest.StartInProcess(t)
	c := cliRun{env: noCredentialsEnv(t)}
	src, _ := indexLayout(t)
	ref := "docker://" + reg.Ref("a/b:1")
	c.must(t, "copy", "--dest-tls-verify=false", "oci:"+src+":multi", ref)
	busy := ocitest.Fault{Kind: ocitest.ManifestGet, Status: 503, Times: 2, Header: map[string]string{"Retry-After": "0"}}
	reg.Inject(busy)
	c.fails(t, "UNAVAILABLE", "inspect", "--tls-verify=false", "--retry-times", "1", ref)
	if n := reg.PendingFaults(); n != 0 {
		t.Fatalf("--retry-times 1 made %d of 2 tries", 2-n)
	}
	reg.Inject(busy)
	c.must(t, "inspect", "--tls-verify=false", "--retry-times", "2", ref)
	c.fails(t, "--retry-times -1", "inspect", "--retry-times", "-1", ref)

	// sync: skopeo's --retry-times is image-syncer's --retries.
	reg.Inject(ocitest.Fault{Kind: ocitest.ManifestGet, Repo: "a/b", Status: 503, Times: 1})
	dir := t.TempDir()
	images := filepath.Join(dir, "images.yaml")
	auth := filepath.Join(dir, "auth.yaml")
	os.WriteFile(images, []byte(reg.Ref("a/b:1")+": "+reg.Ref("c/d")+"\n"), 0o600)
	os.WriteFile(auth, []byte(reg.Host+":\n  insecure: true\n"), 0o600)
	c.fails(t, "failed", "sync", "--auth", auth, "--images", images, "--retry-times", "0")
	reg.Inject(ocitest.Fault{Kind: ocitest.ManifestGet, Repo: "a/b", Status: 503, Times: 1})
	c.must(t, "sync", "--auth", auth, "--images", images, "--retry-times", "1")
}

// copy takes this machine's image from an index unless --all, as skopeo does.
func TestCopyMultiArch(t *testing.T) {
	src, idx := indexLayout(t)
	c := cliRun{}
	one := platformDigest(t, idx)
	all := ocitest.Digest(t, idx).String()
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, one},
		{[]string{"--multi-arch", "system"}, one},
		{[]string{"--all"}, all},
		{[]string{"--multi-arch", "all"}, all},
	} {
		dst := filepath.Join(t.TempDir(), "dst")
		c.must(t, append(append([]string{"copy"}, tc.flags...), "oci:"+src+":multi", "oci:"+dst+":t")...)
		if got := readIndex(t, dst)["t"]; got != tc.want {
			t.Errorf("copy %v: %s, want %s", tc.flags, got, tc.want)
		}
		skopeoFlags := tc.flags
		if len(skopeoFlags) == 0 {
			skopeoFlags = []string{"--multi-arch", "system"}
		}
		sk := filepath.Join(t.TempDir(), "sk")
		if _, err := skopeoOut(t, nil, append(append([]string{"copy", "-q"}, skopeoFlags...), "oci:"+src+":multi", "oci:"+sk+":t")...); err != nil {
			t.Fatal(err)
		}
		// skopeo 1.9 re-serializes an index it copies whole (dropping
		// artifactType), so compare what the two indexes list.
		if got, want := manifestsOf(t, sk, readIndex(t, sk)["t"]), manifestsOf(t, dst, tc.want); got != want {
			t.Errorf("skopeo copy %v: %s, assemble %s", skopeoFlags, got, want)
		}
	}
	dst := "oci:" + filepath.Join(t.TempDir(), "x") + ":t"
	c.fails(t, "docker:// only", "copy", "--multi-arch", "index-only", "oci:"+src+":multi", dst)
	c.fails(t, "use system, all or index-only", "copy", "--multi-arch", "some", "oci:"+src+":multi", dst)
	c.fails(t, "--platform", "copy", "--all", "--platform", "linux/arm64", "oci:"+src+":multi", dst)
}

// manifestsOf lists the image manifests digest names in layout dir: itself,
// or an index's manifests.
func manifestsOf(t testing.TB, dir, digest string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	var m v1.IndexManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) == 0 {
		return digest
	}
	var ds []string
	for _, d := range m.Manifests {
		ds = append(ds, d.Digest.String())
	}
	return strings.Join(ds, " ")
}

// --multi-arch index-only writes the index alone, to a registry that holds
// its images (docker-registry refuses it anywhere else).
func TestCopyIndexOnly(t *testing.T) {
	reg := ocitest.StartRegistry(t)
	src, idx := indexLayout(t)
	c := cliRun{}
	c.must(t, "copy", "--all", "--dest-tls-verify=false", "oci:"+src+":multi", "docker://"+reg.Ref("a/m:1"))
	c.fails(t, "one image, not an index", "copy", "--multi-arch", "index-only", "--dest-tls-verify=false",
		"docker://"+reg.Ref("a/m@"+platformDigest(t, idx)), "docker://"+reg.Ref("a/m:x"))
	reg.Reset()
	r := c.must(t, "copy", "--multi-arch", "index-only", "--dest-tls-verify=false", "oci:"+src+":multi", "docker://"+reg.Ref("a/m:2"))
	if !strings.Contains(r.stdout, ocitest.Digest(t, idx).String()) {
		t.Errorf("copy printed %q", r.stdout)
	}
	if puts, up := reg.Count(ocitest.ManifestPut), reg.BlobUploads(); puts != 1 || up != 0 {
		t.Errorf("index-only made %d manifest PUTs and %d blob uploads, want 1 and 0:\n%s", puts, up, reg)
	}
	raw, _ := idx.RawManifest()
	if out, err := skopeoOut(t, nil, "inspect", "--raw", "--tls-verify=false", "docker://"+reg.Ref("a/m:2")); err != nil || out != string(raw) {
		t.Errorf("skopeo inspect --raw: %v\n%s\nwant\n%s", err, out, raw)
	}
	c.fails(t, "lacks the index's images: copy them first (--all)", "copy", "--multi-arch", "index-only", "--dest-tls-verify=false", "oci:"+src+":multi", "docker://"+reg.Ref("empty/m:1"))
}

// inspect --raw and --config print the bytes skopeo's do.
func TestInspectRawAndConfig(t *testing.T) {
	src, _ := indexLayout(t)
	c := cliRun{}
	ref := "oci:" + src + ":multi"
	for _, flags := range [][]string{{"--raw"}, {"--config", "--raw"}} {
		got := c.must(t, append(append([]string{"inspect"}, flags...), ref)...).stdout
		want, err := skopeoOut(t, nil, append(append([]string{"inspect"}, flags...), ref)...)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("inspect %v:\n%s\nskopeo:\n%s", flags, got, want)
		}
	}
	raw := c.must(t, "inspect", "--config", "--raw", ref).stdout
	pretty := c.must(t, "inspect", "--config", ref).stdout
	var a, b map[string]any
	if json.Unmarshal([]byte(raw), &a) != nil || json.Unmarshal([]byte(pretty), &b) != nil || !strings.Contains(pretty, "\n    ") {
		t.Fatalf("--config is not indented JSON:\n%s", pretty)
	}
	if ja, _ := json.Marshal(a); string(ja) != func() string { jb, _ := json.Marshal(b); return string(jb) }() {
		t.Errorf("--config %s differs from --config --raw %s", pretty, raw)
	}
}

// -q silences progress on stderr; results stay on stdout.
func TestQuiet(t *testing.T) {
	c := cliRun{}
	build := []string{"build", "../../testdata/hello", "-o", "oci:" + filepath.Join(t.TempDir(), "b")}
	if r := c.must(t, build...); r.stderr == "" {
		t.Fatal("build prints no progress without -q: the test shows nothing")
	}
	if r := c.must(t, append(build, "-q")...); r.stderr != "" {
		t.Errorf("build -q printed:\n%s", r.stderr)
	}
	// copy's progress is bars only (none for small blobs): -q must turn it
	// off whatever --progress said, and keep the result.
	src, _ := indexLayout(t)
	r := c.must(t, "--progress", "tty", "copy", "-q", "oci:"+src+":multi", "oci:"+filepath.Join(t.TempDir(), "d")+":t")
	if r.stderr != "" || !strings.Contains(r.stdout, "sha256:") {
		t.Errorf("copy -q: stdout %q stderr %q", r.stdout, r.stderr)
	}
	for args, want := range map[string]string{"-q": "none", "--quiet": "none", "--quiet=false": "tty", "": "tty"} {
		g := &globals{progress: "tty"}
		fl := pflag.NewFlagSet("x", pflag.ContinueOnError)
		addQuiet(fl, g)
		if err := fl.Parse(strings.Fields(args)); err != nil || g.progress != want {
			t.Errorf("%q: progress %q, %v; want %q", args, g.progress, err, want)
		}
	}
}

// completion bash|zsh|fish print cobra's scripts; bash parses its own.
func TestCompletion(t *testing.T) {
	c := cliRun{}
	for shell, want := range map[string]string{"bash": "__start_assemble", "zsh": "compdef _assemble assemble", "fish": "complete -c assemble"} {
		r := c.must(t, "completion", shell)
		if !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
		if shell == "bash" {
			f := filepath.Join(t.TempDir(), "c.bash")
			os.WriteFile(f, []byte(r.stdout), 0o600)
			if out, err := exec.Command(testtool.RequireTool(t, "bash"), "-n", f).CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s", err, out)
			}
		}
	}
	// What the scripts ask: copy's flags, their values, and references.
	for _, tc := range []struct{ args, wants []string }{
		{[]string{"copy", "--"}, []string{"--multi-arch", "--src-creds", "--dest-tls-verify", "--retry-times", "--authfile", "--all", "--quiet"}},
		{[]string{"inspect", "--"}, []string{"--raw", "--config", "--creds", "--tls-verify"}},
		{[]string{"build", "--"}, []string{"--creds", "--tls-verify", "--authfile", "--quiet"}},
		{[]string{"sync", "--"}, []string{"--src-creds", "--dest-creds", "--retry-times"}},
		{[]string{"login", "--"}, []string{"--password-stdin", "--username", "--authfile"}},
		{[]string{"copy", "--multi-arch", ""}, []string{"system", "all", "index-only"}},
		{[]string{"copy", ""}, []string{"oci:", "docker://", "deb:"}},
		{[]string{"copy", "oci:/x:t", ""}, []string{"containers-storage:", "docker-archive:"}},
		{[]string{"inspect", ""}, []string{"oci-archive:", "docker://"}},
	} {
		r := c.must(t, append([]string{"__complete"}, tc.args...)...)
		for _, want := range tc.wants {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("completing %q lacks %s:\n%s", tc.args, want, r.stdout)
			}
		}
	}
}

// sync: --src-creds/--dest-creds, --authfile and --src-/--dest-tls-verify
// reach registries image-syncer's auth file does not list.
func TestSyncFlags(t *testing.T) {
	from := ocitest.StartRegistry(t, ocitest.WithHtpasswd("alice", "s3cret"))
	to := ocitest.StartInProcess(t, ocitest.WithTLS())
	c := cliRun{env: noCredentialsEnv(t)}
	b := c.must(t, "build", "../../testdata/hello", "--tls-verify=false", "--creds", "alice:s3cret", "-o", "docker://"+from.Ref("x/hello:1"), "--json")
	digest := jsonDigest(t, b.stdout)
	dir := t.TempDir()
	images := filepath.Join(dir, "images.yaml")
	os.WriteFile(images, []byte(from.Ref("x/hello:1")+": "+to.Ref("y/hello")+"\n"), 0o600)

	c.fails(t, "auth file", "sync", "--images", images, "--retry-times", "0", "--src-tls-verify=false", "--dest-tls-verify=false")
	c.fails(t, "--src-creds", "sync", "--images", images, "--retry-times", "0", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", "alice:nope")
	c.fails(t, "certificate", "sync", "--images", images, "--retry-times", "0", "--src-tls-verify=false", "--src-creds", "alice:s3cret")
	// --dest-creds are not the source's.
	c.fails(t, "auth file", "sync", "--images", images, "--retry-times", "0", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret")
	r := c.must(t, "sync", "--images", images, "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", "alice:s3cret")
	if !strings.Contains(r.stdout, "1 copied") {
		t.Errorf("sync: %s", r.stdout)
	}
	if out, err := skopeoOut(t, nil, "inspect", "--tls-verify=false", "docker://"+to.Ref("y/hello:1")); err != nil || !strings.Contains(out, digest) {
		t.Fatalf("skopeo inspect the synced image: %v\n%s", err, out)
	}

	authFile := filepath.Join(dir, "auth.json")
	c.stdin = "s3cret"
	c.must(t, "login", "--tls-verify=false", "-u", "alice", "--password-stdin", "--authfile", authFile, from.Host)
	os.WriteFile(images, []byte(from.Ref("x/hello:1")+": "+to.Ref("z/hello")+"\n"), 0o600)
	if r := c.must(t, "sync", "--images", images, "--src-tls-verify=false", "--dest-tls-verify=false", "--authfile", authFile); !strings.Contains(r.stdout, "1 copied") {
		t.Errorf("sync --authfile: %s", r.stdout)
	}
}
