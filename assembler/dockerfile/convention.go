package dockerfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
)

// Name is the convention's name in plans.
const Name = "dockerfile"

// fileNames are the files the convention looks for, in order.
var fileNames = []string{"Dockerfile", "Containerfile"}

// Convention is a repository with a Dockerfile at its root, as a plan.Convention.
type Convention struct{}

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention: a Dockerfile or Containerfile at the root.
func (Convention) Detect(dir string) (bool, string) {
	if n := rootDockerfile(dir); n != "" {
		return true, n + " at the repository root"
	}
	return false, ""
}

// rootDockerfile names the first of fileNames that is a file in dir, or "".
func rootDockerfile(dir string) string {
	for _, n := range fileNames {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
			return n
		}
	}
	return ""
}

// Load implements plan.Convention: one image from the repository's
// Dockerfile, named after the directory (--tag and --registry name it
// otherwise).
func (c Convention) Load(_ context.Context, dir string, req plan.Request) (*plan.Plan, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ok, why := c.Detect(root)
	if !ok {
		return nil, fmt.Errorf("%s: no Dockerfile", root)
	}
	path := rootDockerfile(root)
	name := imageNameFrom(filepath.Base(root))
	if req.Registry != "" {
		name = strings.TrimSuffix(req.Registry, "/") + "/" + name
	}
	return &plan.Plan{
		Convention: Name, Reason: why, Root: root,
		Images: []plan.Image{{Name: name, Tags: []string{"latest"}, Dockerfile: &plan.Dockerfile{Path: path, Context: "."}, Source: filepath.Join(root, path)}},
	}, nil
}

// imageNameFrom makes a valid repository name from a directory name.
func imageNameFrom(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && (r == '-' || r == '_' || r == '.' || r == ' '):
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "image"
	}
	return out
}
