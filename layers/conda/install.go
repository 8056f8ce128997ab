package conda

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// inMemoryMax is the largest rewritten file kept in memory; larger ones
// (shared libraries with a binary placeholder) go back to the stage file.
const inMemoryMax = 64 << 10

// installed is one path the layer writes, relative to the prefix.
type installed struct {
	rel  string
	kind layers.EntryType
	mode fs.FileMode
	link string
	size int64
	data []byte  // content made or rewritten in memory, or
	m    *member // a member's staged bytes (m.off, size)
	pc   *pkgContents
	// off is where rewritten content was put back into the stage file
	// (when data and m are nil).
	off int64
	pd  pathData
}

// pathData is a path as conda-meta's paths_data lists it.
type pathData struct {
	Path           string
	PathType       string
	SHA256         string
	SHA256InPrefix string
	Size           *int64
	FileMode       string
	Placeholder    string
	NoLink         bool
}

// installEnv is what every package's install shares.
type installEnv struct {
	prefix string
	python *pythonEnv // nil when the environment has no python
}

// installPackage lays out one unpacked package in the prefix as conda would
// link it: the paths of info/paths.json (placeholders replaced), remapped
// for noarch: python, plus its entry points.
func installPackage(pc *pkgContents, r Record, env *installEnv) ([]installed, error) {
	paths, err := pc.readPaths()
	if err != nil {
		return nil, err
	}
	noarch := r.Noarch
	if noarch == "" {
		noarch = pc.indexNoarch()
	}
	py := (*pythonEnv)(nil)
	if noarch == "python" {
		if env.python == nil {
			return nil, fmt.Errorf("conda package %s is noarch: python, but the environment has no python package (in this layer's solution or the ones below it)", r.Filename)
		}
		py = env.python
	}
	var out []installed
	for _, pe := range paths {
		rel := pe.Path
		if py != nil {
			rel = noarchPath(rel, py)
		}
		inf, err := pc.installPath(pe, rel, env.prefix)
		if err != nil {
			return nil, err
		}
		out = append(out, inf)
	}
	if py != nil {
		eps, err := pc.noarchEntryPoints()
		if err != nil {
			return nil, err
		}
		for _, ep := range eps {
			b, err := ep.launcher(pc, py)
			if err != nil {
				return nil, err
			}
			rel := "bin/" + ep.name
			out = append(out, installed{rel: rel, kind: layers.TypeFile, mode: 0o755, size: int64(len(b)), data: b,
				pd: pathData{Path: rel, PathType: pathEntryPoint}})
		}
	}
	if err := pc.stage.flush(); err != nil {
		return nil, fmt.Errorf("conda package %s: staging: %w", pc.filename, err)
	}
	return lastWins(out), nil
}

// lastWins keeps the last of a package's paths with one name (an entry
// point replaces a python-scripts file of its name, as conda writes it
// after linking), in the first one's place.
func lastWins(files []installed) []installed {
	at := map[string]int{}
	out := files[:0]
	for _, f := range files {
		if i, ok := at[f.rel]; ok {
			out[i] = f
			continue
		}
		at[f.rel] = len(out)
		out = append(out, f)
	}
	return out
}

// indexNoarch is info/index.json's noarch ("python", "generic", or true
// for the old generic form), when repodata did not say.
func (pc *pkgContents) indexNoarch() string {
	var ix struct {
		Noarch any `json:"noarch"`
	}
	if json.Unmarshal(pc.info["index.json"], &ix) != nil {
		return ""
	}
	if s, ok := ix.Noarch.(string); ok {
		return s
	}
	return ""
}

// installPath installs one path of the package at rel (below the prefix).
func (pc *pkgContents) installPath(pe pathEntry, rel, prefix string) (installed, error) {
	pd := pathData{Path: rel, PathType: pe.PathType, SHA256: pe.SHA256, Size: pe.Size,
		FileMode: pe.FileMode, Placeholder: pe.Placeholder, NoLink: pe.NoLink}
	if pe.Placeholder == "" {
		pd.FileMode = ""
	}
	inf := installed{rel: rel, pc: pc, pd: pd}
	if pe.PathType == pathDirectory {
		inf.kind, inf.mode = layers.TypeDir, 0o755
		return inf, nil
	}
	m := pc.members[pe.Path]
	if m == nil {
		return installed{}, fmt.Errorf("conda package %s: %s is in its file list but not in the package; the package is corrupt", pc.filename, pe.Path)
	}
	switch m.kind {
	case tar.TypeSymlink:
		if err := checkLink(rel, m.link); err != nil {
			return installed{}, fmt.Errorf("conda package %s: symlink %s -> %s %w; refusing to install the package", pc.filename, pe.Path, m.link, err)
		}
		inf.kind, inf.mode, inf.link = layers.TypeSymlink, 0o777, m.link
		inf.pd.PathType = pathSoftlink
		return inf, nil
	case tar.TypeDir:
		inf.kind, inf.mode = layers.TypeDir, 0o755
		inf.pd.PathType = pathDirectory
		return inf, nil
	}
	inf.kind, inf.mode, inf.size, inf.m = layers.TypeFile, fileMode(m.mode), m.size, m
	inf.pd.PathType = pathHardlink
	if inf.pd.SHA256 == "" {
		inf.pd.SHA256 = m.sha
	}
	inf.pd.SHA256InPrefix = m.sha
	if pe.Placeholder == "" {
		return inf, nil
	}
	return pc.rewrite(inf, pe, prefix)
}

// rewrite replaces the prefix placeholder in a file's content.
func (pc *pkgContents) rewrite(inf installed, pe pathEntry, prefix string) (installed, error) {
	data, err := pc.read(inf.m)
	if err != nil {
		return installed{}, err
	}
	var out []byte
	if pe.FileMode == fileModeBinary {
		var changed bool
		out, changed, err = replaceBinary(data, pe.Placeholder, prefix)
		var tooLong *placeholderTooLong
		if errors.As(err, &tooLong) {
			tooLong.pkg, tooLong.file = pc.filename, pe.Path
			return installed{}, tooLong
		}
		if !changed {
			return inf, nil
		}
	} else {
		out = replaceText(data, pe.Placeholder, prefix)
	}
	sum := sha256.Sum256(out)
	inf.pd.SHA256InPrefix = hex.EncodeToString(sum[:])
	inf.size, inf.m = int64(len(out)), nil
	if len(out) <= inMemoryMax {
		inf.data = out
		return inf, nil
	}
	off, err := pc.stage.putBytes(out)
	if err != nil {
		return installed{}, fmt.Errorf("conda package %s: staging %s: %w", pc.filename, pe.Path, err)
	}
	inf.off = off
	return inf, nil
}

// checkLink refuses a symlink target that leaves the prefix: absolute, or
// relative with more ".." than the link is deep.
func checkLink(rel, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.Contains(target, "\\") {
		return errors.New("has an absolute or empty target")
	}
	if j := path.Join(path.Dir(rel), target); j == ".." || strings.HasPrefix(j, "../") {
		return errors.New("points outside the prefix")
	}
	return nil
}

// fileMode is a member's mode as conda leaves it: the package's permission
// bits (links share the package cache's inode), never setuid or sticky.
func fileMode(m fs.FileMode) fs.FileMode {
	if m &= 0o777; m == 0 {
		return 0o644
	}
	return m
}
