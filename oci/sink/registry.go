package sink

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/oci"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"golang.org/x/sync/errgroup"
)

// registrySink pushes to registries with ggcr's Pusher, in three steps:
//
//  1. HEAD each target manifest; an item whose tag already has its digest
//     is done (no blob request at all, no manifest PUT).
//  2. Upload the blobs, jobs at a time. Within one registry each digest is
//     uploaded once: the first repository gets it (HEAD, then a mount when
//     the layer came from a base in that registry, else an upload); the
//     others mount it from there.
//  3. Put the manifests, children before their index.
//
// Doing the blobs ourselves (Pusher.Upload) rather than through one
// remote.Write lets us report per-blob progress and share blobs between
// repositories; Pusher remembers finished digests, so step 3 sends nothing
// but manifests.
type registrySink struct {
	spec  string
	fixed name.Reference // docker://REF; nil: each item to its Name
	cfg   *config
	// chunks says which layers go in chunks, and remembers the registries
	// that refused chunks in this push.
	chunks *remote.Chunking
}

func newRegistrySink(spec string, fixed name.Reference, c *config) *registrySink {
	return &registrySink{spec: spec, fixed: fixed, cfg: c, chunks: &remote.Chunking{Threshold: c.chunkThreshold, Size: c.chunkSize}}
}

func (s *registrySink) String() string { return s.spec }

type pushTarget struct {
	item Item
	ref  name.Reference
	desc v1.Descriptor
	node *manifestNode
	plan *plan
	done bool
}

func (s *registrySink) Write(ctx context.Context, items []Item) ([]Result, error) {
	fixed := ""
	if s.fixed != nil {
		fixed = s.fixed.String()
	}
	items = oneImage(fixed, items)
	if err := checkItems(s.spec, fixed, items); err != nil {
		return nil, err
	}
	targets, err := s.targets(items)
	if err != nil {
		return nil, err
	}
	opts := s.cfg.remote.Options(ctx)
	puller, err := ggcr.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	pusher, err := ggcr.NewPusher(opts...)
	if err != nil {
		return nil, err
	}
	s.skipUnchanged(ctx, puller, targets)
	first, mounts, err := planUploads(targets)
	if err != nil {
		return nil, err
	}
	if err := s.uploadAll(ctx, pusher, first); err != nil {
		return nil, err
	}
	if err := s.uploadAll(ctx, pusher, mounts); err != nil {
		return nil, err
	}
	if err := s.putAll(ctx, pusher, targets); err != nil {
		return nil, err
	}
	if err := s.pushReferrers(ctx, puller, pusher, targets); err != nil {
		return nil, err
	}
	res := make([]Result, len(targets))
	for i, t := range targets {
		res[i] = Result{Sink: s.spec, Ref: t.ref.String(), Digest: t.desc.Digest, MediaType: t.desc.MediaType}
	}
	return res, nil
}

// CheckPushName refuses to push an image to the registry in its name when
// that name says no registry: "app:1.0" would go to Docker Hub, which is
// never what a build that forgot its registry meant. "docker.io/ns/app"
// names Docker Hub on purpose.
func CheckPushName(ref string) error {
	if oci.HasRegistry(ref) {
		return nil
	}
	return fmt.Errorf("image %q names no registry, and would go to Docker Hub: name its registry (registry.example/ns/%s), or docker.io/%s to mean Docker Hub", ref, ref, ref)
}

// targets resolves where each item goes and its manifest descriptor.
func (s *registrySink) targets(items []Item) ([]*pushTarget, error) {
	targets := make([]*pushTarget, len(items))
	for i, it := range items {
		t := &pushTarget{item: it, ref: s.fixed}
		if t.ref == nil {
			if err := CheckPushName(it.Name); err != nil {
				return nil, fmt.Errorf("%s: %w", s.spec, err)
			}
			ref, err := s.cfg.remote.Reference(it.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.spec, err)
			}
			t.ref = ref
		}
		d, err := itemDescriptor(it)
		if err != nil {
			return nil, err
		}
		t.desc = d
		targets[i] = t
	}
	return targets, nil
}

// skipUnchanged is step 1: an item whose tag already has its digest needs
// nothing more.
func (s *registrySink) skipUnchanged(ctx context.Context, puller *ggcr.Puller, targets []*pushTarget) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.remote.ConcurrentJobs())
	for _, t := range targets {
		g.Go(func() error {
			d, err := puller.Head(gctx, t.ref)
			// Any error (404, or 401 for a pull-only token) just means "push".
			t.done = err == nil && d.Digest == t.desc.Digest
			return nil
		})
	}
	_ = g.Wait()
}

// upload is one blob for one repository of step 2.
type upload struct {
	t    *pushTarget
	b    *blob
	from *name.Repository // set: mount from this repository
}

// planUploads collects the blobs of step 2: within one registry the first
// repository needing a digest uploads it (first), the others mount it from
// there (mounts). Manifests are left to step 3.
func planUploads(targets []*pushTarget) (first, mounts []upload, err error) {
	owner := map[string]name.Repository{} // registry + digest -> first repository
	for _, t := range targets {
		if t.done {
			continue
		}
		t.plan = newPlan()
		node, err := t.plan.addItem(t.item)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", t.ref, err)
		}
		t.node = node
		repo := t.ref.Context()
		for _, b := range t.plan.blobs {
			if b.layer == nil {
				continue // manifests go in step 3
			}
			key := repo.RegistryStr() + "@" + b.desc.Digest.String()
			o, ok := owner[key]
			switch {
			case !ok:
				owner[key] = repo
				first = append(first, upload{t: t, b: b})
			case o.String() != repo.String():
				mounts = append(mounts, upload{t: t, b: b, from: &o})
			}
		}
	}
	return first, mounts, nil
}

// uploadAll runs uploads and mounts of step 2, jobs at a time.
func (s *registrySink) uploadAll(ctx context.Context, pusher *ggcr.Pusher, list []upload) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.remote.ConcurrentJobs())
	for _, u := range list {
		g.Go(func() error {
			var err error
			if u.from != nil {
				err = s.mount(gctx, pusher, u.t.ref.Context(), *u.from, u.b)
			} else {
				err = s.upload(gctx, pusher, u.t.ref.Context(), u.b)
			}
			if err != nil {
				return fmt.Errorf("%s: blob %s: %w", u.t.ref, u.b.desc.Digest, remote.AuthError(u.t.ref, err))
			}
			return nil
		})
	}
	return g.Wait()
}

// putAll is step 3: the manifests of every changed item, children first.
func (s *registrySink) putAll(ctx context.Context, pusher *ggcr.Pusher, targets []*pushTarget) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.remote.ConcurrentJobs())
	for _, t := range targets {
		if t.done {
			continue
		}
		g.Go(func() error {
			if err := putManifests(gctx, pusher, t.ref, t.node); err != nil {
				return fmt.Errorf("%s: %w", t.ref, remote.AuthError(t.ref, err))
			}
			return nil
		})
	}
	return g.Wait()
}

// upload sends one blob (HEAD first; mounted when it is a layer of a base
// image in the same registry). Large layers go in chunks (chunked.go).
// Otherwise ggcr uploads it; layers are wrapped only to count bytes; a
// ggcr.MountableLayer is rebuilt around the wrapper, since ggcr recognises
// mountable layers by that exact type.
func (s *registrySink) upload(ctx context.Context, p *ggcr.Pusher, repo name.Repository, b *blob) (rerr error) {
	l := b.layer
	if b.isLayer {
		pc := &progressCounter{tr: s.cfg.tracker(shortDigest(b.desc.Digest), b.desc.Size)}
		defer func() { pc.finish(b.desc.Size, rerr) }()
		if done, err := s.uploadChunked(ctx, repo, mountSource(l, repo), b, pc); done || err != nil {
			return err
		}
		if ml, ok := l.(*ggcr.MountableLayer); ok {
			l = &ggcr.MountableLayer{Layer: &countingLayer{Layer: ml.Layer, pc: pc}, Reference: ml.Reference}
		} else if _, ok := l.(*stream.Layer); !ok {
			l = &countingLayer{Layer: l, pc: pc}
		}
	}
	return p.Upload(ctx, repo, l)
}

// mount makes a blob uploaded to one repository available in another of
// the same registry (ggcr HEADs it first and falls back to an upload if the
// registry refuses the mount; a large layer's fallback goes in chunks).
func (s *registrySink) mount(ctx context.Context, p *ggcr.Pusher, repo, from name.Repository, b *blob) error {
	if b.isLayer {
		pc := &progressCounter{tr: nopTracker{}}
		if done, err := s.uploadChunked(ctx, repo, &from, b, pc); done || err != nil {
			return err
		}
	}
	return p.Upload(ctx, repo, &ggcr.MountableLayer{Layer: unmount(b.layer), Reference: from.Digest(b.desc.Digest.String())})
}

// putManifests puts the children of an index by digest, then the node
// itself under ref.
func putManifests(ctx context.Context, p *ggcr.Pusher, ref name.Reference, n *manifestNode) error {
	for _, c := range n.children {
		if err := putManifests(ctx, p, ref.Context().Digest(c.desc.Digest.String()), c); err != nil {
			return err
		}
	}
	var t ggcr.Taggable
	switch {
	case n.image != nil:
		t = n.image
	case n.index != nil:
		t = n.index
	default:
		return errors.New("empty manifest node")
	}
	return p.Put(ctx, ref, t)
}

// countingLayer reports the bytes ggcr reads while uploading.
type countingLayer struct {
	v1.Layer
	pc *progressCounter
}

func (c *countingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, pc: c.pc}, nil
}
