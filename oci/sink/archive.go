package sink

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assemble-build/assemble/internal/atomicfile"
)

var epoch = time.Unix(0, 0).UTC()

// tarFile writes one regular file entry with fixed metadata.
func tarFile(tw *tar.Writer, name string, size int64, write func(io.Writer) error) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  epoch,
		Format:   tar.FormatPAX,
	}
	if size < 1<<33 && len(name) < 100 {
		hdr.Format = tar.FormatUSTAR
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return write(tw)
}

func tarDir(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir,
		Name:     name,
		Mode:     0o755,
		ModTime:  epoch,
		Format:   tar.FormatUSTAR,
	})
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
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
	p := newPlan()
	names := make([]string, len(items))
	descs := make([]v1.Descriptor, len(items))
	for i, it := range items {
		names[i] = refFor(s.ref, it)
		node, err := p.addItem(it)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.spec, names[i], err)
		}
		descs[i] = node.desc
	}
	empty := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	index, err := json.Marshal(mergeIndex(empty, names, descs))
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
	err = atomicfile.Write(s.file, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tarDir(tw, "blobs/"); err != nil {
			return err
		}
		if err := tarDir(tw, "blobs/sha256/"); err != nil {
			return err
		}
		for _, b := range blobs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.writeBlob(tw, b); err != nil {
				return err
			}
		}
		if err := tarFile(tw, "index.json", int64(len(index)), writeBytes(index)); err != nil {
			return err
		}
		if err := tarFile(tw, "oci-layout", int64(len(ociLayoutFile)), writeBytes([]byte(ociLayoutFile))); err != nil {
			return err
		}
		return tw.Close()
	}, atomicfile.WithRename(rename))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	res := make([]Result, len(items))
	for i := range items {
		res[i] = Result{Sink: s.spec, Ref: names[i], Digest: descs[i].Digest, MediaType: descs[i].MediaType}
	}
	return res, nil
}

func (s *ociArchiveSink) writeBlob(tw *tar.Writer, b *blob) (rerr error) {
	var pc *progressCounter
	if b.isLayer {
		pc = &progressCounter{tr: s.cfg.tracker(shortDigest(b.desc.Digest), b.desc.Size)}
		defer func() { pc.finish(b.desc.Size, rerr) }()
	}
	return tarFile(tw, "blobs/sha256/"+b.desc.Digest.Hex, b.desc.Size, func(w io.Writer) error {
		return copyVerified(w, b, pc)
	})
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
		res[i] = Result{Sink: s.spec, Ref: tagString(tag), Digest: node.desc.Digest, MediaType: node.desc.MediaType}
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	err = atomicfile.Write(s.file, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.writeBlob(tw, f.name, f.b); err != nil {
				return err
			}
		}
		if err := tarFile(tw, "manifest.json", int64(len(mb)), writeBytes(mb)); err != nil {
			return err
		}
		return tw.Close()
	}, atomicfile.WithRename(rename))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	return res, nil
}

func (s *dockerArchiveSink) writeBlob(tw *tar.Writer, fname string, b *blob) (rerr error) {
	var pc *progressCounter
	if b.isLayer {
		pc = &progressCounter{tr: s.cfg.tracker(shortDigest(b.desc.Digest), b.desc.Size)}
		defer func() { pc.finish(b.desc.Size, rerr) }()
	}
	return tarFile(tw, fname, b.desc.Size, func(w io.Writer) error {
		return copyVerified(w, b, pc)
	})
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
