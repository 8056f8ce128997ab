package pieces

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/internal/git"
	"github.com/assemble-build/assemble/layers"
)

// ArchiveOption configures WriteReleaseArchive.
type ArchiveOption func(*archiveOptions)

type archiveOptions struct {
	mtime time.Time
	files []plan.File
}

// WithArchiveTime sets every entry's mtime (default the Unix epoch; pass
// SOURCE_DATE_EPOCH's time).
func WithArchiveTime(t time.Time) ArchiveOption { return func(o *archiveOptions) { o.mtime = t } }

// WithArchiveFiles adds generated files (Load's plan.Files), replacing any
// repository file at the same path: the archive then has the .domino files
// of this build even when they were not written into the repository.
func WithArchiveFiles(files ...plan.File) ArchiveOption {
	return func(o *archiveOptions) { o.files = append(o.files, files...) }
}

// WriteReleaseArchive writes file, the VERSION.tar.gz release asset Domino's
// docs promise: the repository as GitHub's "Source code (tar.gz)" has it,
// under one top folder <REPOSITORY_NAME>-<version>/. In a git work tree
// it holds the files git would commit (tracked, plus untracked ones not
// ignored); elsewhere every file but .git. It is reproducible: entries
// sorted, one mtime, owner 0:0 with no names, modes 0644/0755, and a gzip
// header with no name or time. version "" means config.toml's VERSION.
func WriteReleaseArchive(dir, version, file string, opts ...ArchiveOption) error {
	o := &archiveOptions{mtime: time.Unix(0, 0)}
	for _, opt := range opts {
		opt(o)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("repository %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	ps := &problems{}
	need := ""
	if version == "" {
		need = "the release archive's folder name (<REPOSITORY_NAME>-<VERSION>) needs it"
	}
	cfg, ok := readConfig(root, ps, need)
	if !ok {
		return ps.err(root, "has no usable config.toml")
	}
	if version == "" {
		version = cfg.Version
	}
	if strings.ContainsAny(version, "/\\") || version == "" || version == "." || version == ".." {
		return fmt.Errorf("release version %q cannot name an archive folder", version)
	}
	outAbs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(filepath.Dir(outAbs)); err == nil {
		outAbs = filepath.Join(real, filepath.Base(outAbs))
	}
	top := cfg.RepositoryName + "-" + version
	if cfg.RepositoryName == "" {
		top = filepath.Base(root) + "-" + version
	}
	entries, err := releaseEntries(root, outAbs, top, o.files)
	if err != nil {
		return err
	}
	return writeReleaseTarGz(outAbs, entries, o.mtime.UTC().Truncate(time.Second))
}

// releaseEntries lists what the archive holds, under the top folder: the
// repository's files (the archive itself left out), then the generated
// files, which replace repository files at the same path. Directories come
// from their files.
func releaseEntries(root, outAbs, top string, generated []plan.File) ([]layers.Entry, error) {
	paths, err := archivePaths(root)
	if err != nil {
		return nil, err
	}
	byPath := map[string]layers.Entry{}
	for _, rel := range paths {
		full := filepath.Join(root, filepath.FromSlash(rel))
		if full == outAbs {
			continue
		}
		e, ok, err := releaseEntry(root, full)
		if err != nil {
			return nil, err
		}
		if ok {
			byPath[rel] = e
		}
	}
	for _, f := range generated {
		rel := path.Clean(f.Path)
		if rel == "." || strings.HasPrefix(rel, "../") || rel == ".." || path.IsAbs(rel) {
			return nil, fmt.Errorf("generated file %q is not a path inside the repository", f.Path)
		}
		content := f.Content
		byPath[rel] = layers.Entry{Type: layers.TypeFile, Mode: 0o644, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }}
	}
	entries := make([]layers.Entry, 0, len(byPath)+1)
	entries = append(entries, layers.Entry{Path: top, Type: layers.TypeDir, Mode: 0o755})
	for rel, e := range byPath {
		e.Path = top + "/" + rel
		entries = append(entries, e)
	}
	return entries, nil
}

// releaseEntry is one repository file as the archive holds it: modes as git
// keeps them, symlinks only when they stay inside the repository. ok is
// false for what the archive leaves out (directories, deleted files).
func releaseEntry(root, full string) (e layers.Entry, ok bool, err error) {
	fi, err := os.Lstat(full)
	if err != nil {
		if os.IsNotExist(err) {
			return e, false, nil // tracked but deleted in the work tree
		}
		return e, false, fmt.Errorf("reading %s: %w", full, err)
	}
	if fi.IsDir() {
		return e, false, nil // directories come from their files
	}
	e, ok, err = layers.HostEntry(full, fi)
	switch {
	case err != nil:
		return e, false, fmt.Errorf("reading symlink %s: %w", full, err)
	case !ok:
		return e, false, fmt.Errorf("%s is a %s, which a release archive cannot hold", full, fi.Mode().Type())
	case e.Type == layers.TypeSymlink && !layers.LinkInside(root, full, e.Link):
		return e, false, fmt.Errorf("symlink %s points to %s, outside the repository: a release archive cannot hold it; replace it with the file or a relative link inside the repository", full, e.Link)
	}
	return e, true, nil
}

// writeReleaseTarGz writes the entries to outAbs atomically: a PAX tar in
// git's order, gzip-compressed with no name and no time in its header.
func writeReleaseTarGz(outAbs string, entries []layers.Entry, mtime time.Time) error {
	return atomicfile.Write(outAbs, func(w io.Writer) error {
		zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		// No name and no time in the gzip header: zw.Header stays zero.
		if err := layers.WriteTar(zw, entries, mtime, layers.AsArchive(), layers.WithNameOrder(), layers.WithPAX()); err != nil {
			return fmt.Errorf("writing %s: %w", outAbs, err)
		}
		return zw.Close()
	})
}

// archivePaths lists the repository's files, relative with slashes: what
// git would commit in a work tree whose top is root, else every file but .git.
func archivePaths(root string) ([]string, error) {
	if git.IsTopLevel(root) {
		out, err := git.Output(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
		if err == nil {
			var paths []string
			seen := map[string]bool{}
			for _, p := range bytes.Split(out, []byte{0}) {
				if s := string(p); s != "" && !seen[s] {
					seen[s] = true
					paths = append(paths, s)
				}
			}
			return paths, nil
		}
	}
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if p == root {
			return nil
		}
		rel := filepath.ToSlash(p[len(root)+1:])
		if d.IsDir() {
			if rel == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		paths = append(paths, rel)
		return nil
	})
	return paths, err
}
