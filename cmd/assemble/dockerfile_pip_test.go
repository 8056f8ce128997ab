package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
)

// `pip install --break-system-packages` over Debian's python3, with the
// requirements file COPY'd in beside the wheels (the shape of bench/run.sh's
// apt + pip Dockerfile), is translated: it builds with --no-run, and pip in
// the image lists the package.
func TestDockerfilePipBreakSystemPackages(t *testing.T) {
	hostIsAmd64(t)
	repo := dockerfileRepo(t, map[string]string{
		"Dockerfile": `FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip && rm -rf /var/lib/apt/lists/*
COPY wheels/ /wheels/
COPY requirements.txt /wheels/
RUN python3 -m pip install --break-system-packages --no-index --find-links /wheels -r /wheels/requirements.txt
CMD ["python3", "-m", "pip", "list", "--disable-pip-version-check"]
`,
		"requirements.txt": "assemblegreet==1.0\n",
	})
	writeTestWheel(t, filepath.Join(repo, "wheels"), "assemblegreet", "1.0", map[string]string{
		"assemblegreet/__init__.py": "def greet():\n    return 'hello'\n",
	})
	layout := filepath.Join(shortTempDir(t), "layout")
	r := mustAssemble(t, testtool.CacheDir(t), "plan", repo, "--build-context", "debian:bookworm=deb:bookworm")
	if !strings.Contains(r.stdout, "python layer: -r /wheels/requirements.txt") {
		t.Errorf("the pip install is not a Python layer:\n%s", r.stdout)
	}
	mustAssemble(t, testtool.CacheDir(t), "build", repo, "--no-run", "--build-context", "debian:bookworm=deb:bookworm", "-o", "oci:"+layout)
	list := podmanRun(t, "oci:"+layout+":"+onlyRef(t, layout))
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "assemblegreet" && f[1] == "1.0" {
			return
		}
	}
	t.Errorf("pip list lacks assemblegreet 1.0:\n%s", list)
}
