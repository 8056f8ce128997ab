// Package sync mirrors images from registry to registry, reading
// image-syncer's configuration files as they are: an --auth file and an
// --images file (YAML or JSON by extension), or the legacy combined --config
// file.
//
// Manifests, indexes and blobs are streamed from source to destination
// without touching the disk. An image whose destination manifest is already
// equal is skipped, blobs the destination has are not sent again, and blobs
// in another repository of the same registry are mounted.
package sync

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/bounded"
)

// Position is where something was written in a configuration file.
type Position struct {
	File string
	Line int
}

func (p Position) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return p.File
}

// Auth is one entry of the auth file: credentials for a registry or for a
// registry/namespace prefix.
type Auth struct {
	Key           string // "registry" or "registry/namespace", as written
	Username      string
	Password      string
	IdentityToken string
	// Insecure allows plain HTTP and self-signed certificates.
	Insecure bool
	Pos      Position
}

// Rule is one entry of the images file: a source and its destinations.
type Rule struct {
	Source       string
	Destinations []string
	Pos          Position
}

// Config is a parsed image-syncer configuration.
type Config struct {
	Auths []Auth
	Rules []Rule
	// Warnings are things image-syncer accepts silently but that are
	// probably mistakes (unknown keys, duplicate entries).
	Warnings []string
}

// LoadConfig reads image-syncer's --auth and --images files. authFile may be
// empty: every registry is then accessed anonymously.
func LoadConfig(authFile, imagesFile string) (*Config, error) {
	if imagesFile == "" {
		return nil, fmt.Errorf("no images file given: pass the image-syncer --images file (YAML or JSON)")
	}
	c := &Config{}
	if authFile != "" {
		n, err := readTree(authFile)
		if err != nil {
			return nil, err
		}
		if err := c.parseAuth(authFile, n, true); err != nil {
			return nil, err
		}
	}
	n, err := readTree(imagesFile)
	if err != nil {
		return nil, err
	}
	if err := c.parseImages(imagesFile, n); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadLegacyConfig reads image-syncer's older combined --config file:
// {auth: {...}, images: {...}}. As in image-syncer, $VARS in its credentials
// are not expanded.
func LoadLegacyConfig(path string) (*Config, error) {
	n, err := readTree(path)
	if err != nil {
		return nil, err
	}
	if n.kind != kindMap {
		return nil, fmt.Errorf("%s:%d: the config file must be a mapping with \"auth\" and \"images\" keys, got %s", path, n.line, n.kind)
	}
	c := &Config{}
	var images *node
	for i, k := range n.keys {
		switch k.value {
		case "auth":
			if err := c.parseAuth(path, n.vals[i], false); err != nil {
				return nil, err
			}
		case "images":
			images = n.vals[i]
		default:
			c.warnf("%s:%d: unknown key %q ignored (a config file has \"auth\" and \"images\")", path, k.line, k.value)
		}
	}
	if images == nil {
		return nil, fmt.Errorf("%s: no \"images\" key: list the images to sync under it", path)
	}
	if err := c.parseImages(path, images); err != nil {
		return nil, err
	}
	return c, nil
}

func readTree(path string) (*node, error) {
	data, err := bounded.ReadFile(path, bounded.Config)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return parseTree(path, data)
}

func (c *Config) warnf(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

func (c *Config) parseAuth(file string, n *node, expand bool) error {
	if n.kind == kindNull {
		return nil
	}
	if n.kind != kindMap {
		return fmt.Errorf("%s:%d: auth must be a mapping from \"registry\" or \"registry/namespace\" to {username, password, insecure}, got %s", file, n.line, n.kind)
	}
	seen := map[string]int{}
	for i, k := range n.keys {
		pos := Position{File: file, Line: k.line}
		key := strings.TrimSpace(k.value)
		if key == "" {
			return fmt.Errorf("%s: an auth entry has an empty key: write the registry (or registry/namespace) it is for", pos)
		}
		a := Auth{Key: key, Pos: pos}
		v := n.vals[i]
		switch v.kind {
		case kindNull:
		case kindMap:
			for j, f := range v.keys {
				fv := v.vals[j]
				if fv.kind == kindSeq || fv.kind == kindMap {
					return fmt.Errorf("%s:%d: auth %q: %s must be a single value, got %s", file, f.line, key, f.value, fv.kind)
				}
				switch f.value {
				case "username":
					a.Username = fv.value
				case "password":
					a.Password = fv.value
				case "identityToken":
					a.IdentityToken = fv.value
				case "insecure":
					switch strings.ToLower(fv.value) {
					case "true":
						a.Insecure = true
					case "false", "":
					default:
						return fmt.Errorf("%s:%d: auth %q: insecure must be true or false, got %q", file, f.line, key, fv.value)
					}
				default:
					c.warnf("%s:%d: auth %q: unknown field %q ignored (known: username, password, identityToken, insecure)", file, f.line, key, f.value)
				}
			}
		default:
			return fmt.Errorf("%s: auth %q must be a mapping with username, password and insecure, got %s", pos, key, v.kind)
		}
		if expand {
			// image-syncer expands $VAR and ${VAR} in --auth credentials only.
			a.Username = os.ExpandEnv(a.Username)
			a.Password = os.ExpandEnv(a.Password)
			a.IdentityToken = os.ExpandEnv(a.IdentityToken)
		}
		norm := normalizeAuthKey(key)
		if j, ok := seen[norm]; ok {
			c.warnf("%s: auth %q repeats the entry at line %d; the later one is used", pos, key, c.Auths[j].Pos.Line)
			c.Auths[j] = a
			continue
		}
		seen[norm] = len(c.Auths)
		c.Auths = append(c.Auths, a)
	}
	return nil
}

func (c *Config) parseImages(file string, n *node) error {
	if n.kind == kindNull {
		return fmt.Errorf("%s: no images to sync: write source: destination pairs", file)
	}
	if n.kind != kindMap {
		return fmt.Errorf("%s:%d: images must be a mapping from a source image to a destination or a list of destinations, got %s", file, n.line, n.kind)
	}
	seen := map[string]int{}
	for i, k := range n.keys {
		pos := Position{File: file, Line: k.line}
		src := k.value
		if src == "" {
			return fmt.Errorf("%s: empty source image: write registry/namespace/repository[:tags]", pos)
		}
		if _, err := parseImageURL(src); err != nil {
			return fmt.Errorf("%s: source: %w", pos, err)
		}
		v := n.vals[i]
		var dests []string
		switch v.kind {
		case kindScalar:
			dests = []string{v.value}
		case kindSeq:
			for _, it := range v.items {
				if it.kind != kindScalar {
					return fmt.Errorf("%s:%d: destination of %q must be a string, got %s", file, it.line, src, it.kind)
				}
				dests = append(dests, it.value)
			}
		default:
			return fmt.Errorf("%s: destination of %q must be a string or a list of strings, got %s", pos, src, v.kind)
		}
		if len(dests) == 0 {
			return fmt.Errorf("%s: empty destination for %q: write at least one destination repository", pos, src)
		}
		var clean []string
		have := map[string]bool{}
		for _, d := range dests {
			if d == "" {
				return fmt.Errorf("%s: empty destination for %q: write a destination repository", pos, src)
			}
			d = os.ExpandEnv(d)
			du, err := parseImageURL(d)
			if err != nil {
				return fmt.Errorf("%s: destination of %q: %w", pos, src, err)
			}
			if du.regex != nil {
				return fmt.Errorf("%s: destination %q: a /regex/ is only allowed in a source", pos, d)
			}
			if !have[d] {
				have[d] = true
				clean = append(clean, d)
			}
		}
		if j, ok := seen[src]; ok {
			c.warnf("%s: source %q repeats the entry at line %d; the later one is used", pos, src, c.Rules[j].Pos.Line)
			c.Rules[j] = Rule{Source: src, Destinations: clean, Pos: pos}
			continue
		}
		seen[src] = len(c.Rules)
		c.Rules = append(c.Rules, Rule{Source: src, Destinations: clean, Pos: pos})
	}
	return nil
}

func normalizeAuthKey(k string) string {
	k = strings.TrimSuffix(k, "/")
	reg, rest, _ := strings.Cut(k, "/")
	reg = canonicalRegistry(reg)
	if rest == "" {
		return reg
	}
	return reg + "/" + rest
}

// AuthFor returns the auth entry for repository ("registry/namespace/repo")
// with the longest matching key, where a key matches a whole registry or a
// whole leading run of path components.
func (c *Config) AuthFor(repository string) (Auth, bool) {
	best, bestLen, found := Auth{}, -1, false
	for _, a := range c.Auths {
		k := normalizeAuthKey(a.Key)
		if repository == k || strings.HasPrefix(repository, k+"/") {
			if len(k) > bestLen {
				best, bestLen, found = a, len(k), true
			}
		}
	}
	return best, found
}

// sortedRules returns the rules in a stable order for reporting.
func (c *Config) sortedRules() []Rule {
	rs := append([]Rule(nil), c.Rules...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Source < rs[j].Source })
	return rs
}
