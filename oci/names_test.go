package oci

import "testing"

// A --tag value is a full reference when a "/" or ":" is outside its
// placeholders, as docker build -t reads it; otherwise a tag template.
func TestSplitTagRef(t *testing.T) {
	for _, c := range []struct{ in, repo, tag string }{
		{"latest", "", "latest"},
		{"{branch}-{sha}", "", "{branch}-{sha}"},
		{"v{timestamp:%Y%m%d}", "", "v{timestamp:%Y%m%d}"},
		{"app:1.0", "app", "1.0"},
		{"registry.example:5000/ns/app:1.0", "registry.example:5000/ns/app", "1.0"},
		{"registry.example:5000/ns/app", "registry.example:5000/ns/app", "latest"},
		{"ns/app", "ns/app", "latest"},
		{"ghcr.io/o/app:{version}-{timestamp:%H:%M}", "ghcr.io/o/app", "{version}-{timestamp:%H:%M}"},
	} {
		repo, tag := SplitTagRef(c.in)
		if repo != c.repo || tag != c.tag {
			t.Errorf("SplitTagRef(%q) = %q, %q; want %q, %q", c.in, repo, tag, c.repo, c.tag)
		}
	}
}

// Names a copy gives an image: the source's own repository and tag, else
// one made from the file under localhost/, never the transport string.
func TestImageNames(t *testing.T) {
	for _, c := range []struct{ path, ref, want string }{
		{"/tmp/out/layout", "hello:1.0", "hello:1.0"},
		{"/tmp/out/layout", "registry.example:5000/ns/app:1.0", "registry.example:5000/ns/app:1.0"},
		{"/tmp/out/layout", "ns/app", "ns/app:latest"},
		{"/tmp/out/layout", "v1", "localhost/layout:v1"}, // a bare tag, as skopeo and umoci write them
		{"/tmp/out/Img.tar", "", "localhost/img:latest"}, // no name at all
		{"/tmp/out/layout", "Not A Ref", "localhost/layout:latest"},
	} {
		if got := LayoutRefName(c.path, c.ref); got != c.want {
			t.Errorf("LayoutRefName(%q, %q) = %q, want %q", c.path, c.ref, got, c.want)
		}
	}
	if n, ok := NameWithTag("ns/app:1.0@sha256:0123456789012345678901234567890123456789012345678901234567890123"); !ok || n != "ns/app:1.0" {
		t.Errorf("NameWithTag dropped the wrong part: %q %v", n, ok)
	}
}

// A name pushes to the registry it names; one without goes nowhere.
func TestHasRegistry(t *testing.T) {
	for ref, want := range map[string]bool{
		"hello": false, "hello:1.0": false, "ns/app:1.0": false,
		"registry.example/ns/app": true, "registry:5000/app": true, "localhost/app": true, "docker.io/library/app": true,
	} {
		if got := HasRegistry(ref); got != want {
			t.Errorf("HasRegistry(%q) = %v, want %v", ref, got, want)
		}
	}
}
