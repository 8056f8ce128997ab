// Package bundle carries a build's inputs across an air gap: the downloads
// a build took from the cache's download store (Debian InRelease files,
// Packages indexes, .deb files, wheels, index pages, ADD URLs) and the names
// (URLs) it found them under, as one OCI layout in a tar.
//
// The layout's index.json lists one artifact manifest (artifactType
// ArtifactType, the empty config) whose layers are the inputs, each
// annotated with the names it was recorded under. Write lays the tar out
// in order (oci-layout, index.json, the manifest, the blobs) so that Import
// reads it in one pass: it checks the manifest against the index, every
// blob against its digest (a changed byte is refused, naming the entry)
// and puts each into the download store, then records the names. An
// offline build then finds every input where an online build left it, and
// verifies signatures and hashes as it always does.
package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/layers"
)

const (
	// ArtifactType is the bundle manifest's artifactType.
	ArtifactType = "application/vnd.assemble.bundle.v1"
	// NamesAnnotation lists, one a line, the names (URLs) a blob was recorded under.
	NamesAnnotation = "dev.assemble.bundle.names"
	blobType        = "application/octet-stream"
	emptyConfig     = "{}"
	emptyConfigType = "application/vnd.oci.empty.v1+json"
	manifestType    = "application/vnd.oci.image.manifest.v1+json"
	indexType       = "application/vnd.oci.image.index.v1+json"
)

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	ArtifactType  string       `json:"artifactType,omitempty"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests,omitempty"` // index.json
}

// Stats says what a bundle holds.
type Stats struct {
	Blobs int   // inputs
	Names int   // names (URLs) recorded for them
	Bytes int64 // the inputs' total size
}

// Write writes the inputs log recorded in cache to file (atomically).
func Write(cache *layers.Cache, log *layers.InputLog, file string) (Stats, error) {
	m, st, err := buildManifest(cache, log)
	if err != nil {
		return Stats{}, err
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return Stats{}, err
	}
	msum := sha256.Sum256(mb)
	index := manifest{SchemaVersion: 2, MediaType: indexType, Manifests: []descriptor{{
		MediaType: manifestType, ArtifactType: ArtifactType,
		Digest: "sha256:" + hex.EncodeToString(msum[:]), Size: int64(len(mb)),
	}}}
	ib, err := json.Marshal(index)
	if err != nil {
		return Stats{}, err
	}
	err = atomicfile.Write(file, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, f := range []struct {
			name string
			data []byte
		}{
			{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
			{"index.json", ib},
			{blobName(index.Manifests[0].Digest), mb},
			{blobName(m.Config.Digest), []byte(emptyConfig)},
		} {
			if err := writeEntry(tw, f.name, int64(len(f.data)), strings.NewReader(string(f.data))); err != nil {
				return err
			}
		}
		for _, l := range m.Layers {
			if err := writeBlob(tw, cache, l); err != nil {
				return err
			}
		}
		return tw.Close()
	})
	if err != nil {
		return Stats{}, fmt.Errorf("writing bundle %s: %w", file, err)
	}
	return st, nil
}

// buildManifest lists every recorded download, with the names it was
// recorded under, in digest order (the same inputs give the same bytes).
func buildManifest(cache *layers.Cache, log *layers.InputLog) (manifest, Stats, error) {
	names := map[string][]string{}
	var st Stats
	for n, d := range log.Refs() {
		names[d] = append(names[d], n)
		st.Names++
	}
	csum := sha256.Sum256([]byte(emptyConfig))
	m := manifest{SchemaVersion: 2, MediaType: manifestType, ArtifactType: ArtifactType,
		Config: descriptor{MediaType: emptyConfigType, Digest: "sha256:" + hex.EncodeToString(csum[:]), Size: int64(len(emptyConfig))},
		Layers: []descriptor{}}
	for _, d := range log.Downloads() {
		if derivable(cache, log, d, names) {
			continue
		}
		fi, err := os.Stat(cache.DownloadPath(d))
		if errors.Is(err, fs.ErrNotExist) && len(names[d]) == 0 {
			continue // looked for (DownloadPath) but never there: not an input
		}
		if err != nil {
			return manifest{}, Stats{}, fmt.Errorf("bundle input %s: %w", d, err)
		}
		l := descriptor{MediaType: blobType, Digest: d, Size: fi.Size()}
		if ns := names[d]; len(ns) > 0 {
			sort.Strings(ns)
			l.Annotations = map[string]string{NamesAnnotation: strings.Join(ns, "\n")}
		}
		m.Layers = append(m.Layers, l)
		st.Blobs++
		st.Bytes += fi.Size()
	}
	return m, st, nil
}

// derivable reports whether the download d can be left out: it has no
// name of its own and the offline build makes it again from another
// download the bundle carries (an uncompressed Packages index from its
// compressed one, both listed in the signed Release).
func derivable(cache *layers.Cache, log *layers.InputLog, d string, names map[string][]string) bool {
	src, ok := log.DerivedFrom(d)
	if !ok || len(names[d]) > 0 {
		return false
	}
	fi, err := os.Stat(cache.DownloadPath(src))
	return err == nil && fi.Mode().IsRegular()
}

func blobName(digest string) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

func writeBlob(tw *tar.Writer, cache *layers.Cache, l descriptor) error {
	f, err := os.Open(cache.DownloadPath(l.Digest))
	if err != nil {
		return fmt.Errorf("bundle input %s: %w", l.Digest, err)
	}
	defer f.Close()
	return writeEntry(tw, blobName(l.Digest), l.Size, f)
}

func writeEntry(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, r, size); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Import reads the bundle file, verifying every entry, into cache's
// download store and records the names of its inputs.
func Import(ctx context.Context, file string, cache *layers.Cache) (Stats, error) {
	f, err := os.Open(file)
	if err != nil {
		return Stats{}, fmt.Errorf("--bundle: %w", err)
	}
	defer f.Close()
	st, err := importFrom(ctx, tar.NewReader(f), cache)
	if err != nil {
		return Stats{}, fmt.Errorf("bundle %s: %w", file, err)
	}
	return st, nil
}

// reader holds what Import learned so far.
type reader struct {
	index    *descriptor // the manifest's descriptor, from index.json
	manifest *manifest
	want     map[string]descriptor // blobs still to come
}

func importFrom(ctx context.Context, tr *tar.Reader, cache *layers.Cache) (Stats, error) {
	r := &reader{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Stats{}, fmt.Errorf("reading the tar: %w", err)
		}
		if err := checkEntry(h); err != nil {
			return Stats{}, err
		}
		if err := r.entry(ctx, h.Name, tr, cache); err != nil {
			return Stats{}, fmt.Errorf("entry %s: %w", h.Name, err)
		}
	}
	return r.finish(cache)
}

// checkEntry refuses what an OCI layout never holds: links, devices,
// absolute names and names climbing out of the layout.
func checkEntry(h *tar.Header) error {
	if h.Typeflag == tar.TypeDir {
		return nil
	}
	if h.Typeflag != tar.TypeReg {
		return fmt.Errorf("entry %s: type %q is not a regular file; a bundle holds only files", h.Name, h.Typeflag)
	}
	if path.IsAbs(h.Name) || path.Clean(h.Name) != h.Name || h.Name == ".." || strings.HasPrefix(h.Name, "../") {
		return fmt.Errorf("entry %s: not a clean relative path", h.Name)
	}
	return nil
}

func (r *reader) entry(ctx context.Context, name string, tr io.Reader, cache *layers.Cache) error {
	switch {
	case name == "oci-layout" || name == "blobs" || name == "blobs/sha256":
		return nil
	case name == "index.json":
		return r.readIndex(tr)
	case strings.HasPrefix(name, "blobs/sha256/"):
		return r.readBlob(ctx, "sha256:"+strings.TrimPrefix(name, "blobs/sha256/"), tr, cache)
	}
	return errors.New("unexpected entry in an assemble bundle")
}

func (r *reader) readIndex(tr io.Reader) error {
	var idx manifest
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&idx); err != nil {
		return fmt.Errorf("parsing: %w", err)
	}
	for i, d := range idx.Manifests {
		if d.ArtifactType == ArtifactType {
			r.index = &idx.Manifests[i]
			return nil
		}
	}
	return fmt.Errorf("no manifest of artifactType %s: not a bundle written by assemble bundle", ArtifactType)
}

func (r *reader) readBlob(ctx context.Context, digest string, tr io.Reader, cache *layers.Cache) error {
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("bad blob name: %w", err)
	}
	if r.index == nil {
		return errors.New("a blob before index.json: not a bundle written by assemble bundle")
	}
	if r.manifest == nil {
		if digest != r.index.Digest {
			return errors.New("a blob before the bundle's manifest: not a bundle written by assemble bundle")
		}
		return r.readManifest(tr)
	}
	d, ok := r.want[digest]
	if !ok {
		if digest == r.manifest.Config.Digest {
			return nil
		}
		return errors.New("a blob the bundle's manifest does not list")
	}
	delete(r.want, digest)
	copied := false
	copyTo := func(_ context.Context, w io.Writer) error {
		copied = true
		n, err := io.Copy(w, tr)
		if err == nil && n != d.Size {
			err = fmt.Errorf("%d bytes, the manifest says %d", n, d.Size)
		}
		return err
	}
	_, _, err := cache.Download(ctx, digest, copyTo)
	if err == nil && !copied {
		// The cache had it already: the bundle's copy is checked all the
		// same, so a damaged bundle is refused wherever it is read.
		err = checkDigest(tr, digest)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", names(d), err)
	}
	return nil
}

func checkDigest(r io.Reader, digest string) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("content has digest %s, expected %s: %w", got, digest, layers.ErrDigestMismatch)
	}
	return nil
}

func (r *reader) readManifest(tr io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
	if err != nil {
		return err
	}
	if err := checkDigest(strings.NewReader(string(b)), r.index.Digest); err != nil {
		return fmt.Errorf("the bundle's manifest (listed in index.json): %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parsing the bundle's manifest: %w", err)
	}
	r.manifest = &m
	r.want = map[string]descriptor{}
	for _, l := range m.Layers {
		r.want[l.Digest] = l
	}
	return nil
}

func names(d descriptor) string {
	if n := d.Annotations[NamesAnnotation]; n != "" {
		return strings.ReplaceAll(n, "\n", ", ")
	}
	return "input " + d.Digest
}

// finish checks that every listed blob came and records the names.
func (r *reader) finish(cache *layers.Cache) (Stats, error) {
	if r.manifest == nil {
		return Stats{}, errors.New("no bundle manifest: not a bundle written by assemble bundle")
	}
	if len(r.want) > 0 {
		var missing []string
		for d := range r.want {
			missing = append(missing, blobName(d))
		}
		sort.Strings(missing)
		return Stats{}, fmt.Errorf("truncated: %d listed blob(s) missing: %s", len(missing), strings.Join(missing, ", "))
	}
	var st Stats
	for _, l := range r.manifest.Layers {
		st.Blobs++
		st.Bytes += l.Size
		for _, n := range strings.Split(l.Annotations[NamesAnnotation], "\n") {
			if n == "" {
				continue
			}
			if err := cache.SetRef(n, l.Digest); err != nil {
				return Stats{}, err
			}
			st.Names++
		}
	}
	return st, nil
}
