package git

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WorkTree is the git work tree a directory lies in.
type WorkTree struct {
	// Top is the work tree's top directory, symlinks resolved.
	Top string
	// GitDir holds its index: .git, or a linked worktree's directory
	// under the main repository's .git/worktrees (when .git is a file).
	GitDir string
	// CommonDir is the repository's shared directory (info/, objects/).
	CommonDir string
	// ObjectFormat is "sha1" or "sha256".
	ObjectFormat string
}

// workTreeOf reads the four lines of `git rev-parse --show-toplevel
// --absolute-git-dir --git-common-dir --show-object-format` run in dir.
func workTreeOf(dir string, lines []string) WorkTree {
	w := WorkTree{Top: lines[0], GitDir: lines[1], CommonDir: lines[2], ObjectFormat: lines[3]}
	if !filepath.IsAbs(w.CommonDir) {
		w.CommonDir = filepath.Join(dir, w.CommonDir)
	}
	if real, err := filepath.EvalSymlinks(w.Top); err == nil {
		w.Top = real
	}
	return w
}

// ReadIndex reads the work tree's index.
func (w WorkTree) ReadIndex() (*Index, error) {
	return ReadIndex(filepath.Join(w.GitDir, "index"), w.ObjectFormat)
}

// ConvertSettings are git's settings for content conversion in a work tree
// (Facts.ConvertSettings), taken apart from the attribute files so that
// they can be asked for early.
type ConvertSettings struct {
	w WorkTree
	// why is set when the settings alone convert content.
	why       string
	userAttrs string
}

// convert are the settings s holds for content conversion in w.
func (s settings) convert(w WorkTree) ConvertSettings {
	c := ConvertSettings{w: w, userAttrs: s.attributesFile}
	for _, v := range s.autocrlf {
		if !strings.EqualFold(v, "false") {
			c.why = "core.autocrlf is " + v
			break
		}
	}
	switch {
	case c.userAttrs == "":
		c.userAttrs = defaultUserAttributes()
	case strings.HasPrefix(c.userAttrs, "~") || strings.HasPrefix(c.userAttrs, "%("):
		// A path git expands ("~/", "~user/", "%(prefix)/"): rarely
		// set so, so asked for only then.
		p, err := Run(w.Top, "config", "--type=path", "--get", "core.attributesfile")
		if err != nil && c.why == "" {
			c.why = fmt.Sprintf("core.attributesfile %q cannot be expanded (%v)", c.userAttrs, err)
		}
		c.userAttrs = p
	case !filepath.IsAbs(c.userAttrs):
		// Git reads it from the work tree's top, where its commands run.
		c.userAttrs = filepath.Join(w.Top, c.userAttrs)
	}
	return c
}

// Converts reports whether git may hold a work tree file as other bytes
// than the file has (end-of-line conversion, a clean/smudge filter such as
// Git LFS, ident, a working tree encoding), so that an index entry's
// object ID would not name the bytes on disk: core.autocrlf is set, or one
// of the attribute files (gitattributes, which the caller lists from the
// tree, plus the repository's info/attributes and the user's and system's
// files) sets such an attribute. It returns why, for the log.
func (c ConvertSettings) Converts(gitattributes []string) (bool, string) {
	if c.why != "" {
		return true, c.why
	}
	// The system's file is $(prefix)/etc/gitattributes: /etc for a
	// distribution's git, /usr/local/etc for one built from source.
	attrFiles := append([]string{filepath.Join(c.w.CommonDir, "info", "attributes"), "/etc/gitattributes", "/usr/local/etc/gitattributes"}, gitattributes...)
	for _, p := range append(attrFiles, c.userAttrs) {
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return true, fmt.Sprintf("reading %s: %v", p, err)
		}
		if attr := convertingAttribute(data); attr != "" {
			return true, fmt.Sprintf("%s sets %s", p, attr)
		}
	}
	return false, ""
}

func defaultUserAttributes() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "git", "attributes")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "git", "attributes")
	}
	return ""
}

// converting are the attributes under which git may store other bytes than
// a work tree file holds (gitattributes(5), "Effects").
var converting = map[string]bool{
	"text": true, "eol": true, "crlf": true, "filter": true, "ident": true, "working-tree-encoding": true,
}

// convertingAttribute returns the first attribute of a gitattributes file
// that may convert content, or "". Unsetting one ("-text", "binary") or
// leaving it unspecified ("!text") converts nothing; any other mention of
// one does, in any line and any macro definition, so a macro that sets one
// is caught where it is defined.
func convertingAttribute(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		for _, attr := range fields[1:] {
			if strings.HasPrefix(attr, "-") || strings.HasPrefix(attr, "!") {
				continue
			}
			name, _, _ := strings.Cut(attr, "=")
			if converting[name] {
				return attr
			}
		}
	}
	if sc.Err() != nil {
		return "an unreadable line"
	}
	return ""
}
