package pieces

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/git"
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
	cfg, ok := readConfig(root, ps)
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
	paths, err := archivePaths(root)
	if err != nil {
		return err
	}
	type entry struct {
		hdr  *tar.Header
		data []byte
		src  string
	}
	entries := map[string]*entry{}
	addDirs := func(p string) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := entries[d+"/"]; ok {
				break
			}
			entries[d+"/"] = &entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Mode: 0o755}}
		}
	}
	for _, rel := range paths {
		full := filepath.Join(root, filepath.FromSlash(rel))
		if full == outAbs {
			continue
		}
		fi, err := os.Lstat(full)
		if err != nil {
			if os.IsNotExist(err) {
				continue // tracked but deleted in the work tree
			}
			return fmt.Errorf("reading %s: %w", full, err)
		}
		var e *entry
		switch m := fi.Mode(); {
		case m.IsRegular():
			mode := int64(0o644)
			if m&0o111 != 0 {
				mode = 0o755
			}
			e = &entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Mode: mode, Size: fi.Size()}, src: full}
		case m&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return fmt.Errorf("reading symlink %s: %w", full, err)
			}
			resolved := target
			if !filepath.IsAbs(resolved) {
				resolved = filepath.Join(filepath.Dir(full), target)
			}
			if r, err := filepath.Rel(root, filepath.Clean(resolved)); err != nil || r == ".." || strings.HasPrefix(r, "../") || filepath.IsAbs(target) {
				return fmt.Errorf("symlink %s points to %s, outside the repository: a release archive cannot hold it; replace it with the file or a relative link inside the repository", full, target)
			}
			e = &entry{hdr: &tar.Header{Typeflag: tar.TypeSymlink, Mode: 0o777, Linkname: target}}
		case m.IsDir():
			continue // directories come from their files
		default:
			return fmt.Errorf("%s is a %s, which a release archive cannot hold", full, m.Type())
		}
		entries[rel] = e
		addDirs(rel)
	}
	for _, f := range o.files {
		rel := path.Clean(f.Path)
		if rel == "." || strings.HasPrefix(rel, "../") || rel == ".." || path.IsAbs(rel) {
			return fmt.Errorf("generated file %q is not a path inside the repository", f.Path)
		}
		entries[rel] = &entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.Content))}, data: f.Content}
		addDirs(rel)
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)

	prefix := cfg.RepositoryName + "-" + version + "/"
	if cfg.RepositoryName == "" {
		prefix = filepath.Base(root) + "-" + version + "/"
	}
	if err := os.MkdirAll(filepath.Dir(outAbs), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(outAbs), "."+filepath.Base(outAbs)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	zw, err := gzip.NewWriterLevel(tmp, gzip.BestCompression)
	if err != nil {
		tmp.Close()
		return err
	}
	// No name and no time in the gzip header: zw.Header stays zero.
	tw := tar.NewWriter(zw)
	mtime := o.mtime.UTC().Truncate(time.Second)
	write := func() error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		for _, n := range names {
			e := entries[n]
			h := *e.hdr
			h.Name, h.ModTime, h.Format = prefix+n, mtime, tar.FormatPAX
			if err := tw.WriteHeader(&h); err != nil {
				return fmt.Errorf("archiving %s: %w", n, err)
			}
			switch {
			case e.data != nil:
				if _, err := tw.Write(e.data); err != nil {
					return err
				}
			case e.src != "":
				if err := copyExactly(tw, e.src, h.Size); err != nil {
					return err
				}
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	}
	if err := write(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), outAbs); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

func copyExactly(w io.Writer, src string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	if n != size {
		return fmt.Errorf("%s changed while it was archived", src)
	}
	return nil
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
