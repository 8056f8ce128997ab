package dockerfile

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/assemble-build/assemble/layers"
)

// volume records VOLUME in the config and, as Docker does, makes the
// directories that are missing (0755, root's), so that a later RUN can
// write into them. BuildKit leaves them to the container engine, which
// leaves a RUN of this build nothing to write into. When every directory
// exists the instruction stays config only.
func (s *stage) volume(c *instructions.VolumeCommand, text string) error {
	createdBy, err := s.configure(c)
	if err != nil {
		return err
	}
	t, err := s.files()
	if err != nil {
		return err
	}
	var entries []layers.Entry
	seen := map[string]bool{}
	for _, v := range c.Volumes {
		p := v
		if !path.IsAbs(p) {
			p = path.Join("/", s.cf.Config.WorkingDir, p)
		}
		p = strings.TrimPrefix(path.Clean(p), "/")
		if p == "" {
			continue
		}
		n, r, err := t.lookup(p, true)
		if err != nil {
			return fmt.Errorf("VOLUME %s: %w", v, err)
		}
		if n != nil {
			if !n.IsDir() {
				return fmt.Errorf("VOLUME %s: /%s exists and is not a directory; a volume is mounted on a directory", v, r)
			}
			continue
		}
		es, err := newDirEntries(t, p, 0, 0)
		if err != nil {
			return fmt.Errorf("VOLUME %s: %w", v, err)
		}
		// Applied now so that a later path of this VOLUME sees them.
		if err := t.apply(es); err != nil {
			return err
		}
		for _, e := range es {
			if !seen[e.Path] {
				seen[e.Path] = true
				entries = append(entries, e)
			}
		}
	}
	if len(entries) == 0 {
		s.history(createdBy, "", false)
		s.b.step(s, c.Location(), text, "config")
		return nil
	}
	s.b.step(s, c.Location(), text, "layer: the volume directories")
	if s.b.dry() {
		return nil
	}
	if err := s.buildLayer(newEntriesLayer(createdBy, entries), createdBy, ""); err != nil {
		return err
	}
	t.applied++
	return nil
}

// newDirEntries lists the entries that make directory p (a clean image
// path without the leading slash): the existing parents as they are (a
// layer lists the parents of what it holds), then the missing ones and p
// itself, new, 0755 and owned by uid:gid.
func newDirEntries(t *tree, p string, uid, gid int) ([]layers.Entry, error) {
	// A link, even dangling, is followed: the directory is made where it
	// points (BuildKit's mkdir resolves the path in the stage's root).
	p, err := t.rootPath(p)
	if err != nil {
		return nil, err
	}
	resolved, existing, missing, err := t.place(p)
	if err != nil {
		return nil, err
	}
	entries := existing
	for _, m := range append(missing, resolved) {
		entries = append(entries, layers.Entry{Path: m, Type: layers.TypeDir, Mode: 0o755, UID: uid, GID: gid})
	}
	return entries, nil
}
