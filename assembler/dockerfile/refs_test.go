package dockerfile

import (
	"testing"
)

func TestReferences(t *testing.T) {
	for in, want := range map[string]string{
		"debian":                               "docker.io/library/debian:latest",
		"debian:bookworm":                      "docker.io/library/debian:bookworm",
		"library/debian:12":                    "docker.io/library/debian:12",
		"docker.io/debian":                     "docker.io/library/debian:latest",
		"index.docker.io/library/debian":       "docker.io/library/debian:latest",
		"labnow/base:1.0":                      "docker.io/labnow/base:1.0",
		"ghcr.io/o/r":                          "ghcr.io/o/r:latest",
		"localhost:5000/x:y":                   "localhost:5000/x:y",
		"registry.example/a/b@sha256:" + hex64: "registry.example/a/b@sha256:" + hex64,
	} {
		got, err := normalizeImage(in)
		if err != nil || got != want {
			t.Errorf("normalizeImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "UPPER", "a b"} {
		if got, err := normalizeImage(bad); err == nil {
			t.Errorf("normalizeImage(%q) = %q, want an error", bad, got)
		}
	}
	for in, want := range map[string]string{
		"docker-image://debian:bookworm":      "docker://docker.io/library/debian:bookworm",
		"oci-layout:///srv/l:tag":             "oci:/srv/l:tag",
		"oci-layout:///srv/l@sha256:" + hex64: "oci:/srv/l",
		"oci:/srv/l:tag":                      "oci:/srv/l:tag",
		"deb:bookworm":                        "deb:bookworm",
		"./dir":                               "./dir",
	} {
		if got := contextSource(in); got != want {
			t.Errorf("contextSource(%q) = %q, want %q", in, got, want)
		}
	}
	// A build context named in any spelling of an image matches FROM in any other.
	b := &builder{o: &options{contexts: map[string]string{"docker.io/library/debian:bookworm": "deb:bookworm", "base": "oci:/x:y"}}}
	for _, from := range []string{"debian:bookworm", "docker.io/library/debian:bookworm", "library/debian:bookworm"} {
		if got, ok := b.contextFor(from); !ok || got != "deb:bookworm" {
			t.Errorf("contextFor(%q) = %q, %v", from, got, ok)
		}
	}
	if got, ok := b.contextFor("base"); !ok || got != "oci:/x:y" {
		t.Errorf("contextFor(base) = %q, %v", got, ok)
	}
	if _, ok := b.contextFor("debian:trixie"); ok {
		t.Error("debian:trixie matched a bookworm context")
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
