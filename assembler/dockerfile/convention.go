package dockerfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/oci"
)

// Name is the convention's name in plans.
const Name = "dockerfile"

// fileNames are the files the convention looks for, in order.
var fileNames = []string{"Dockerfile", "Containerfile"}

// Convention is a repository with a Dockerfile at its root, as a
// plan.Convention. File, when set (the CLI's -f), is the Dockerfile to build
// instead, which need not be at the root.
type Convention struct {
	File string
}

// Name implements plan.Convention.
func (Convention) Name() string { return Name }

// Detect implements plan.Convention: a Dockerfile or Containerfile at the
// root, or File wherever it is in the repository.
func (c Convention) Detect(dir string) (bool, string) {
	if c.File != "" {
		if _, err := c.Path(dir); err != nil {
			return false, ""
		}
		return true, c.File + " named with -f"
	}
	if n := rootDockerfile(dir); n != "" {
		return true, n + " at the repository root"
	}
	return false, ""
}

// Path is the Dockerfile the convention builds in dir, relative to dir.
// File is taken as docker build -f takes it: relative to the repository,
// else absolute or relative to the working directory, inside the
// repository either way (the build reads nothing outside it).
func (c Convention) Path(dir string) (string, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if c.File == "" {
		if n := rootDockerfile(root); n != "" {
			return n, nil
		}
		return "", fmt.Errorf("%s: no Dockerfile or Containerfile at the repository root (name one with -f)", root)
	}
	try := []string{filepath.Join(root, c.File)}
	if filepath.IsAbs(c.File) {
		try = []string{c.File}
	} else if abs, err := filepath.Abs(c.File); err == nil {
		try = append(try, abs)
	}
	for _, p := range try {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		return filepath.ToSlash(rel), nil
	}
	return "", fmt.Errorf("-f %s: no such file in the repository %s (give a path relative to it, or to the current directory inside it)", c.File, root)
}

// Load implements plan.Convention: one image from the repository's
// Dockerfile, named after the directory (--tag and --registry name it
// otherwise).
func (c Convention) Load(_ context.Context, dir string, req plan.Request) (*plan.Plan, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path, err := c.Path(root)
	if err != nil {
		return nil, err
	}
	_, why := c.Detect(root)
	name := oci.RepositoryName(filepath.Base(root))
	if req.Registry != "" {
		name = strings.TrimSuffix(req.Registry, "/") + "/" + name
	}
	return &plan.Plan{
		Convention: Name, Reason: why, Root: root,
		Images: []plan.Image{{Name: name, Tags: []string{"latest"}, Dockerfile: &plan.Dockerfile{Path: path, Context: "."}, Source: filepath.Join(root, path)}},
	}, nil
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
