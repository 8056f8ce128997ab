package ocitest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Referrer is one artifact oras finds referring to an image.
type Referrer struct {
	ArtifactType string `json:"artifactType"`
	Digest       string `json:"digest"`
}

// Discover lists what `oras discover` finds referring to ref (a plain-HTTP
// registry), sorted by artifact type.
func Discover(t testing.TB, oras, ref string) []Referrer {
	t.Helper()
	b, err := exec.Command(oras, "discover", "--plain-http", "--format", "json", ref).Output()
	if err != nil {
		t.Fatalf("oras discover %s: %v\n%s", ref, err, b)
	}
	var res struct {
		Manifests []Referrer `json:"manifests"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("oras discover: %v\n%s", err, b)
	}
	slices.SortFunc(res.Manifests, func(a, b Referrer) int { return strings.Compare(a.ArtifactType, b.ArtifactType) })
	return res.Manifests
}

// DiscoverTypes is Discover's artifact types alone.
func DiscoverTypes(t testing.TB, oras, ref string) []string {
	t.Helper()
	var out []string
	for _, r := range Discover(t, oras, ref) {
		out = append(out, r.ArtifactType)
	}
	return out
}
