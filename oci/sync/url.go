package sync

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dockerHub is the name image-syncer (and containers/image) give Docker Hub.
const dockerHub = "docker.io"

var tagRE = lazyregexp.New(`^[\w][\w.-]{0,127}$`)

// imageURL is one side of an image-syncer rule: a repository with no tag
// (all tags), a comma list of tags, one /regex/ over tags, or a digest.
type imageURL struct {
	raw      string
	registry string // "docker.io", "127.0.0.1:5000"
	repo     string // "library/alpine"
	tags     []string
	digest   string
	regex    *regexp.Regexp
}

// repository is the registry/repo string image-syncer matches auth keys against.
func (u imageURL) repository() string { return u.registry + "/" + u.repo }

// all reports whether u names every tag of the repository.
func (u imageURL) all() bool { return len(u.tags) == 0 && u.digest == "" && u.regex == nil }

// parseImageURL splits s the way image-syncer reads its rules.
func parseImageURL(s string) (imageURL, error) {
	u := imageURL{raw: s}
	if s == "" {
		return u, fmt.Errorf("empty image reference")
	}
	if strings.TrimSpace(s) != s {
		return u, fmt.Errorf("image reference %q has leading or trailing spaces", s)
	}
	rest := s
	// A regex may contain "/" and ":", so it is cut off first: "repo:/re/".
	if i := strings.Index(rest, ":/"); i >= 0 {
		if !strings.HasSuffix(rest, "/") || len(rest) < i+3 {
			return u, fmt.Errorf("image reference %q: a tag regex is written repo:/regex/ with a closing slash", s)
		}
		expr := rest[i+2 : len(rest)-1]
		re, err := regexp.Compile(expr)
		if err != nil {
			return u, fmt.Errorf("image reference %q: invalid tag regex: %w", s, err)
		}
		u.regex = re
		rest = rest[:i]
	} else if i := strings.LastIndex(rest, "@"); i >= 0 {
		h, err := v1.NewHash(rest[i+1:])
		if err != nil {
			return u, fmt.Errorf("image reference %q: invalid digest: %w", s, err)
		}
		u.digest = h.String()
		rest = rest[:i]
	}
	// Tags follow the last ":" of the last path component (a registry
	// port is in the first component).
	slash := strings.LastIndex(rest, "/")
	if c := strings.LastIndex(rest, ":"); c > slash {
		tags := strings.Split(rest[c+1:], ",")
		if u.regex != nil || (u.digest != "" && len(tags) > 1) {
			return u, fmt.Errorf("image reference %q: use either tags, a /regex/ or a digest, not several", s)
		}
		for _, t := range tags {
			if !tagRE.MatchString(t) {
				return u, fmt.Errorf("image reference %q: invalid tag %q (tags are letters, digits, _ . -, at most 128, separated by commas)", s, t)
			}
		}
		// As in Docker references, repo:tag@digest means the digest.
		if u.digest == "" {
			u.tags = tags
		}
		rest = rest[:c]
	}
	reg, repo := splitRegistry(rest)
	if repo == "" {
		return u, fmt.Errorf("image reference %q has no repository name", s)
	}
	if _, err := name.NewRepository(reg+"/"+repo, name.StrictValidation); err != nil {
		return u, fmt.Errorf("image reference %q: %w", s, err)
	}
	u.registry, u.repo = reg, repo
	return u, nil
}

// splitRegistry applies Docker's rule: the first component is a registry if
// it has a "." or ":", is "localhost", or has upper-case letters; otherwise
// the image is on Docker Hub, where single names live under library/.
func splitRegistry(s string) (registry, repo string) {
	i := strings.Index(s, "/")
	if i < 0 || (!strings.ContainsAny(s[:i], ".:") && s[:i] != "localhost" && strings.ToLower(s[:i]) == s[:i]) {
		registry, repo = dockerHub, s
	} else {
		registry, repo = s[:i], s[i+1:]
	}
	registry = canonicalRegistry(registry)
	if registry == dockerHub && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return registry, repo
}

// canonicalRegistry maps Docker Hub's aliases to one name, so auth keys
// written either way match.
func canonicalRegistry(r string) string {
	switch r {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return dockerHub
	}
	return r
}

// pair is one image copy: a source tag or digest to a destination tag or digest.
type pair struct {
	src, dst         imageURL
	srcItem, dstItem string // tag or "sha256:..." digest
}

func isDigest(item string) bool { return strings.Contains(item, ":") }

func (p pair) srcString() string { return refString(p.src, p.srcItem) }
func (p pair) dstString() string { return refString(p.dst, p.dstItem) }

func refString(u imageURL, item string) string {
	if isDigest(item) {
		return u.repository() + "@" + item
	}
	return u.repository() + ":" + item
}

// sourceItems lists what a source names, given the repository's tags (only
// consulted for all-tags and regex sources).
func sourceItems(src imageURL, repoTags []string) []string {
	switch {
	case src.digest != "":
		return []string{src.digest}
	case len(src.tags) > 0:
		return src.tags
	case src.regex != nil:
		var out []string
		for _, t := range repoTags {
			if src.regex.MatchString(t) {
				out = append(out, t)
			}
		}
		return out
	}
	return repoTags
}

// pairUp maps source items to a destination the way image-syncer does: a
// destination without tags keeps the source's tags or digest; N destination
// tags rename N source tags in order; a destination digest must equal the
// source digest.
func pairUp(src imageURL, items []string, dst imageURL) ([]pair, error) {
	var out []pair
	switch {
	case dst.regex != nil:
		return nil, fmt.Errorf("destination %q: a /regex/ is only allowed in a source", dst.raw)
	case dst.digest != "":
		if len(items) != 1 || items[0] != dst.digest {
			return nil, fmt.Errorf("destination %q has a digest: the source must be that same digest (got %s)", dst.raw, strings.Join(items, ","))
		}
		out = append(out, pair{src: src, dst: dst, srcItem: items[0], dstItem: dst.digest})
	case len(dst.tags) > 0:
		if len(dst.tags) != len(items) {
			return nil, fmt.Errorf("destination %q names %d tag(s) but the source %q gives %d (%s): give the same number, or leave the destination's tags out to keep the source's",
				dst.raw, len(dst.tags), src.raw, len(items), strings.Join(items, ","))
		}
		for i, it := range items {
			out = append(out, pair{src: src, dst: dst, srcItem: it, dstItem: dst.tags[i]})
		}
	default:
		for _, it := range items {
			out = append(out, pair{src: src, dst: dst, srcItem: it, dstItem: it})
		}
	}
	return out, nil
}
