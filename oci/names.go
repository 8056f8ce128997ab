package oci

import (
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// LocalRegistry is the registry part podman gives images that name none;
// names made up for an image that has none of its own get it too, so that
// `docker load` does not file them under Docker Hub.
const LocalRegistry = "localhost"

// RepositoryName makes a valid repository name from a directory or file
// name: lower-cased, runs of other characters made "-", "image" if nothing
// is left.
func RepositoryName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && (r == '-' || r == '_' || r == '.' || r == ' '):
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "image"
	}
	return out
}

// LocalName is the name of an image kept in a file or directory that says
// no name of its own: localhost/BASE:TAG, BASE from the path without its
// extension (".tar"), TAG "latest" when empty.
func LocalName(path, tag string) string {
	base := filepath.Base(filepath.Clean(path))
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if tag == "" {
		tag = name.DefaultTag
	}
	return LocalRegistry + "/" + RepositoryName(base) + ":" + tag
}

// NameWithTag is ref (a registry reference as written, "ns/app",
// "registry.example:5000/ns/app:1.0@sha256:...") as repository:tag: the
// digest dropped, ":latest" added when it names no tag. ok is false when
// ref is not a valid reference.
func NameWithTag(ref string) (string, bool) {
	ref, _, _ = strings.Cut(ref, "@")
	t, err := name.NewTag(ref)
	if err != nil {
		return "", false
	}
	if !strings.HasSuffix(ref, ":"+t.TagStr()) {
		ref += ":" + t.TagStr()
	}
	return ref, true
}

// LayoutRefName is the name of an image an OCI layout holds under ref
// (its org.opencontainers.image.ref.name), kept in the layout at path: a
// full reference as it is (":latest" added when it has no tag), a bare tag
// as skopeo and umoci write them ("1.0") under the layout's LocalName.
func LayoutRefName(path, ref string) string {
	if !strings.ContainsAny(ref, ":/") {
		if CheckTag(ref) == nil {
			return LocalName(path, ref)
		}
		return LocalName(path, "")
	}
	if n, ok := NameWithTag(ref); ok {
		return n
	}
	return LocalName(path, "")
}

// HasRegistry reports whether a reference names its registry: its first
// path component has a "." or ":" or is localhost, as Docker reads it.
// "app:1.0" and "ns/app" name none (they mean Docker Hub).
func HasRegistry(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == LocalRegistry)
}

// SplitTagRef reads a --tag value as docker build -t and buildah bud -t
// do: a value with a "/" or a ":" outside its {placeholders} is a full
// reference, REPOSITORY[:TAG] (TAG "latest" when left out); anything else is
// a tag template and repo is "". "registry.example:5000/ns/app:{sha}" gives
// ("registry.example:5000/ns/app", "{sha}"); "v{timestamp:%Y}" is a tag.
func SplitTagRef(s string) (repo, tag string) {
	slash, colon, depth := -1, -1, 0
	for i, r := range s {
		switch {
		case r == '{':
			depth++
		case r == '}' && depth > 0:
			depth--
		case depth > 0:
		case r == '/':
			slash, colon = i, -1
		case r == ':':
			colon = i
		}
	}
	switch {
	case colon >= 0:
		return s[:colon], s[colon+1:]
	case slash >= 0:
		return s, name.DefaultTag
	}
	return "", s
}
