package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/assemble-build/assemble/internal/atomicfile"
	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/internal/testhook"
	"github.com/assemble-build/assemble/oci"
)

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// layoutSink writes into an OCI layout directory holding many images, each
// named in index.json by org.opencontainers.image.ref.name.
type layoutSink struct {
	spec string
	dir  string
	ref  string
	cfg  *config
}

func (s *layoutSink) String() string { return s.spec }

func (s *layoutSink) Write(ctx context.Context, items []Item) ([]Result, error) {
	items = oneImage(s.ref, items)
	if err := checkItems(s.spec, s.ref, items); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	unlock, err := lockDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	defer unlock()

	old, oldJSON, err := readLayoutIndex(s.dir)
	if err != nil {
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
	if err := writeBlobs(ctx, s.dir, p, s.cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	wroteLayout, err := writeLayoutFile(filepath.Join(s.dir, "oci-layout"), []byte(ociLayoutFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	idx := mergeIndex(old, names, descs)
	idx.Manifests = addReferrers(idx.Manifests, refs)
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.spec, err)
	}
	// index.json last: until this rename the previous layout is intact.
	renameIndex := func(from, to string) error {
		testhook.Pause("layout-index") // written, not yet renamed: the kill test stops here
		return rename(from, to)
	}
	// A rebuild that changes nothing leaves index.json as it is.
	if !bytes.Equal(b, oldJSON) {
		if err := atomicfile.WriteFile(filepath.Join(s.dir, "index.json"), b, atomicfile.WithRename(renameIndex)); err != nil {
			return nil, fmt.Errorf("%s: %w", s.spec, err)
		}
	} else if wroteLayout {
		syncDir(s.dir) // index.json's write did not sync oci-layout's rename
	}
	return results(s.spec, "oci", s.dir, names, descs), nil
}

// syncDir is atomicfile.SyncDir; tests replace it to see when renames are
// made durable.
var syncDir = atomicfile.SyncDir

// writeLayoutFile writes a layout file atomically unless it already holds
// data: a rebuild into the same layout skips a temporary file, two fsyncs
// and a rename. A file that is there with these bytes was put in place by
// a rename after its own fsync (atomicfile), or by another tool. The rename
// is made durable with index.json's, in the same directory: wrote says the
// caller must sync it otherwise.
func writeLayoutFile(path string, data []byte) (wrote bool, err error) {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
		return false, nil
	}
	return true, atomicfile.WriteFile(path, data, atomicfile.WithRename(rename), atomicfile.WithoutDirSync())
}

// planItems plans the blobs of items, and gives each item's name and
// descriptor, for an OCI layout or archive.
func planItems(spec, fixedRef string, items []Item) (*plan, []string, []v1.Descriptor, error) {
	p := newPlan()
	names := make([]string, len(items))
	descs := make([]v1.Descriptor, len(items))
	for i, it := range items {
		names[i] = refFor(fixedRef, it)
		node, err := p.addItem(it)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %s: %w", spec, names[i], err)
		}
		descs[i] = node.desc
	}
	return p, names, descs, nil
}

// results says what a layout or archive (transport:path) now holds: each
// item under its name.
func results(spec, transport, path string, names []string, descs []v1.Descriptor) []Result {
	res := make([]Result, len(names))
	for i := range names {
		res[i] = Result{Sink: spec, Ref: names[i], Digest: descs[i].Digest, MediaType: descs[i].MediaType, Transport: transport + ":" + path + ":"}
	}
	return res
}

// readLayoutIndex reads DIR/index.json, parsed and as it is on disk; a
// missing file gives an empty index (and no bytes).
func readLayoutIndex(dir string) (*v1.IndexManifest, []byte, error) {
	p := filepath.Join(dir, "index.json")
	b, err := bounded.ReadFile(p, bounded.GeneratedMap)
	if errors.Is(err, fs.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var m v1.IndexManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("%s is not valid JSON (%v): fix or remove it, it will not be overwritten", p, err)
	}
	return &m, b, nil
}

// mergeIndex keeps every entry of old except those named like a new one,
// then appends the new entries in item order.
func mergeIndex(old *v1.IndexManifest, names []string, descs []v1.Descriptor) *v1.IndexManifest {
	replaced := map[string]bool{}
	for _, n := range names {
		replaced[n] = true
	}
	out := *old
	out.SchemaVersion = 2
	if out.MediaType == "" {
		out.MediaType = types.OCIImageIndex
	}
	out.Manifests = nil
	for _, d := range old.Manifests {
		if replaced[d.Annotations[oci.AnnotationRefName]] {
			continue
		}
		out.Manifests = append(out.Manifests, d)
	}
	for i, d := range descs {
		d.Annotations = map[string]string{oci.AnnotationRefName: names[i]}
		out.Manifests = append(out.Manifests, d)
	}
	if out.Manifests == nil {
		out.Manifests = []v1.Descriptor{}
	}
	return &out
}

// writeBlobs stores every blob of p under dir/blobs, jobs at a time. Each
// blob is synced before its rename; the renames are made durable together,
// before index.json can name them.
func writeBlobs(ctx context.Context, dir string, p *plan, cfg *config) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.remote.ConcurrentJobs())
	var renamed atomic.Bool
	for _, b := range p.blobs {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			put, err := writeBlob(dir, b, cfg)
			if put {
				renamed.Store(true)
			}
			return err
		})
	}
	err := g.Wait()
	if renamed.Load() {
		syncDir(filepath.Join(dir, "blobs", "sha256"))
	}
	return err
}

// writeBlob stores one blob with temp file + rename, verifying it while
// copying. A blob already present with the right size is kept. put says
// whether a rename put it in place: the caller makes that durable.
func writeBlob(dir string, b *blob, cfg *config) (put bool, rerr error) {
	if !validDigest(b.desc.Digest) {
		return false, fmt.Errorf("invalid blob digest %q", b.desc.Digest)
	}
	bdir := filepath.Join(dir, "blobs", b.desc.Digest.Algorithm)
	path := filepath.Join(bdir, b.desc.Digest.Hex)
	var pc *progressCounter
	if b.isLayer {
		pc = &progressCounter{tr: cfg.tracker(shortDigest(b.desc.Digest), b.desc.Size)}
		defer func() { pc.finish(b.desc.Size, rerr) }()
	}
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() && st.Size() == b.desc.Size {
		return false, nil
	}
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return false, err
	}
	if lb, ok := b.layer.(localBlob); ok && b.isLayer {
		if src, ok := lb.VerifiedPath(); ok && linkBlob(src, path) == nil {
			return true, nil
		}
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		return copyVerified(w, b, pc)
	}, atomicfile.WithRename(rename), atomicfile.WithoutDirSync())
	return err == nil, err
}

// localBlob is a layer already stored in a local file whose digest has been
// checked (a layer of the build cache).
type localBlob interface {
	VerifiedPath() (string, bool)
}

// linkBlob hard-links a verified local blob into the layout instead of
// copying it; it fails (and the caller copies) across file systems.
func linkBlob(src, path string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".link-"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		return err
	}
	if err := rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

var reSHA256 = lazyregexp.New(`^[0-9a-f]{64}$`)

// validDigest accepts sha256 digests only: a digest becomes a file name.
func validDigest(h v1.Hash) bool {
	return h.Algorithm == "sha256" && reSHA256.MatchString(h.Hex)
}
