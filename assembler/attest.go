package assembler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/dockerfile"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/deb"
	"github.com/assemble-build/assemble/layers/wheel"
	"github.com/assemble-build/assemble/oci"
	"github.com/assemble-build/assemble/oci/attest"
)

// WithSBOM makes Build write, for each platform image, an SBOM in format
// ("spdx" or "cyclonedx") and a SLSA provenance statement, as OCI 1.1
// referrers of the image (Built.Attestations). "" writes none.
func WithSBOM(format string) Option {
	return func(o *options) error {
		if format != "" {
			if err := attest.CheckFormat(format); err != nil {
				return fmt.Errorf("--sbom-format: %w", err)
			}
		}
		o.sbom = format
		return nil
	}
}

// Attestation is one document about one platform image of a Built, and
// the artifact that carries it as a referrer of that image.
type Attestation struct {
	Platform string
	Subject  v1.Hash
	attest.Document
	Referrer v1.Image
}

// installed is what a build put into one platform image, recorded as the
// layer factories resolve it: the SBOM lists these, not a scan.
type installed struct {
	mu     sync.Mutex
	suite  string
	debs   []*deb.Package
	wheels []wheel.Resolved
	// sites are the site directories the wheels went into, where their
	// metadata (and so their licenses) is read back from the image.
	sites   []string
	indexes []*deb.Index
	// conda are the conda packages (by environment and name), and
	// condaInputs the repodata files and lock files they came from.
	conda       []attest.Conda
	condaInputs []attest.Material
	// stages holds, while a Dockerfile builds, what each of its translated
	// installs put in, by the install's source ("Dockerfile:LINE"): only
	// the target's chain of stages is in the image (takeStages).
	stages map[string]*installed
}

// addDebs records Debian packages and the index they were resolved from.
// A nil receiver records nothing (SBOMs off, or outside a platform build).
func (r *installed) addDebs(suite string, ix *deb.Index, pkgs []*deb.Package) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.suite == "" {
		r.suite = suite
	}
	r.putDebs(pkgs)
	if !slices.Contains(r.indexes, ix) {
		r.indexes = append(r.indexes, ix)
	}
}

// putDebs and putWheels add packages; one installed later replaces one
// of the same name (and architecture) installed below it, as in the image.
func (r *installed) putDebs(pkgs []*deb.Package) {
	for _, p := range pkgs {
		r.debs = slices.DeleteFunc(r.debs, func(q *deb.Package) bool { return q.Name == p.Name && q.Architecture == p.Architecture })
		r.debs = append(r.debs, p)
	}
}

func (r *installed) putWheels(ws []wheel.Resolved) {
	for _, w := range ws {
		n := wheel.NormalizeName(w.Name)
		r.wheels = slices.DeleteFunc(r.wheels, func(v wheel.Resolved) bool { return wheel.NormalizeName(v.Name) == n })
		r.wheels = append(r.wheels, w)
	}
}

// addConda records the conda packages a layer installs and its inputs.
func (r *installed) addConda(pkgs []attest.Conda, inputs []attest.Material) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.putConda(pkgs, inputs)
}

func (r *installed) putConda(pkgs []attest.Conda, inputs []attest.Material) {
	for _, p := range pkgs {
		r.conda = slices.DeleteFunc(r.conda, func(q attest.Conda) bool { return q.Prefix == p.Prefix && q.Name == p.Name })
		r.conda = append(r.conda, p)
	}
	for _, m := range inputs {
		if !slices.Contains(r.condaInputs, m) {
			r.condaInputs = append(r.condaInputs, m)
		}
	}
}

// addWheels records the Python distributions a layer installs into t (not
// those the image below already had).
func (r *installed) addWheels(set []wheel.Resolved, t *wheel.Target) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var added []wheel.Resolved
	for _, w := range set {
		if !w.Installed {
			added = append(added, w)
		}
	}
	if len(added) > 0 {
		r.putWheels(added)
		r.addSites(t.Purelib, t.Platlib)
	}
}

func (r *installed) addSites(dirs ...string) {
	for _, d := range dirs {
		if d != "" && !slices.Contains(r.sites, d) {
			r.sites = append(r.sites, d)
		}
	}
}

// stage returns the record of the Dockerfile install at source.
func (r *installed) stage(source string) *installed {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stages == nil {
		r.stages = map[string]*installed{}
	}
	if r.stages[source] == nil {
		r.stages[source] = &installed{}
	}
	return r.stages[source]
}

// takeStages adds what the Dockerfile installs at sources recorded.
func (r *installed) takeStages(sources []string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, src := range sources {
		st := r.stages[src]
		if st == nil {
			continue
		}
		if r.suite == "" {
			r.suite = st.suite
		}
		r.putDebs(st.debs)
		r.putWheels(st.wheels)
		r.putConda(st.conda, st.condaInputs)
		r.addSites(st.sites...)
		for _, ix := range st.indexes {
			if !slices.Contains(r.indexes, ix) {
				r.indexes = append(r.indexes, ix)
			}
		}
	}
}

// recordTarget records what went into a Dockerfile's image: its chain's
// base (a deb: root's packages, as the deb: convention lists them; an
// image's by its digest only) and the chain's translated installs.
func (s *services) recordTarget(ctx context.Context, t *dockerfile.Target, platform v1.Platform) error {
	rec := s.installed
	if rec == nil {
		return nil
	}
	if suite, ok := strings.CutPrefix(t.Base, DebianBase); ok {
		ix, pkgs, err := s.env.debianBaseSet(ctx, suite, platform)
		if err != nil {
			return fmt.Errorf("base %s: %w", t.Base, err)
		}
		rec.addDebs(suite, ix, pkgs)
	}
	rec.takeStages(t.Installs)
	return nil
}

// recording returns the services for building one platform of an image,
// recording what it installs when SBOMs are on and the image is published.
func (s *services) recording() *services {
	c := *s
	c.installed = nil
	if s.o.sbom != "" && !s.unpublished {
		c.installed = &installed{}
	}
	return &c
}

// attestations writes the documents of one platform image and their referrers.
func (s *services) attestations(im plan.Image, ps, baseRef string, base, img v1.Image, annotations map[string]string) ([]Attestation, error) {
	if s.installed == nil {
		return nil, nil
	}
	in, err := s.attestInput(im, ps, baseRef, base, img, annotations)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s [%s]: %w", im.Name, ps, err)
	}
	docs, err := attest.Documents(in, s.o.sbom)
	if err != nil {
		return nil, err
	}
	var out []Attestation
	for _, d := range docs {
		ref, err := attest.Referrer(in.Subject, d, s.o.created)
		if err != nil {
			return nil, err
		}
		out = append(out, Attestation{Platform: ps, Subject: in.Subject.Digest, Document: d, Referrer: ref})
	}
	return out, nil
}

// attestInput gathers what the documents say of one platform image.
func (s *services) attestInput(im plan.Image, ps, baseRef string, base, img v1.Image, annotations map[string]string) (attest.Input, error) {
	rec := s.installed
	in := attest.Input{Name: im.Name, Platform: ps, Created: s.o.created, Distro: attest.DistroOf(rec.suite),
		Repo:       attest.Repo{Revision: annotations[oci.AnnotationRevision], Source: annotations[oci.AnnotationSource]},
		Invocation: attest.Invocation{Convention: s.p.Convention, Parameters: s.o.outputParameters()},
		Indexes:    append(materialsOf(rec.indexes), sortedMaterials(rec.condaInputs)...), Conda: slices.Clone(rec.conda)}
	var err error
	if in.Subject.Digest, err = img.Digest(); err != nil {
		return in, err
	}
	if in.Subject.MediaType, err = img.MediaType(); err != nil {
		return in, err
	}
	if in.Subject.Size, err = img.Size(); err != nil {
		return in, err
	}
	if baseRef != "" && base != nil {
		in.Base.Ref = baseRef
		if in.Base.Digest, err = base.Digest(); err != nil {
			return in, err
		}
	}
	licenses, err := s.env.licenses(img, rec.debs)
	if err != nil {
		return in, err
	}
	for _, p := range rec.debs {
		in.Debs = append(in.Debs, attest.Deb{Name: p.Name, Version: p.Version, Arch: p.Architecture, Source: p.Source,
			SHA256: p.SHA256, Filename: path.Base(p.Filename), Depends: p.Depends, PreDepends: p.PreDepends, License: licenses[p.Name]})
	}
	wlicenses, err := s.env.wheelLicenses(img, rec.wheels, rec.sites)
	if err != nil {
		return in, err
	}
	for _, w := range rec.wheels {
		in.Wheels = append(in.Wheels, attest.Wheel{Name: w.Name, Version: w.Version, Filename: w.Filename, SHA256: w.SHA256, URL: w.URL,
			RequestedBy: w.RequestedBy, License: wlicenses[wheel.NormalizeName(w.Name)]})
	}
	return in, nil
}

// materialsOf lists the files of the indexes packages were resolved from.
func materialsOf(ixs []*deb.Index) []attest.Material {
	var out []attest.Material
	for _, ix := range ixs {
		for _, f := range ix.Files() {
			out = append(out, attest.Material{URI: f.URI, SHA256: f.SHA256})
		}
	}
	return out
}

// outputParameters are the settings that change what a build writes, for
// the provenance's external parameters.
func (o *options) outputParameters() map[string]string {
	p := map[string]string{"compression": o.compression.Name, "created": o.created.Format("2006-01-02T15:04:05Z")}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	set("base", o.base)
	set("platforms", strings.Join(o.platforms, ","))
	set("debian-mirror", o.debian.Mirror)
	set("debian-local-dir", o.debian.LocalDir)
	set("index-url", o.python.IndexURL)
	set("extra-index-url", strings.Join(o.python.ExtraIndex, ","))
	set("find-links", strings.Join(o.python.FindLinks, ","))
	if o.python.NoIndex {
		p["no-index"] = "true"
	}
	set("target", o.target)
	set("dockerfile", o.dockerfile)
	keys := make([]string, 0, len(o.buildArgs))
	for k := range o.buildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p["build-arg:"+k] = o.buildArgs[k]
	}
	return p
}

// licenses reads the machine-readable copyright files of pkgs from img,
// as a probe (cached by the image's layers).
func (e *env) licenses(img v1.Image, pkgs []*deb.Package) (map[string]string, error) {
	out := map[string]string{}
	if len(pkgs) == 0 {
		return out, nil
	}
	// The deb layers noted their copyright files when they were written;
	// the image is read only where they cannot say.
	if rec, ok := e.recordedLicenses(img, pkgs); ok {
		return rec, nil
	}
	// The probe is named by the packages asked about as well as by the
	// layers: two builds may reach the same layers having recorded
	// different sets (a deb: base, or the same root taken as a base).
	h := sha256.New()
	for _, p := range pkgs {
		io.WriteString(h, p.Name+"\n")
	}
	name := "deb-licenses-" + hex.EncodeToString(h.Sum(nil))[:16]
	err := e.probe(img, name, &out, func(fsys fs.FS) error {
		for _, p := range pkgs {
			// A missing or unreadable file (a doc directory linked to
			// another package's) leaves the license unknown, as in the
			// SBOM of a package with a free-form copyright file.
			b, err := fs.ReadFile(fsys, "usr/share/doc/"+p.Name+"/copyright")
			if err != nil {
				continue
			}
			if l := attest.License(b); l != "" {
				out[p.Name] = l
			}
		}
		return nil
	}, oci.WithContentOnlyFor(isCopyright))
	return out, err
}

// wheelLicenseProbe names the probe of Python licenses; its version
// changes when PythonLicense reads the metadata differently, so that no
// result of an older reading is taken from the cache.
const wheelLicenseProbe = "wheel-licenses-v1"

// wheelLicenses reads the license fields of the installed distributions'
// metadata from img (each .dist-info in the site directories the wheels
// went into), as a probe, and returns their SPDX expressions by
// normalised name.
func (e *env) wheelLicenses(img v1.Image, ws []wheel.Resolved, sites []string) (map[string]string, error) {
	out := map[string]string{}
	ws = e.knownWheelLicenses(ws, out)
	if len(ws) == 0 {
		return out, nil
	}
	want := map[string]string{} // normalised name -> version
	h := sha256.New()
	for _, d := range sites {
		io.WriteString(h, "site "+d+"\n")
	}
	for _, w := range ws {
		want[wheel.NormalizeName(w.Name)] = w.Version
		io.WriteString(h, w.Name+" "+w.Version+"\n")
	}
	name := wheelLicenseProbe + "-" + hex.EncodeToString(h.Sum(nil))[:16]
	probed := map[string]string{}
	err := e.probe(img, name, &probed, func(fsys fs.FS) error {
		out := probed
		for _, site := range sites {
			ents, err := fs.ReadDir(fsys, strings.TrimPrefix(site, "/"))
			if err != nil {
				continue // a site directory nothing went into on this path
			}
			for _, ent := range ents {
				stem, ok := strings.CutSuffix(ent.Name(), ".dist-info")
				dist, _, _ := strings.Cut(stem, "-")
				if _, wanted := want[wheel.NormalizeName(dist)]; !ok || !wanted {
					continue
				}
				b, err := fs.ReadFile(fsys, path.Join(strings.TrimPrefix(site, "/"), ent.Name(), "METADATA"))
				if err != nil {
					continue
				}
				m, err := wheel.ParseMetadata(b)
				if err != nil || want[wheel.NormalizeName(m.Name)] != m.Version {
					continue
				}
				if l := attest.PythonLicense(m.LicenseExpression, m.License, m.LicenseClassifiers); l != "" {
					out[wheel.NormalizeName(m.Name)] = l
				}
			}
		}
		return nil
	})
	maps.Copy(out, probed)
	return out, err
}

// knownWheelLicenses puts in out the licenses of the wheels whose METADATA
// the cache read from the wheel itself (wheel.KnownMetadata: the file the
// install copies into the .dist-info), and returns the others, for the
// probe. The probe decompresses every layer of the image (a second or more
// for a Debian base with Python) to read those same files.
func (e *env) knownWheelLicenses(ws []wheel.Resolved, out map[string]string) []wheel.Resolved {
	if e.o.cache == nil {
		return ws
	}
	var rest []wheel.Resolved
	for _, w := range ws {
		b, ok := wheel.KnownMetadata(e.o.cache, w.SHA256, w.Filename)
		var m *wheel.Metadata
		if ok {
			m, _ = wheel.ParseMetadata(b)
		}
		// As the probe: metadata naming another version gives no license.
		if m == nil || wheel.NormalizeName(m.Name) != wheel.NormalizeName(w.Name) || m.Version != w.Version {
			rest = append(rest, w)
			continue
		}
		if l := attest.PythonLicense(m.LicenseExpression, m.License, m.LicenseClassifiers); l != "" {
			out[wheel.NormalizeName(w.Name)] = l
		}
	}
	return rest
}

// referrers are the referrers of b's images, for the sinks.
func (b Built) referrers() []v1.Image {
	var out []v1.Image
	for _, a := range b.Attestations {
		out = append(out, a.Referrer)
	}
	return out
}

// recordConda records, when SBOMs are on, the packages a conda layer
// installs (as its solution gives them, each checked against its sha256
// when the layer is made), the repodata they were resolved from and the
// lock file installed.
func (s *services) recordConda(l plan.Layer, rep *CondaReport) error {
	if s.installed == nil {
		return nil
	}
	inputs, err := s.env.condaInputs(rep)
	if err != nil {
		return err
	}
	pkgs := make([]attest.Conda, 0, len(rep.sol.Records))
	for _, r := range rep.sol.Records {
		pkgs = append(pkgs, condaPackage(r, l.Conda.Prefix, s.o.conda.ChannelAlias))
	}
	s.installed.addConda(pkgs, inputs)
	return nil
}

// condaPackage is one solution record as the SBOM lists it.
func condaPackage(r conda.Record, prefix, alias string) attest.Conda {
	p := attest.Conda{Name: r.Name, Version: r.Version, Build: r.Build, Subdir: r.Subdir, Channel: condaChannelName(r.Channel, alias),
		Filename: r.Filename, URL: conda.PublicURL(r.URL), SHA256: r.SHA256, Prefix: prefix, License: attest.CondaLicense(r.License)}
	for _, d := range r.Depends {
		// A depends the parser refuses cannot have been met by the
		// solver either: there is no package to relate it to.
		if ms, err := conda.ParseMatchSpec(d); err == nil && !slices.Contains(p.Depends, ms.Name) {
			p.Depends = append(p.Depends, ms.Name)
		}
	}
	return p
}

// condaChannelName is a channel as its packages' purls name it: by name
// when it is under the channel alias (a mirror's packages are the same
// packages) or conda's default alias, else by its URL.
func condaChannelName(u, alias string) string {
	for _, a := range []string{alias, conda.DefaultChannelAlias} {
		if a == "" {
			continue
		}
		if name, ok := strings.CutPrefix(u, strings.TrimRight(a, "/")+"/"); ok && name != "" {
			return name
		}
	}
	return conda.PublicURL(u)
}

// condaInputs are the materials of a conda layer: the repodata files of
// the channels it read (the platform's subdir and noarch), and the lock
// file it installed.
func (e *env) condaInputs(rep *CondaReport) ([]attest.Material, error) {
	var out []attest.Material
	if rep.LockFile != "" {
		b, err := os.ReadFile(filepath.Join(e.p.Root, filepath.FromSlash(rep.LockFile)))
		if err != nil {
			return nil, fmt.Errorf("reading the lock: %w", err)
		}
		sum := sha256.Sum256(b)
		out = append(out, attest.Material{Name: "conda lock", URI: rep.LockFile, SHA256: hex.EncodeToString(sum[:])})
	}
	for _, f := range rep.indexFiles {
		out = append(out, attest.Material{URI: conda.PublicURL(f.URL), SHA256: f.SHA256})
	}
	return out, nil
}

// sortedMaterials orders materials by URI, whatever order layers were made in.
func sortedMaterials(ms []attest.Material) []attest.Material {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b attest.Material) int { return strings.Compare(a.URI, b.URI) })
	return out
}
