package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/layers"
	"golang.org/x/sync/errgroup"
)

// metaVersion changes whenever debMeta's content for the same .deb changes.
const metaVersion = "assemble-deb-meta-v2"

// debMeta is what a layer needs to know about a package in a layer below
// it: its dpkg status paragraph (conffile md5s need the data, so this is
// computed once per .deb and kept in the cache), its alternatives, and the
// few small files native maintainer-script actions read.
type debMeta struct {
	Status       string            `json:"status"`
	Alternatives []alternative     `json:"alternatives,omitempty"`
	Files        map[string]string `json:"files,omitempty"`
	// Triggers is the package's control "triggers" file.
	Triggers string `json:"triggers,omitempty"`
}

// metaFiles are the image paths (prefixes ending in "/") whose content is
// kept in debMeta for native actions in higher layers.
var metaFiles = []string{
	"usr/share/base-passwd/passwd.master",
	"usr/share/base-passwd/group.master",
	"usr/share/debianutils/shells",
	"usr/share/debianutils/shells.d/",
	"usr/share/pam-configs/",
	"usr/share/pam/",
}

func wantMetaFile(p string) bool {
	for _, m := range metaFiles {
		if p == m || (strings.HasSuffix(m, "/") && strings.HasPrefix(p, m) && !strings.Contains(p[len(m):], "/")) {
			return true
		}
	}
	return false
}

// statusParagraph is the package's entry in dpkg's status file: its control
// file with "Status: install ok installed" and the conffiles' md5s, in
// dpkg's field order.
func statusParagraph(dc *debContents) string {
	p := &paragraph{Fields: append([]field(nil), dc.control.Fields...)}
	p.set("Status", "install ok installed")
	p.del("Conffiles")
	if len(dc.conffiles) > 0 {
		var b strings.Builder
		for _, c := range dc.conffiles {
			sum, ok := dc.conffileMD5[c]
			if !ok {
				// Listed but not shipped: dpkg records it as such.
				sum = "newconffile"
			}
			b.WriteString("\n " + c + " " + sum)
		}
		p.set("Conffiles", b.String())
	}
	var buf bytes.Buffer
	dpkgOrder(p).writeTo(&buf)
	return buf.String()
}

// buildMeta derives a package's debMeta from its unpacked contents.
func buildMeta(dc *debContents) (*debMeta, error) {
	m := &debMeta{Status: statusParagraph(dc)}
	present := map[string]bool{}
	for _, e := range dc.entries {
		present[e.entry.Path] = true
		if e.entry.Type == layers.TypeFile && wantMetaFile(e.entry.Path) {
			b, err := e.content()
			if err != nil {
				return nil, err
			}
			if m.Files == nil {
				m.Files = map[string]string{}
			}
			m.Files[e.entry.Path] = string(b)
		}
	}
	for _, f := range dc.ctlFiles {
		switch f.Name {
		case "postinst":
			m.Alternatives = parseAlternatives(string(f.Data), present)
		case "triggers":
			m.Triggers = string(f.Data)
		}
	}
	return m, nil
}

// metaRef names a package's meta in the cache's refs.
func metaRef(sha string) string { return metaVersion + ":sha256:" + sha }

// storeMeta keeps a meta in memory and in the cache.
func (c *Client) storeMeta(ctx context.Context, sha string, m *debMeta) error {
	c.metaMu.Lock()
	c.meta[sha] = m
	c.metaMu.Unlock()
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// A meta already stored (from an earlier build with the same .deb) is
	// not written again: each write syncs two files and their folders,
	// which costs more than unpacking a small package.
	sum := sha256.Sum256(b)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if d, ok := c.cache.Ref(metaRef(sha)); ok && d == digest {
		return nil
	}
	_, d, err := c.cache.Download(ctx, digest, func(_ context.Context, w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("storing package metadata: %w", err)
	}
	return c.cache.SetRef(metaRef(sha), d)
}

// loadMetas returns the metas of pkgs, from memory or the cache, or else
// computed from the .debs (read fully, the data not kept). What the cache
// holds (every package, on a build of a base seen before) is read on every
// core; the rest is built one package at a time, as unpacking a .deb takes
// memory. The errors are in pkgs' order.
func (c *Client) loadMetas(ctx context.Context, pkgs []*Package) ([]*debMeta, []error) {
	metas := make([]*debMeta, len(pkgs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range pkgs {
		g.Go(func() error { metas[i] = c.cachedMeta(p); return nil })
	}
	_ = g.Wait()
	var errs []error
	for i, p := range pkgs {
		if metas[i] != nil {
			continue
		}
		m, err := c.makeMeta(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		metas[i] = m
	}
	return metas, errs
}

// cachedMeta returns a package's meta from memory or the cache, or nil.
func (c *Client) cachedMeta(p *Package) *debMeta {
	c.metaMu.Lock()
	m := c.meta[p.SHA256]
	c.metaMu.Unlock()
	if m != nil {
		return m
	}
	d, ok := c.cache.Ref(metaRef(p.SHA256))
	if !ok {
		return nil
	}
	b, err := os.ReadFile(c.downloadPathOf(d))
	if err != nil {
		return nil
	}
	m = &debMeta{}
	if json.Unmarshal(b, m) != nil || m.Status == "" {
		return nil
	}
	c.metaMu.Lock()
	c.meta[p.SHA256] = m
	c.metaMu.Unlock()
	return m
}

// makeMeta computes a package's meta from the .deb and stores it.
func (c *Client) makeMeta(ctx context.Context, p *Package) (*debMeta, error) {
	path, err := c.debPath(ctx, p)
	if err != nil {
		return nil, err
	}
	stage, err := c.mkStage("deb-meta-*")
	if err != nil {
		return nil, fmt.Errorf("creating staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	dc, err := c.unpack(path, p, newStager(stage, "m", newMemBudget(c.unpackMem)))
	if err != nil {
		return nil, err
	}
	m, err := buildMeta(dc)
	if err != nil {
		return nil, err
	}
	if err := c.storeMeta(ctx, p.SHA256, m); err != nil {
		return nil, err
	}
	return m, nil
}

// alternative is one "update-alternatives --install" a postinst makes.
type alternative struct {
	Link     string  `json:"link"`
	Name     string  `json:"name"`
	Path     string  `json:"path"`
	Priority int     `json:"priority"`
	Slaves   []slave `json:"slaves,omitempty"`
	Package  string  `json:"package,omitempty"`
}

type slave struct {
	Link   string `json:"link"`
	Name   string `json:"name"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"` // the path is shipped, so the link is made
}

// parseAlternatives finds literal "update-alternatives --install" calls in
// a postinst. Calls built from shell variables are skipped (see NOT-DONE.md).
// present holds the package's image paths, to tell whether targets exist.
func parseAlternatives(script string, present map[string]bool) []alternative {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out []alternative
	for _, line := range strings.Split(script, "\n") {
		i := strings.Index(line, "update-alternatives")
		if i < 0 || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		cmd := line[i+len("update-alternatives"):]
		for _, sep := range []string{"||", "&&", ";", "|", ">", "#"} {
			if j := strings.Index(cmd, sep); j >= 0 {
				cmd = cmd[:j]
			}
		}
		toks := strings.Fields(cmd)
		var args []string
		ok := true
		for _, t := range toks {
			t = strings.Trim(t, `"'`)
			if strings.ContainsAny(t, "$`") {
				ok = false
				break
			}
			if t == "--quiet" || t == "--force" {
				continue
			}
			args = append(args, t)
		}
		if !ok || len(args) < 5 || args[0] != "--install" {
			continue
		}
		prio := 0
		if _, err := fmt.Sscanf(args[4], "%d", &prio); err != nil {
			continue
		}
		a := alternative{Link: args[1], Name: args[2], Path: args[3], Priority: prio}
		if !present[imagePath(a.Path)] {
			continue // update-alternatives refuses a missing path
		}
		rest := args[5:]
		for len(rest) >= 4 && rest[0] == "--slave" {
			s := slave{Link: rest[1], Name: rest[2], Path: rest[3]}
			s.Exists = present[imagePath(s.Path)]
			a.Slaves = append(a.Slaves, s)
			rest = rest[4:]
		}
		if len(rest) != 0 {
			continue
		}
		sort.Slice(a.Slaves, func(i, j int) bool { return a.Slaves[i].Name < a.Slaves[j].Name })
		out = append(out, a)
	}
	return out
}

// imagePath maps an absolute path on the installed system to its place in
// the image (merged /usr).
func imagePath(p string) string {
	c := strings.TrimPrefix(p, "/")
	return mergeUsr(c)
}
