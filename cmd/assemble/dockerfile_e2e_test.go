package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// These tests drive the Dockerfile frontend (assembler/dockerfile) through
// `assemble build` and `assemble plan` (the dockerfile convention,
// --build-context, --build-arg, --target).

// dockerfileRepo writes a repository holding only a Dockerfile and its context.
func dockerfileRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// onlyRef is the one image reference an OCI layout holds ("name:tag").
func onlyRef(t *testing.T, layout string) string {
	t.Helper()
	refs := readIndex(t, layout)
	if len(refs) != 1 {
		t.Fatalf("layout %s holds %d images (%v), want 1", layout, len(refs), refs)
	}
	for r := range refs {
		return r
	}
	return ""
}

// A multi-stage Dockerfile compiles a C program with gcc in a Debian stage
// (FROM debian:bookworm pointed at deb:bookworm by --build-context; apt-get
// install translated; gcc executed in the sandbox) and copies the static
// binary into scratch; podman runs it.
func TestDockerfileCompileC(t *testing.T) {
	hostIsAmd64(t)
	repo := dockerfileRepo(t, map[string]string{
		"Dockerfile": `FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -o /usr/local/bin/hello hello.c

FROM scratch
COPY --from=build /usr/local/bin/hello /hello
ENTRYPOINT ["/hello"]
`,
		"hello.c": "#include <stdio.h>\nint main(void) { puts(\"compiled by a Dockerfile, run by podman\"); return 0; }\n",
	})
	layout := filepath.Join(shortTempDir(t), "layout")
	mustAssemble(t, testtool.CacheDir(t), "build", repo, "--build-context", "debian:bookworm=deb:bookworm", "-o", "oci:"+layout)
	out := podmanRun(t, "oci:"+layout+":"+onlyRef(t, layout))
	if out != "compiled by a Dockerfile, run by podman\n" {
		t.Errorf("the program printed %q", out)
	}
	// `assemble plan` says what each instruction becomes.
	r := mustAssemble(t, testtool.CacheDir(t), "plan", repo)
	for _, want := range []string{"deb layer: gcc libc6-dev", "run in the sandbox", "base docker://docker.io/library/debian:bookworm", "layer: copy from stage build -> /hello"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// jq from apt-get and a package from a local wheelhouse (named by
// requirements.txt's --find-links) build with --no-run, which proves both
// were translated, and the image runs.
func TestDockerfileTranslatedNoRun(t *testing.T) {
	hostIsAmd64(t)
	repo := dockerfileRepo(t, map[string]string{
		"Dockerfile": `FROM deb:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3 jq && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt ./
COPY wheels/ wheels/
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
CMD ["python3", "/app/app.py"]
`,
		"requirements.txt": "--find-links wheels\n--no-index\nassemblegreet==1.0\n",
		"app.py": `import subprocess, assemblegreet
print(assemblegreet.greet())
print(subprocess.run(["jq", "-n", "-c", "{ok: true}"], capture_output=True, text=True).stdout.strip())
`,
	})
	writeTestWheel(t, filepath.Join(repo, "wheels"), "assemblegreet", "1.0", map[string]string{
		"assemblegreet/__init__.py": "def greet():\n    return 'greetings from a wheel'\n",
	})
	layout := filepath.Join(shortTempDir(t), "layout")
	mustAssemble(t, testtool.CacheDir(t), "build", repo, "--no-run", "-o", "oci:"+layout)
	out := podmanRun(t, "oci:"+layout+":"+onlyRef(t, layout))
	if out != "greetings from a wheel\n{\"ok\":true}\n" {
		t.Errorf("the image printed %q", out)
	}
}

// Bad Dockerfiles fail naming the line; a failing RUN shows its exit status
// and output; --no-run refuses a RUN that would execute.
func TestDockerfileErrors(t *testing.T) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		testtool.RequireTool(t, "busybox")
		t.Fatal(err)
	}
	cases := []struct {
		name, df string
		args     []string
		want     []string
	}{
		{"unknown instruction", "FROM scratch\nFETCH x /x\n", nil, []string{"Dockerfile:2", "unknown instruction: FETCH"}},
		{"outside the context", "FROM scratch\nCOPY ../secret /x\n", nil, []string{"Dockerfile:2", "outside the build context"}},
		{"missing stage", "FROM scratch AS build\nFROM scratch\nCOPY --from=biuld /x /x\n", nil, []string{"Dockerfile:3", "biuld"}},
		{"failing RUN", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo the reason; exit 7\"]\n", nil, []string{"Dockerfile:3", "exit status 7", "the reason"}},
		{"no-run", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"true\"]\n", []string{"--no-run"}, []string{"Dockerfile:3", "--no-run"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := dockerfileRepo(t, map[string]string{"Dockerfile": c.df})
			if err := os.WriteFile(filepath.Join(repo, "busybox"), bb, 0o755); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "layout")
			args := append([]string{"build", repo, "-o", "oci:" + out}, c.args...)
			r := assemble(t, t.TempDir(), args...)
			if r.err == nil {
				t.Fatalf("the build succeeded; want an error\n%s", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Error("a failed build wrote its output")
			}
		})
	}
}

// writeTestWheel makes a pure-Python wheel in dir.
func writeTestWheel(t *testing.T, dir, name, version string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	info := name + "-" + version + ".dist-info/"
	files[info+"METADATA"] = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
	files[info+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: assemble-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	record.WriteString(info + "RECORD,,\n")
	w, _ := zw.Create(info + "RECORD")
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-"+version+"-py3-none-any.whl"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Progress lines of a Dockerfile image name its platform, as those of the
// other conventions do.
func TestDockerfileProgressNamesPlatform(t *testing.T) {
	repo := dockerfileRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY file /file\n", "file": "content\n"})
	r := mustAssemble(t, t.TempDir(), "build", repo, "--platform", "linux/arm64", "-o", "oci:"+filepath.Join(t.TempDir(), "l"))
	if !regexp.MustCompile(`(?m)\[linux/arm64\] layer .*: built `).MatchString(r.stderr) || strings.Contains(r.stderr, "[]") {
		t.Errorf("progress does not name the platform:\n%s", r.stderr)
	}
}
