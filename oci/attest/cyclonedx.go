package attest

import (
	"bytes"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
)

// CycloneDX writes in as a CycloneDX 1.5 JSON BOM: the image as the
// metadata component; the base, the repository, the Debian packages and
// the Python distributions and the conda packages as components; dependencies from the image to
// each, and between Debian packages where both ends were installed. The
// serial number is a name-based UUID of the image's name and digest.
func CycloneDX(in Input) ([]byte, error) {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(spdxNamespaceBase+in.docName())).String()
	imgRef := "image"
	bom.Metadata = &cdx.Metadata{
		Timestamp: in.created(),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "assemble", Version: builderVersion()}}},
		Component: &cdx.Component{BOMRef: imgRef, Type: cdx.ComponentTypeContainer, Name: in.Name, Version: in.Subject.Digest.String(),
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: in.Subject.Digest.Hex}},
			Properties: &[]cdx.Property{{Name: "assemble:platform", Value: in.Platform}}},
	}
	var comps []cdx.Component
	var top []string
	if in.Base.Ref != "" {
		c := cdx.Component{BOMRef: "base", Type: cdx.ComponentTypeContainer, Name: in.Base.Ref}
		if in.Base.Digest.Hex != "" {
			c.Version = in.Base.Digest.String()
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: in.Base.Digest.Hex}}
		}
		comps, top = append(comps, c), append(top, c.BOMRef)
	}
	if r := in.Repo; r.Revision != "" {
		c := cdx.Component{BOMRef: "repository", Type: cdx.ComponentTypeApplication, Name: "repository", Version: r.Revision}
		if r.Source != "" {
			c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeVCS, URL: r.Source}}
		}
		comps = append(comps, c)
	}
	debs := sortedDebs(in.Debs)
	for _, d := range debs {
		comps = append(comps, cdxDeb(d, in.Distro))
		top = append(top, debPURL(d, in.Distro))
	}
	wheels := sortedWheels(in.Wheels)
	for _, w := range wheels {
		c := cdx.Component{BOMRef: pypiPURL(w), Type: cdx.ComponentTypeLibrary, Name: w.Name, Version: w.Version, PackageURL: pypiPURL(w),
			Properties: &[]cdx.Property{{Name: "assemble:wheel", Value: w.Filename}}}
		if w.SHA256 != "" {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: w.SHA256}}
		}
		if w.License != "" {
			c.Licenses = &cdx.Licenses{{Expression: w.License}}
		}
		comps, top = append(comps, c), append(top, c.BOMRef)
	}
	condas := sortedConda(in.Conda)
	crefs := condaRefs(condas)
	for i, c := range condas {
		comps, top = append(comps, cdxConda(c, crefs[i])), append(top, crefs[i])
	}
	deps := []cdx.Dependency{{Ref: imgRef, Dependencies: &top}}
	byName := map[string]Deb{}
	for _, d := range debs {
		byName[d.Name] = d
	}
	dm := depends(debs)
	for _, d := range debs {
		var on []string
		for _, n := range dm[d.Name] {
			on = append(on, debPURL(byName[n], in.Distro))
		}
		if len(on) > 0 {
			deps = append(deps, cdx.Dependency{Ref: debPURL(d, in.Distro), Dependencies: &on})
		}
	}
	deps = append(deps, cdxWheelDeps(wheels)...)
	cdeps := condaDepends(condas)
	for i := range condas {
		var on []string
		for _, j := range cdeps[i] {
			on = append(on, crefs[j])
		}
		if len(on) > 0 {
			deps = append(deps, cdx.Dependency{Ref: crefs[i], Dependencies: &on})
		}
	}
	bom.Components, bom.Dependencies = &comps, &deps
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_5); err != nil {
		return nil, fmt.Errorf("writing the CycloneDX BOM: %w", err)
	}
	return buf.Bytes(), nil
}

func cdxDeb(d Deb, distro string) cdx.Component {
	c := cdx.Component{BOMRef: debPURL(d, distro), Type: cdx.ComponentTypeLibrary, Name: d.Name, Version: d.Version, PackageURL: debPURL(d, distro),
		Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: d.SHA256}}}
	props := []cdx.Property{{Name: "assemble:deb:arch", Value: d.Arch}, {Name: "assemble:deb:filename", Value: d.Filename}}
	if d.Source != "" {
		props = append(props, cdx.Property{Name: "assemble:deb:source", Value: d.Source})
	}
	c.Properties = &props
	if d.License != "" {
		c.Licenses = &cdx.Licenses{{Expression: d.License}}
	}
	return c
}

// cdxWheelDeps are the dependencies between Python distributions the
// resolver knows, by purl.
func cdxWheelDeps(wheels []Wheel) []cdx.Dependency {
	byName := map[string]Wheel{}
	for _, w := range wheels {
		byName[normalizePyName(w.Name)] = w
	}
	wd := wheelDepends(wheels)
	var out []cdx.Dependency
	for _, w := range wheels {
		var on []string
		for _, n := range wd[normalizePyName(w.Name)] {
			on = append(on, pypiPURL(byName[n]))
		}
		if len(on) > 0 {
			out = append(out, cdx.Dependency{Ref: pypiPURL(w), Dependencies: &on})
		}
	}
	return out
}

// cdxConda is one conda package, with the properties a purl does not hold.
func cdxConda(c Conda, ref string) cdx.Component {
	comp := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: c.Name, Version: c.Version, PackageURL: condaPURL(c)}
	if c.SHA256 != "" {
		comp.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: c.SHA256}}
	}
	if c.URL != "" {
		comp.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeDistribution, URL: c.URL}}
	}
	comp.Properties = &[]cdx.Property{{Name: "assemble:conda:filename", Value: c.Filename}, {Name: "assemble:conda:prefix", Value: c.Prefix}}
	if c.License != "" {
		comp.Licenses = &cdx.Licenses{{Expression: c.License}}
	}
	return comp
}

// condaRefs are the BOM references of sorted conda packages: the purl,
// and for the same package in a second environment the purl with that
// environment, since a reference must be unique.
func condaRefs(cs []Conda) []string {
	out := make([]string, len(cs))
	seen := map[string]bool{}
	for i, c := range cs {
		ref := condaPURL(c)
		if seen[ref] {
			ref += "#" + c.Prefix
		}
		seen[ref] = true
		out[i] = ref
	}
	return out
}
