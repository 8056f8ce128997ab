package sink

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/assemble-build/assemble/internal/verified"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blob is one thing to store: a layer streamed from its source, or a small
// JSON document (config, manifest, index) held in memory.
type blob struct {
	desc    v1.Descriptor
	layer   v1.Layer // layers and configs (as ggcr config layers); nil for manifests
	data    []byte   // configs and manifests
	isLayer bool
}

func (b *blob) open() (io.ReadCloser, error) {
	if b.data != nil {
		return io.NopCloser(bytes.NewReader(b.data)), nil
	}
	return b.layer.Compressed()
}

// manifestNode is a manifest of an item, children first, for registries
// that need every child manifest put before its index.
type manifestNode struct {
	desc     v1.Descriptor
	image    v1.Image
	index    v1.ImageIndex
	children []*manifestNode
}

// plan collects the blobs of items, each digest once, in first-seen order
// (children before the manifests that reference them).
type plan struct {
	blobs []*blob
	seen  map[v1.Hash]bool
}

func newPlan() *plan { return &plan{seen: map[v1.Hash]bool{}} }

func (p *plan) add(b *blob) {
	if p.seen[b.desc.Digest] {
		return
	}
	p.seen[b.desc.Digest] = true
	p.blobs = append(p.blobs, b)
}

func (p *plan) addItem(it Item) (*manifestNode, error) {
	if it.Image != nil {
		return p.addImage(it.Image)
	}
	return p.addIndex(it.Index, 0)
}

func digestOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func (p *plan) addImage(img v1.Image) (*manifestNode, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if got := digestOf(cfg); got != m.Config.Digest || int64(len(cfg)) != m.Config.Size {
		return nil, fmt.Errorf("config has digest %s (%d bytes) but the manifest says %s (%d bytes)", got, len(cfg), m.Config.Digest, m.Config.Size)
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(layers) != len(m.Layers) {
		return nil, fmt.Errorf("image has %d layers but its manifest lists %d", len(layers), len(m.Layers))
	}
	for i, l := range layers {
		p.add(&blob{desc: m.Layers[i], layer: l, isLayer: true})
	}
	p.add(&blob{desc: m.Config, layer: cl, data: cfg})
	d := v1.Descriptor{MediaType: mt, Digest: digestOf(raw), Size: int64(len(raw))}
	p.add(&blob{desc: d, data: raw})
	return &manifestNode{desc: d, image: img}, nil
}

func (p *plan) addIndex(idx v1.ImageIndex, depth int) (*manifestNode, error) {
	if depth > 8 {
		return nil, errors.New("indexes nested too deeply")
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading index media type: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	node := &manifestNode{index: idx}
	for _, c := range im.Manifests {
		var child *manifestNode
		switch {
		case c.MediaType.IsIndex():
			ci, err := idx.ImageIndex(c.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading child index %s: %w", c.Digest, err)
			}
			child, err = p.addIndex(ci, depth+1)
			if err != nil {
				return nil, err
			}
		case c.MediaType.IsImage():
			img, err := idx.Image(c.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading child image %s: %w", c.Digest, err)
			}
			child, err = p.addImage(img)
			if err != nil {
				return nil, fmt.Errorf("child image %s: %w", c.Digest, err)
			}
		default:
			return nil, fmt.Errorf("index entry %s has media type %q, which is neither an image nor an index", c.Digest, c.MediaType)
		}
		if child.desc.Digest != c.Digest {
			return nil, fmt.Errorf("index entry %s resolves to a manifest with digest %s", c.Digest, child.desc.Digest)
		}
		node.children = append(node.children, child)
	}
	node.desc = v1.Descriptor{MediaType: mt, Digest: digestOf(raw), Size: int64(len(raw))}
	p.add(&blob{desc: node.desc, data: raw})
	return node, nil
}

// itemDescriptor returns the digest, size and media type of an item without
// reading any blob.
func itemDescriptor(it Item) (v1.Descriptor, error) {
	var raw []byte
	var mt types.MediaType
	var err error
	if it.Image != nil {
		if raw, err = it.Image.RawManifest(); err == nil {
			mt, err = it.Image.MediaType()
		}
	} else {
		if raw, err = it.Index.RawManifest(); err == nil {
			mt, err = it.Index.MediaType()
		}
	}
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: reading manifest: %w", it.Name, err)
	}
	return v1.Descriptor{MediaType: mt, Digest: digestOf(raw), Size: int64(len(raw))}, nil
}

// progressCounter reports bytes to a Tracker, counting each byte position
// once even when a transfer restarts from the beginning.
type progressCounter struct {
	mu   sync.Mutex
	high int64
	tr   Tracker
}

func (p *progressCounter) reached(pos int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos > p.high {
		p.tr.Add(pos - p.high)
		p.high = pos
	}
}

// finish completes the tracker: a blob that was never transferred (present
// already, or mounted) counts as done in one step.
func (p *progressCounter) finish(total int64, err error) {
	if err == nil {
		p.reached(total)
	}
	p.tr.Done(err)
}

type countingReader struct {
	rc  io.ReadCloser
	pos int64
	pc  *progressCounter
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.rc.Read(b)
	c.pos += int64(n)
	c.pc.reached(c.pos)
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }

// copyVerified copies a blob to w, checking size and digest as it goes.
func copyVerified(w io.Writer, b *blob, pc *progressCounter) error {
	rc, err := openVerified(b, pc)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return blobError(b.desc.Digest, err)
	}
	return nil
}

// openVerified opens a blob for a read that fails when its size or digest
// is not the descriptor's, counting progress in pc (nil: none).
func openVerified(b *blob, pc *progressCounter) (io.ReadCloser, error) {
	rc, err := b.open()
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", b.desc.Digest, err)
	}
	if b.desc.Digest.Algorithm != "sha256" {
		rc.Close()
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm", b.desc.Digest)
	}
	if pc != nil {
		rc = &countingReader{rc: rc, pc: pc}
	}
	return verified.NewReader(rc, b.desc.Digest, b.desc.Size), nil
}

// blobError says what went wrong in a copy of blob d.
func blobError(d v1.Hash, err error) error {
	var m verified.Mismatch
	switch {
	case !errors.As(err, &m):
		return fmt.Errorf("copying blob %s: %w", d, err)
	case m.TooLong || m.Read != m.Size:
		return fmt.Errorf("blob %s has %d bytes, its descriptor says %d", d, m.Read, m.Size)
	default:
		return fmt.Errorf("blob %s has digest sha256:%s: the source is corrupt or changed while being read", d, m.Got)
	}
}

// rename is os.Rename; tests replace it to simulate a crash at that point.
var rename = os.Rename
