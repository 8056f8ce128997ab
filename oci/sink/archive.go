package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/layers"
)

// The archives are written by layers' deterministic tar writer: entries
// sorted by path unless said otherwise, every time the epoch, owner 0:0
// without names, files 0644 and directories 0755.
var epoch = time.Unix(0, 0).UTC()

// writeArchive writes entries to file, replacing it as a whole only once
// the tar is complete. A blob that cannot be read fails it with the blob's
// own error, which says all there is to say.
func writeArchive(file string, entries []layers.Entry, out *archiveOut, opts ...layers.TarOption) error {
	// A missing folder is made, as the oci: sink makes its layout's.
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(file, func(w io.Writer) error {
		out.w = w
		err := layers.WriteTar(out, entries, epoch, append([]layers.TarOption{layers.AsArchive()}, opts...)...)
		if out.readErr != nil && errors.Is(err, out.readErr) {
			return out.readErr
		}
		return err
	}, atomicfile.WithRename(rename))
}

// bytesEntry is an archive file holding b.
func bytesEntry(name string, b []byte) layers.Entry {
	return layers.Entry{Path: name, Type: layers.TypeFile, Mode: 0o644, Size: int64(len(b)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// blobEntry is an archive file holding blob b, read when it is written
// (unless ctx is done by then), checked against its size and digest, with
// progress for a layer; out is the archive's writer, whose failure the
// progress reports too.
func (c *config) blobEntry(ctx context.Context, name string, b *blob, out *archiveOut) layers.Entry {
	open := func() (io.ReadCloser, error) {
		if err := ctx.Err(); err != nil {
			return nil, out.failed(err)
		}
		r := &blobReader{b: b, out: out, left: b.desc.Size}
		if b.isLayer {
			r.pc = &progressCounter{tr: c.tracker(shortDigest(b.desc.Digest), b.desc.Size)}
		}
		rc, err := openVerified(b, r.pc)
		if err != nil {
			r.finish(err)
			return nil, out.failed(err)
		}
		r.rc = rc
		return r, nil
	}
	return layers.Entry{Path: name, Type: layers.TypeFile, Mode: 0o644, Size: b.desc.Size, Open: open}
}

// blobReader reads a verified blob. The tar writer reads no further than
// the blob's size, where the verified reader has not yet seen the end it
// checks the digest at: the last byte reads on to that end. Closing it
// completes the blob's progress.
type blobReader struct {
	b    *blob
	rc   io.ReadCloser
	left int64
	pc   *progressCounter
	out  *archiveOut
	err  error // the first read error
}

func (r *blobReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	if err == nil && r.left <= 0 {
		err = toEOF(r.rc)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = blobError(r.b.desc.Digest, err)
		if r.err == nil {
			r.err = r.out.failed(err)
		}
	}
	return n, err
}

func (r *blobReader) Close() error {
	err := r.rc.Close()
	if r.err != nil {
		r.finish(r.err)
	} else {
		r.finish(r.out.writeErr)
	}
	return err
}

func (r *blobReader) finish(err error) {
	if r.pc != nil {
		r.pc.finish(r.b.desc.Size, err)
	}
}

// toEOF reads r until it ends: io.EOF, or the error r ends with.
func toEOF(r io.Reader) error {
	var one [1]byte
	for {
		if _, err := r.Read(one[:]); err != nil {
			return err
		}
	}
}

// archiveOut is where an archive goes: it keeps the first error of the
// writer and the first blob that could not be read.
type archiveOut struct {
	w                 io.Writer
	writeErr, readErr error
}

func (o *archiveOut) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil && o.writeErr == nil {
		o.writeErr = err
	}
	return n, err
}

// failed records err as the archive's read error and returns it.
func (o *archiveOut) failed(err error) error {
	if o.readErr == nil {
		o.readErr = err
	}
	return err
}

// ociArchiveSink writes an oci-archive: a tar of an OCI layout holding the
// items, with sorted entries and zero times. The file is replaced as a whole.
type ociArchiveSink struct {
	spec, file, ref string
	cfg             *config
}

func (s *ociArchiveSink) String() string { return s.spec }

func (s *ociArchiveSink) Write(ctx context.Context, items []Item) ([]Result, error) {
	items = oneImage(s.ref, items)
	if err := checkItems(s.spec, s.ref, items); err != nil {
		return nil, err
	}
	p, names, descs, err := planItems(s.spec, s.ref, items)
	if err != nil {
		return nil, err
	}
	refs, err := planReferrers(p, items)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	empty := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	idx := mergeIndex(empty, names, descs)
	idx.Manifests = addReferrers(idx.Manifests, refs)
	index, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	blobs := append([]*blob(nil), p.blobs...)
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].desc.Digest.String() < blobs[j].desc.Digest.String() })
	for _, b := range blobs {
		if !validDigest(b.desc.Digest) {
			return nil, fmt.Errorf("%s: invalid blob digest %q", s.spec, b.desc.Digest)
		}
	}
	out := &archiveOut{}
	entries := []layers.Entry{{Path: "blobs", Type: layers.TypeDir, Mode: 0o755}, {Path: "blobs/sha256", Type: layers.TypeDir, Mode: 0o755}}
	for _, b := range blobs {
		entries = append(entries, s.cfg.blobEntry(ctx, "blobs/sha256/"+b.desc.Digest.Hex, b, out))
	}
	entries = append(entries, bytesEntry("index.json", index), bytesEntry("oci-layout", []byte(ociLayoutFile)))
	if err := writeArchive(s.file, entries, out); err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	return results(s.spec, "oci-archive", s.file, names, descs), nil
}

// dockerArchiveSink writes a docker-archive (the `docker save` format that
// `podman load` and `docker load` read), in the layout ggcr's tarball
// package writes, but in item order so that the bytes are deterministic.
type dockerArchiveSink struct {
	spec, file, ref string
	cfg             *config
}

func (s *dockerArchiveSink) String() string { return s.spec }

// dockerTag parses a docker-archive tag; a bare name gets ":latest".
func dockerTag(ref string) (name.Tag, error) {
	t, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("%q is not a valid image tag for a docker archive: %w", ref, err)
	}
	return t, nil
}

// layerExtension matches ggcr's tarball naming, which gunzip and friends like.
func layerExtension(mt types.MediaType) string {
	switch {
	case strings.Contains(string(mt), "zstd"):
		return ".tar.zst"
	case strings.Contains(string(mt), "gzip"):
		return ".tar.gz"
	}
	return ".tar"
}

func (s *dockerArchiveSink) Write(ctx context.Context, items []Item) ([]Result, error) {
	items = oneImage(s.ref, items)
	if err := checkItems(s.spec, s.ref, items); err != nil {
		return nil, err
	}
	type entry struct {
		name string
		b    *blob
	}
	var files []entry
	seen := map[v1.Hash]bool{}
	var manifest tarball.Manifest
	res := make([]Result, len(items))
	for i, it := range items {
		ref := refFor(s.ref, it)
		if it.Index != nil {
			return nil, fmt.Errorf("%s: %s is a multi-platform index, but docker-archive holds single-platform images: pick one with --platform", s.spec, ref)
		}
		tag, err := dockerTag(ref)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.spec, err)
		}
		p := newPlan()
		node, err := p.addImage(it.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.spec, ref, err)
		}
		m, err := it.Image.Manifest()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.spec, ref, err)
		}
		d := tarball.Descriptor{Config: m.Config.Digest.Hex + ".json", RepoTags: []string{tagString(tag)}}
		for _, b := range p.blobs {
			if !validDigest(b.desc.Digest) {
				return nil, fmt.Errorf("%s: invalid blob digest %q", s.spec, b.desc.Digest)
			}
			var fname string
			switch {
			case b.isLayer:
				fname = b.desc.Digest.Hex + layerExtension(b.desc.MediaType)
				d.Layers = append(d.Layers, fname)
			case b.desc.Digest == m.Config.Digest:
				fname = d.Config
			default:
				continue // the manifest: docker archives carry none
			}
			if !seen[b.desc.Digest] {
				seen[b.desc.Digest] = true
				files = append(files, entry{fname, b})
			}
		}
		manifest = append(manifest, d)
		res[i] = Result{Sink: s.spec, Ref: tagString(tag), Digest: node.desc.Digest, MediaType: node.desc.MediaType, Transport: "docker-archive:" + s.file + ":"}
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	out := &archiveOut{}
	entries := make([]layers.Entry, 0, len(files)+1)
	for _, f := range files {
		entries = append(entries, s.cfg.blobEntry(ctx, f.name, f.b, out))
	}
	entries = append(entries, bytesEntry("manifest.json", mb))
	if err := writeArchive(s.file, entries, out, layers.WithGivenOrder()); err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	return res, nil
}

// tagString renders a tag as the user wrote it, with ":latest" made
// explicit (docker load needs a tag; ggcr does the same).
func tagString(t name.Tag) string {
	s := t.String()
	if t.Identifier() == name.DefaultTag && !strings.HasSuffix(s, ":"+name.DefaultTag) {
		s += ":" + name.DefaultTag
	}
	return s
}
