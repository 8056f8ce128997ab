package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// A Dockerfile's `pip install --find-links /wheels -r requirements.txt`
// (no --no-index) on a machine that cannot reach the index, as on an
// air-gapped runner: the index (pointed at a closed port) is a warning
// naming it, the wheelhouse is enough, and the image runs.
func TestDockerfilePipFindLinksAirGapped(t *testing.T) {
	hostIsAmd64(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	index := "http://" + l.Addr().String() + "/simple/"
	l.Close()
	repo := dockerfileRepo(t, map[string]string{
		"Dockerfile": `FROM deb:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
COPY wheels/ /wheels/
COPY requirements.txt /app/
RUN pip install --find-links /wheels -r /app/requirements.txt
CMD ["python3", "-c", "import assemblegreet; print(assemblegreet.greet())"]
`,
		"requirements.txt": "assemblegreet==1.0\n",
	})
	writeTestWheel(t, filepath.Join(repo, "wheels"), "assemblegreet", "1.0", map[string]string{
		"assemblegreet/__init__.py": "def greet():\n    return 'installed without the index'\n",
	})
	layout := filepath.Join(shortTempDir(t), "layout")
	r := mustAssemble(t, testtool.CacheDir(t), "build", repo, "--no-run", "--index-url", index, "-o", "oci:"+layout)
	if !strings.Contains(r.stderr, "level=WARN") || !strings.Contains(r.stderr, "cannot be reached") || !strings.Contains(r.stderr, index) {
		t.Errorf("no warning naming the unreachable index %s:\n%s", index, r.stderr)
	}
	if out := podmanRun(t, "oci:"+layout+":"+onlyRef(t, layout)); out != "installed without the index\n" {
		t.Errorf("the image printed %q", out)
	}

	// A requirement the wheelhouse cannot meet fails naming it, its line,
	// every source and the way out.
	if err := os.WriteFile(filepath.Join(repo, "requirements.txt"), []byte("assemblegreet==1.0\nassemblegreet>=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = assemble(t, testtool.CacheDir(t), "build", repo, "--no-run", "--index-url", index, "-o", "oci:"+filepath.Join(t.TempDir(), "l2"))
	if r.err == nil {
		t.Fatal("assemblegreet>=2 is in no source; the build succeeded")
	}
	for _, want := range []string{"assemblegreet>=2 (from ", "requirements.txt:2)", index + ": cannot be reached", "offers assemblegreet 1.0", "--no-index", "--index-url"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
}
