package sync

import (
	"bytes"
	"context"
	"fmt"
	stdsync "sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/internal/remote"
)

// carryReferrers copies the referrers of what was written for one image
// (the manifest m, and each image of an index), and theirs in turn, unless
// WithReferrers(false). srcDigest is the manifest's digest at the source:
// when the platform filter rewrote an index, the source index's referrers
// describe an index the destination does not get, so they stay behind.
// It returns how many referrers were written.
func (r *runner) carryReferrers(ctx context.Context, src, dst *repoClient, m manifest, srcDigest v1.Hash) (int, error) {
	if r.o.noReferrers {
		return 0, nil
	}
	var subjects []v1.Hash
	if m.digest == srcDigest {
		subjects = append(subjects, m.digest)
	}
	if m.mediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(m.raw))
		if err != nil {
			return 0, fmt.Errorf("parsing index %s: %w", m.digest, err)
		}
		for _, d := range idx.Manifests {
			subjects = append(subjects, d.Digest)
		}
	}
	seen := map[v1.Hash]bool{}
	n := 0
	// Breadth first: a referrer's own referrers (a signature of an SBOM)
	// come after it, so a subject is always at the destination first.
	for len(subjects) > 0 {
		s := subjects[0]
		subjects = subjects[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		refs, err := r.copySubjectReferrers(ctx, src, dst, s, &n)
		if err != nil {
			return n, err
		}
		subjects = append(subjects, refs...)
	}
	return n, nil
}

// copySubjectReferrers copies the referrers of one subject that the
// destination lacks and returns all their digests. ggcr's manifest put
// adds each to the destination's sha256-HEX fallback index where the
// registry has no referrers API; that index is read and rewritten per
// referrer, so writes for one subject are serialised across images.
func (r *runner) copySubjectReferrers(ctx context.Context, src, dst *repoClient, subject v1.Hash, n *int) ([]v1.Hash, error) {
	refs, err := remote.Referrers(ctx, src.repo.Digest(subject.String()), src.opts...)
	if err != nil {
		return nil, r.explain(err, "listing referrers in", src.repo.String(), src)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	unlock := r.lockSubject(dst.repo.Digest(subject.String()).String())
	defer unlock()
	var out []v1.Hash
	for _, d := range refs {
		copied, err := r.copyChild(ctx, src, dst, d)
		if err != nil {
			return nil, fmt.Errorf("referrer %s of %s: %w", d.Digest, subject, err)
		}
		if copied {
			*n++
			r.stats.referrers.Add(1)
		}
		out = append(out, d.Digest)
	}
	return out, nil
}

// lockSubject serialises referrer writes for one destination subject.
func (r *runner) lockSubject(key string) (unlock func()) {
	r.mu.Lock()
	l, ok := r.subjects[key]
	if !ok {
		l = &stdsync.Mutex{}
		r.subjects[key] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}
