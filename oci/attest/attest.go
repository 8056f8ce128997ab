// Package attest writes what an image was built from: SBOMs (SPDX 2.3 and
// CycloneDX 1.5 JSON) and an in-toto statement with a SLSA provenance v1
// predicate, from the exact sets the build installed rather than from a scan
// of the result, and packs them as OCI 1.1 artifacts whose subject is the
// image manifest, for sinks to write beside it.
//
// Every document is a function of its Input: the same build gives the same
// bytes. Nothing here reads the clock, the host or the network.
package attest

import (
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Input is what one image, for one platform, was built from.
type Input struct {
	// Name is the image's name without a tag ("registry.example/ns/app").
	Name string
	// Subject is the image manifest the documents describe.
	Subject v1.Descriptor
	// Platform is "os/arch[/variant]".
	Platform string
	// Distro is the purl distro qualifier of the Debian packages ("debian-12").
	Distro string
	// Created is the build's time (SOURCE_DATE_EPOCH, or the image's created time).
	Created time.Time
	Base    Base
	Debs    []Deb
	Wheels  []Wheel
	Conda   []Conda
	Repo    Repo
	// Invocation is what produced the image, for the provenance.
	Invocation Invocation
	// Indexes are the package indexes the packages were resolved from
	// (InRelease files and Packages indexes, conda repodata.json files)
	// and the lock files installed as they are, by hash.
	Indexes []Material
}

// Base is the image the build started from.
type Base struct {
	Ref    string  // as the plan names it ("debian:bookworm", "deb:bookworm", "scratch")
	Digest v1.Hash // its manifest digest for this platform; zero when unknown
}

// Deb is one Debian package the build installed.
type Deb struct {
	Name, Version, Arch string
	// Source is the source package ("" when it is the package's own name).
	Source string
	// SHA256 is the hex digest of the .deb, from the signed index.
	SHA256 string
	// Filename is the .deb's path below its mirror (pool/...).
	Filename string
	// Depends and PreDepends are the relation fields as in the index.
	Depends, PreDepends string
	// License is an SPDX expression read from a machine-readable
	// debian/copyright; "" when there is none.
	License string
}

// Wheel is one Python distribution the build installed.
type Wheel struct {
	Name, Version string
	Filename      string
	SHA256        string // hex
	URL           string // where it came from, without credentials
	// RequestedBy says what asked for it, as the resolver says it: a
	// distribution ("flask 3.0.0", "flask[async] 3.0.0") or a
	// requirements file line.
	RequestedBy []string
	// License is an SPDX expression from the distribution's metadata
	// (PythonLicense); "" when it states none for certain.
	License string
}

// Conda is one conda package the build installed into an environment.
type Conda struct {
	Name, Version, Build string
	// Subdir is the channel's platform directory ("linux-64", "noarch").
	Subdir string
	// Channel is the channel as its purl qualifier names it: its name
	// when it is under the channel alias ("conda-forge"), else its URL.
	Channel string
	// Filename is the package file ("zlib-1.3.1-h4ab18f5_1.conda"), URL
	// where it was fetched from (without credentials), SHA256 its hex
	// digest as the repodata gives it (and the install checked).
	Filename, URL, SHA256 string
	// Prefix is the environment it went into.
	Prefix string
	// Depends are the names of the packages its depends name.
	Depends []string
	// License is an SPDX expression (CondaLicense); "" when the
	// repodata's license field is not one.
	License string
}

// Repo is the repository the image was built from.
type Repo struct {
	Revision string // git commit
	Source   string // remote URL, credentials removed
}

// Invocation is how the build was asked for.
type Invocation struct {
	Convention string
	// Parameters are the settings that change the output (compression,
	// platforms, mirrors, build arguments...), by name.
	Parameters map[string]string
}

// Material is one input named by its digest.
type Material struct {
	Name   string // what it is, when the URI does not say ("conda lock")
	URI    string
	SHA256 string // hex
}

// Media and artifact types of the documents.
const (
	SPDXMediaType       = "application/spdx+json"
	CycloneDXMediaType  = "application/vnd.cyclonedx+json"
	InTotoMediaType     = "application/vnd.in-toto+json"
	ProvenanceType      = "https://slsa.dev/provenance/v1"
	BuildType           = "https://github.com/assemble-build/assemble/buildtypes/assemble@v1"
	BuilderID           = "https://github.com/assemble-build/assemble"
	annotationPredicate = "in-toto.io/predicate-type"
)

// Formats of the SBOM.
const (
	FormatSPDX      = "spdx"
	FormatCycloneDX = "cyclonedx"
)

// CheckFormat refuses an SBOM format this package does not write.
func CheckFormat(f string) error {
	switch f {
	case FormatSPDX, FormatCycloneDX:
		return nil
	}
	return fmt.Errorf("unknown SBOM format %q: use %s or %s", f, FormatSPDX, FormatCycloneDX)
}

// SBOM writes in's SBOM in format.
func SBOM(in Input, format string) ([]byte, error) {
	switch format {
	case FormatSPDX:
		return SPDX(in)
	case FormatCycloneDX:
		return CycloneDX(in)
	}
	return nil, CheckFormat(format)
}

// builderVersion is assemble's module version, "(devel)" for a build from
// a checkout.
func builderVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// debPURL is a Debian package's package URL.
func debPURL(d Deb, distro string) string {
	u := fmt.Sprintf("pkg:deb/debian/%s@%s?arch=%s", d.Name, purlEscape(d.Version), d.Arch)
	if distro != "" {
		u += "&distro=" + distro
	}
	return u
}

// DistroOf is the purl distro qualifier of a Debian suite ("bookworm" →
// "debian-12"); "" for a suite it does not know.
func DistroOf(suite string) string {
	return map[string]string{"buster": "debian-10", "bullseye": "debian-11", "bookworm": "debian-12", "trixie": "debian-13", "forky": "debian-14"}[suite]
}

// pypiPURL is a Python distribution's package URL: the name normalised as
// PEP 503 and the purl spec say (lower case, runs of -_. as "-").
func pypiPURL(w Wheel) string {
	return fmt.Sprintf("pkg:pypi/%s@%s", normalizePyName(w.Name), purlEscape(w.Version))
}

func normalizePyName(n string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(n) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// condaPURL is a conda package's package URL, as the purl spec's conda
// type writes it: qualifiers build, channel, subdir and type (the file's
// format, "conda" or "tar.bz2"), in that (sorted) order.
func condaPURL(c Conda) string {
	u := fmt.Sprintf("pkg:conda/%s@%s", strings.ToLower(c.Name), purlEscape(c.Version))
	var q []string
	add := func(k, v string) {
		if v != "" {
			q = append(q, k+"="+purlQualifier(v))
		}
	}
	add("build", c.Build)
	add("channel", c.Channel)
	add("subdir", c.Subdir)
	switch {
	case strings.HasSuffix(c.Filename, ".conda"):
		add("type", "conda")
	case strings.HasSuffix(c.Filename, ".tar.bz2"):
		add("type", "tar.bz2")
	}
	if len(q) == 0 {
		return u
	}
	return u + "?" + strings.Join(q, "&")
}

// purlQualifier percent-encodes a qualifier value: as a version, and the
// separators of qualifiers. A channel URL keeps its ":" and "/", which
// the purl spec lets a qualifier value hold as they are.
func purlQualifier(s string) string {
	return strings.NewReplacer("%", "%25", "+", "%2B", " ", "%20", "?", "%3F", "#", "%23", "@", "%40", "&", "%26", "=", "%3D").Replace(s)
}

// purlEscape percent-encodes what a purl version may not hold as is
// (":" of an epoch, "+" which would read as a space).
func purlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", ":", "%3A", "+", "%2B", " ", "%20", "?", "%3F", "#", "%23", "@", "%40")
	return r.Replace(s)
}

// depends lists the names of in's Debian packages each package depends on,
// taking the first alternative of each relation that the set holds;
// relations satisfied outside the set (by the base, or by a virtual
// package) are left out, since the resolver's choice for them is not known
// here.
func depends(debs []Deb) map[string][]string {
	have := map[string]bool{}
	for _, d := range debs {
		have[d.Name] = true
	}
	out := map[string][]string{}
	for _, d := range debs {
		seen := map[string]bool{}
		for _, field := range []string{d.PreDepends, d.Depends} {
			for _, rel := range strings.Split(field, ",") {
				for _, alt := range strings.Split(rel, "|") {
					n := relName(alt)
					if !have[n] {
						continue
					}
					if !seen[n] && n != d.Name {
						seen[n] = true
						out[d.Name] = append(out[d.Name], n)
					}
					break
				}
			}
		}
		sort.Strings(out[d.Name])
	}
	return out
}

// wheelDepends maps each Python distribution (by normalised name) to
// those of the set it depends on, from the resolver's RequestedBy.
func wheelDepends(ws []Wheel) map[string][]string {
	have := map[string]bool{}
	for _, w := range ws {
		have[normalizePyName(w.Name)] = true
	}
	out := map[string][]string{}
	for _, w := range ws {
		dep := normalizePyName(w.Name)
		for _, by := range w.RequestedBy {
			n, _, _ := strings.Cut(by, " ")
			n, _, _ = strings.Cut(n, "[")
			if n = normalizePyName(n); have[n] && n != dep && !slices.Contains(out[n], dep) {
				out[n] = append(out[n], dep)
			}
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// condaDepends maps each conda package (by its index in cs) to the
// indexes of the packages of the same environment it depends on; a
// dependency met outside the set (a virtual package such as __glibc) is
// left out.
func condaDepends(cs []Conda) map[int][]int {
	at := map[string]int{}
	for i, c := range cs {
		at[c.Prefix+"\x00"+c.Name] = i
	}
	out := map[int][]int{}
	for i, c := range cs {
		for _, n := range c.Depends {
			if j, ok := at[c.Prefix+"\x00"+n]; ok && j != i && !slices.Contains(out[i], j) {
				out[i] = append(out[i], j)
			}
		}
		slices.Sort(out[i])
	}
	return out
}

// relName is the package name of one alternative ("libc6:any (>= 2.34)" → "libc6").
func relName(alt string) string {
	alt = strings.TrimSpace(alt)
	if i := strings.IndexAny(alt, " (["); i >= 0 {
		alt = alt[:i]
	}
	n, _, _ := strings.Cut(alt, ":")
	return n
}

// sortedDebs and sortedWheels give the documents a fixed order whatever
// order the layers installed in.
func sortedDebs(ds []Deb) []Deb {
	out := append([]Deb(nil), ds...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Arch < out[j].Arch
	})
	return out
}

func sortedWheels(ws []Wheel) []Wheel {
	out := append([]Wheel(nil), ws...)
	sort.Slice(out, func(i, j int) bool { return normalizePyName(out[i].Name) < normalizePyName(out[j].Name) })
	return out
}

// sortedConda orders conda packages by environment, then name.
func sortedConda(cs []Conda) []Conda {
	out := append([]Conda(nil), cs...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Prefix != out[j].Prefix {
			return out[i].Prefix < out[j].Prefix
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// docName names the documents: "NAME@sha256:HEX" for the platform image.
func (in Input) docName() string {
	n := in.Name
	if n == "" {
		n = "image"
	}
	return n + "@" + in.Subject.Digest.String()
}

// created is the documents' creation time, in RFC 3339 UTC.
func (in Input) created() string { return in.Created.UTC().Format(time.RFC3339) }
