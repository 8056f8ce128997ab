package dockerfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// transports are the base references passed to Services.Base as written.
var transports = []string{"oci:", "oci-archive:", "docker-archive:", "docker://", "deb:", "containers-storage:"}

func hasTransport(ref string) bool {
	if ref == "scratch" {
		return true
	}
	for _, t := range transports {
		if strings.HasPrefix(ref, t) {
			return true
		}
	}
	return false
}

// baseRef turns a FROM name that is not a stage into a base reference and
// a line for Describe.
func (b *builder) baseRef(fromName string) (ref, becomes string, err error) {
	if src, ok := b.contextFor(fromName); ok {
		return src, "base " + src + " (build context " + fromName + ")", nil
	}
	if fromName == "scratch" {
		return "scratch", "empty base (scratch)", nil
	}
	if hasTransport(fromName) {
		return fromName, "base " + fromName, nil
	}
	n, err := normalizeImage(fromName)
	if err != nil {
		return "", "", err
	}
	return "docker://" + n, "base docker://" + n, nil
}

// contextFor looks name up among the build contexts, by the name as
// written or, for image names, in Docker's short form ("debian:bookworm"
// matches "docker.io/library/debian:bookworm").
func (b *builder) contextFor(ref string) (string, bool) {
	if len(b.o.contexts) == 0 {
		return "", false
	}
	if src, ok := b.o.contexts[ref]; ok {
		return contextSource(src), true
	}
	want := familiar(ref)
	keys := make([]string, 0, len(b.o.contexts))
	for k := range b.o.contexts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want != "" && familiar(k) == want {
			return contextSource(b.o.contexts[k]), true
		}
	}
	return "", false
}

// contextSource maps BuildKit's source forms onto base references.
func contextSource(src string) string {
	switch {
	case strings.HasPrefix(src, "docker-image://"):
		r := strings.TrimPrefix(src, "docker-image://")
		if n, err := normalizeImage(r); err == nil {
			r = n
		}
		return "docker://" + r
	case strings.HasPrefix(src, "oci-layout://"):
		r := strings.TrimPrefix(src, "oci-layout://")
		if i := strings.LastIndex(r, "@"); i >= 0 {
			r = r[:i] // the layout's index names the image; a digest pin is not checked here
		}
		return "oci:" + r
	}
	return src
}

// contextDir reports whether a build-context source is a local directory
// and returns its absolute path (relative paths are taken from the
// repository root).
func (b *builder) contextDir(src string) (string, bool) {
	if hasTransport(src) {
		return "", false
	}
	p := src
	if !filepath.IsAbs(p) {
		p = filepath.Join(b.d.root, filepath.FromSlash(p))
	}
	return p, true
}

// checkDir makes sure a build-context directory exists.
func checkDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("build context directory %s: %w", p, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("build context %s is not a directory (an image needs a transport: oci:DIR, docker://REF, ...)", p)
	}
	return nil
}

// normalizeImage writes an image name as Docker resolves it:
// "debian:bookworm" is "docker.io/library/debian:bookworm", a name without
// tag or digest is ":latest".
func normalizeImage(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("empty image name")
	}
	rest, digest, _ := strings.Cut(ref, "@")
	repo, tag := rest, ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		repo, tag = rest[:i], rest[i+1:]
	}
	domain, remainder := "docker.io", repo
	if i := strings.IndexByte(repo, '/'); i >= 0 {
		first := repo[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			domain, remainder = first, repo[i+1:]
		}
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(remainder, "/") {
		remainder = "library/" + remainder
	}
	out := domain + "/" + remainder
	if tag != "" {
		out += ":" + tag
	}
	if digest != "" {
		out += "@" + digest
	}
	if tag == "" && digest == "" {
		out += ":latest"
	}
	if _, err := name.ParseReference(out); err != nil {
		return "", fmt.Errorf("invalid image name %q: %v", ref, err)
	}
	return out, nil
}

// familiar is Docker's short form of an image name ("debian:bookworm"), or
// "" when s is not an image name.
func familiar(s string) string {
	if hasTransport(s) {
		if r, ok := strings.CutPrefix(s, "docker://"); ok {
			s = r
		} else {
			return ""
		}
	}
	n, err := normalizeImage(s)
	if err != nil {
		return ""
	}
	n = strings.TrimPrefix(n, "docker.io/library/")
	n = strings.TrimPrefix(n, "docker.io/")
	return strings.TrimSuffix(n, ":latest")
}
