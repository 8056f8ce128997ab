package conda

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// defaultPlaceholder is the prefix conda-build used before it wrote the
// placeholder into info/has_prefix; a has_prefix line with only a path means it.
const defaultPlaceholder = "/opt/anaconda1anaconda2anaconda3"

// Path types of info/paths.json, and those the installer adds in conda-meta.
const (
	pathHardlink    = "hardlink"
	pathSoftlink    = "softlink"
	pathDirectory   = "directory"
	pathEntryPoint  = "unix_python_entry_point"
	fileModeText    = "text"
	fileModeBinary  = "binary"
	pathsVersionOne = 1
)

// pathEntry is one path of info/paths.json: what to install and how.
type pathEntry struct {
	Path        string `json:"_path"`
	PathType    string `json:"path_type"`
	SHA256      string `json:"sha256,omitempty"`
	Size        *int64 `json:"size_in_bytes,omitempty"`
	FileMode    string `json:"file_mode,omitempty"`
	Placeholder string `json:"prefix_placeholder,omitempty"`
	NoLink      bool   `json:"no_link,omitempty"`
}

// readPaths returns the package's paths: info/paths.json, or for packages
// older than it, info/files with info/has_prefix, info/no_link and the
// members' own types.
func (pc *pkgContents) readPaths() ([]pathEntry, error) {
	var out []pathEntry
	if b, ok := pc.info["paths.json"]; ok {
		var pj struct {
			Paths   []pathEntry `json:"paths"`
			Version int         `json:"paths_version"`
		}
		if err := json.Unmarshal(b, &pj); err != nil {
			return nil, fmt.Errorf("conda package %s: info/paths.json: %w", pc.filename, err)
		}
		if pj.Version != pathsVersionOne {
			return nil, fmt.Errorf("conda package %s: info/paths.json has paths_version %d; only 1 is known", pc.filename, pj.Version)
		}
		out = pj.Paths
	} else {
		var err error
		if out, err = pc.legacyPaths(); err != nil {
			return nil, fmt.Errorf("conda package %s: %w", pc.filename, err)
		}
	}
	for i := range out {
		e := &out[i]
		p, err := layers.CleanEntryName(e.Path)
		if err != nil || p == "" {
			return nil, fmt.Errorf("conda package %s: path %q in its file list leaves the prefix; refusing to install the package", pc.filename, e.Path)
		}
		e.Path = p
		switch e.PathType {
		case pathHardlink, pathSoftlink, pathDirectory:
		default:
			return nil, fmt.Errorf("conda package %s: path %s has path_type %q (want hardlink, softlink or directory)", pc.filename, e.Path, e.PathType)
		}
		switch {
		case e.Placeholder == "":
		case e.FileMode == "":
			e.FileMode = fileModeText
		case e.FileMode != fileModeText && e.FileMode != fileModeBinary:
			return nil, fmt.Errorf("conda package %s: path %s has file_mode %q (want text or binary)", pc.filename, e.Path, e.FileMode)
		}
	}
	return out, nil
}

// legacyPaths builds paths from info/files, info/has_prefix and
// info/no_link, as conda does for packages without info/paths.json.
func (pc *pkgContents) legacyPaths() ([]pathEntry, error) {
	files, ok := pc.info["files"]
	if !ok {
		return nil, fmt.Errorf("it has neither info/paths.json nor info/files")
	}
	prefixed := map[string]pathEntry{}
	for _, line := range lines(pc.info["has_prefix"]) {
		f, err := splitQuoted(line)
		if err != nil {
			return nil, fmt.Errorf("info/has_prefix: %w", err)
		}
		switch len(f) {
		case 1:
			prefixed[f[0]] = pathEntry{Placeholder: defaultPlaceholder, FileMode: fileModeText}
		case 3:
			prefixed[f[2]] = pathEntry{Placeholder: f[0], FileMode: f[1]}
		default:
			return nil, fmt.Errorf("info/has_prefix: line %q is neither \"path\" nor \"placeholder mode path\"", line)
		}
	}
	noLink := map[string]bool{}
	for _, l := range lines(pc.info["no_link"]) {
		noLink[l] = true
	}
	var out []pathEntry
	for _, p := range lines(files) {
		e := prefixed[p]
		e.Path, e.NoLink, e.PathType = p, noLink[p], pathHardlink
		if clean, err := layers.CleanEntryName(p); err == nil {
			if m := pc.members[clean]; m != nil && m.kind == tar.TypeSymlink {
				e.PathType = pathSoftlink
			} else if m != nil && m.kind == tar.TypeDir {
				e.PathType = pathDirectory
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// lines are the non-empty lines of b, trimmed.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// splitQuoted splits a has_prefix line on spaces, with "..." or '...'
// quoting a field that has spaces (conda reads it with shlex).
func splitQuoted(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("line %q has an unclosed quote", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
