package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/assemble-build/assemble/internal/ctxtime"
	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/sync/errgroup"
)

// Option configures Run.
type Option func(*options)

type options struct {
	procs      int
	retries    int
	retryDelay time.Duration
	osList     []string
	archList   []string
	force      bool
	transport  http.RoundTripper
	logger     *slog.Logger
	// noReferrers leaves the images' OCI 1.1 referrers behind.
	noReferrers bool
	// sides are the --src-/--dest- settings; index side.
	sides [2]SideDefaults
	// Blobs of at least chunkThreshold bytes go in chunks of chunkSize
	// (0: remote's defaults; a negative threshold: never).
	chunkThreshold, chunkSize int64
}

// SideDefaults are skopeo's --src-* or --dest-* settings for every registry
// on one side of a sync, beside image-syncer's auth file.
type SideDefaults struct {
	// Keychain gives credentials for a repository that no auth entry
	// matches (--src-creds, --authfile); nil leaves it anonymous.
	Keychain authn.Keychain
	// Insecure reaches every registry on this side as an auth entry's
	// insecure: true does (--src-tls-verify=false).
	Insecure bool
}

// side is which end of a copy a registry is.
type side int

const (
	sourceSide side = iota
	destinationSide
)

func (s side) String() string { return [...]string{"source", "destination"}[s] }

// WithSourceDefaults sets how source registries are reached beyond the auth file.
func WithSourceDefaults(d SideDefaults) Option { return func(o *options) { o.sides[sourceSide] = d } }

// WithDestinationDefaults sets how destination registries are reached beyond the auth file.
func WithDestinationDefaults(d SideDefaults) Option {
	return func(o *options) { o.sides[destinationSide] = d }
}

// WithProcs sets how many blobs are copied at once (image-syncer's --proc,
// default 5). It also bounds how many images are worked on at once.
func WithProcs(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.procs = n
		}
	}
}

// WithRetries sets how many more rounds failed images get after the first
// pass (image-syncer's --retries, default 2). As in image-syncer, failed
// images are retried only after every other image had its turn.
func WithRetries(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.retries = n
		}
	}
}

// WithRetryDelay sets the pause before retry round n, which is n times d
// (default 1s), so a registry that is rate limiting gets some air.
func WithRetryDelay(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.retryDelay = d
		}
	}
}

// WithOS keeps only images whose OS is listed ("linux", or "os:osversion"),
// like image-syncer's --os. A filtered index is rewritten to hold only the
// matching manifests, so its digest differs from the source's.
func WithOS(os ...string) Option {
	return func(o *options) { o.osList = append(o.osList, os...) }
}

// WithArch keeps only images whose architecture is listed ("amd64", or
// "arch:variant" such as "arm:v7"), like image-syncer's --arch.
func WithArch(arch ...string) Option {
	return func(o *options) { o.archList = append(o.archList, arch...) }
}

// WithForce pushes manifests even when the destination already has them
// (image-syncer's --force).
func WithForce(force bool) Option {
	return func(o *options) { o.force = force }
}

// WithReferrers says whether each image's OCI 1.1 referrers (SBOMs,
// provenance, signatures, and theirs in turn) are copied with it, as
// assemble copy does (default true; false is --no-referrers). They are read
// from the source's referrers API or its sha256-HEX fallback tag, and
// written so that the destination lists them either way. Fallback tags are
// never synced as images of their own.
func WithReferrers(carry bool) Option {
	return func(o *options) { o.noReferrers = !carry }
}

// WithChunkedUpload sets which blobs go to the destination in chunks:
// those of at least threshold bytes, in PATCHes of chunkSize bytes,
// streamed from the source without buffering, and resumed after a dropped
// connection at the destination's offset with a ranged read of the source.
// Zero values keep remote.DefaultChunkThreshold (1 GiB) and
// remote.DefaultChunkSize (64 MiB); a negative threshold sends every blob
// in one request.
func WithChunkedUpload(threshold, chunkSize int64) Option {
	return func(o *options) { o.chunkThreshold, o.chunkSize = threshold, chunkSize }
}

// WithTransport sets the HTTP transport under authentication (tests, proxies).
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.transport = rt }
}

// WithLogger sets where progress is logged; the default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// Status is what happened to one image.
type Status string

// The statuses of an image.
const (
	StatusCopied  Status = "copied"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
)

// ImageResult is the outcome for one source image and one destination. For
// a rule that failed before its tags were known, Source and Destination are
// the rule's as written.
type ImageResult struct {
	Source      string
	Destination string
	Status      Status
	// Digest is the manifest digest at the destination.
	Digest string
	// Reason says why an image was skipped.
	Reason string
	Err    error
	// Attempts counts the rounds this image took part in.
	Attempts int
	// Referrers counts the referrers written to the destination.
	Referrers int
}

// Summary is what Run did.
type Summary struct {
	Images                  []ImageResult
	Copied, Skipped, Failed int
	// BlobsCopied were streamed from source to destination; BlobsReused
	// were already at the destination or mounted from another repository.
	BlobsCopied, BlobsReused int
	BytesCopied              int64
	// ReferrersCopied counts the referrer manifests written.
	ReferrersCopied int
}

// WriteTo prints one line per image and a totals line.
func (s *Summary) WriteTo(w io.Writer) (int64, error) {
	var n int64
	p := func(format string, args ...any) error {
		k, err := fmt.Fprintf(w, format, args...)
		n += int64(k)
		return err
	}
	for _, r := range s.Images {
		var err error
		switch r.Status {
		case StatusFailed:
			err = p("%-7s %s -> %s: %v\n", r.Status, r.Source, r.Destination, r.Err)
		case StatusSkipped:
			err = p("%-7s %s -> %s (%s)\n", r.Status, r.Source, r.Destination, r.Reason)
		default:
			err = p("%-7s %s -> %s %s\n", r.Status, r.Source, r.Destination, r.Digest)
		}
		if err != nil {
			return n, err
		}
	}
	refs := ""
	if s.ReferrersCopied > 0 {
		refs = fmt.Sprintf("; %d referrers copied", s.ReferrersCopied)
	}
	err := p("%d copied, %d skipped, %d failed; %d blobs copied (%d bytes), %d reused%s\n",
		s.Copied, s.Skipped, s.Failed, s.BlobsCopied, s.BytesCopied, s.BlobsReused, refs)
	return n, err
}

// FailedError is returned by Run when some images could not be synced after
// all retries; the others were synced.
type FailedError struct {
	Failed []ImageResult
}

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("%d image(s) failed to sync", len(e.Failed))
	for i, r := range e.Failed {
		if i == 3 {
			msg += fmt.Sprintf("; and %d more", len(e.Failed)-i)
			break
		}
		msg += fmt.Sprintf("; %s -> %s: %v", r.Source, r.Destination, r.Err)
	}
	return msg
}

func (e *FailedError) Unwrap() []error {
	var errs []error
	for _, r := range e.Failed {
		errs = append(errs, r.Err)
	}
	return errs
}

// ruleTask is one rule with one destination, before its tags are known.
type ruleTask struct {
	rule Rule
	dest string
}

func (t ruleTask) key() string { return t.rule.Source + " -> " + t.dest }

// Run copies every image cfg names. It returns a *FailedError (with the
// summary) if any image still failed after the retries; every other image is
// synced regardless.
func Run(ctx context.Context, cfg *Config, opts ...Option) (*Summary, error) {
	o := options{procs: 5, retries: 2, retryDelay: time.Second, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg == nil {
		return nil, errors.New("sync: no configuration")
	}
	r := newRunner(cfg, o)

	var rules []ruleTask
	for _, rule := range cfg.sortedRules() {
		for _, d := range rule.Destinations {
			rules = append(rules, ruleTask{rule: rule, dest: d})
		}
	}
	results := map[string]*ImageResult{}
	attempts := map[string]int{}
	var pairs []pair
	for round := 0; round <= o.retries; round++ {
		if len(rules) == 0 && len(pairs) == 0 {
			break
		}
		if round > 0 {
			o.logger.Info("retrying failed images", "round", round, "rules", len(rules), "images", len(pairs))
			if err := ctxtime.Sleep(ctx, time.Duration(round)*o.retryDelay); err != nil {
				break
			}
		}
		expanded, failedRules := r.expandAll(ctx, rules)
		for _, t := range rules {
			attempts[t.key()]++
		}
		for _, f := range failedRules {
			results[f.task.key()] = &ImageResult{Source: f.task.rule.Source, Destination: f.task.dest, Status: StatusFailed, Err: f.err}
		}
		for _, t := range rules {
			if !containsTask(failedRules, t) {
				delete(results, t.key())
			}
		}
		pairs = dedupPairs(append(pairs, expanded...))
		done := r.copyAll(ctx, pairs)
		rules = rules[:0]
		for _, f := range failedRules {
			rules = append(rules, f.task)
		}
		pairs = pairs[:0]
		for _, res := range done {
			k := res.pair.srcString() + " -> " + res.pair.dstString()
			attempts[k]++
			rr := res.result
			results[k] = &rr
			if rr.Status == StatusFailed {
				pairs = append(pairs, res.pair)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}

	s := &Summary{
		BlobsCopied: int(r.stats.blobsCopied.Load()),
		BlobsReused: int(r.stats.blobsReused.Load()),
		BytesCopied: r.stats.bytes.Load(),

		ReferrersCopied: int(r.stats.referrers.Load()),
	}
	var failed []ImageResult
	for k, res := range results {
		res.Attempts = attempts[k]
		s.Images = append(s.Images, *res)
	}
	sort.Slice(s.Images, func(i, j int) bool {
		a, b := s.Images[i], s.Images[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Destination < b.Destination
	})
	for _, res := range s.Images {
		switch res.Status {
		case StatusCopied:
			s.Copied++
		case StatusSkipped:
			s.Skipped++
		case StatusFailed:
			s.Failed++
			failed = append(failed, res)
		}
	}
	if err := ctx.Err(); err != nil {
		return s, fmt.Errorf("sync interrupted: %w", err)
	}
	if len(failed) > 0 {
		return s, &FailedError{Failed: failed}
	}
	return s, nil
}

func containsTask(fs []ruleFailure, t ruleTask) bool {
	for _, f := range fs {
		if f.task.key() == t.key() {
			return true
		}
	}
	return false
}

func dedupPairs(ps []pair) []pair {
	seen := map[string]bool{}
	var out []pair
	for _, p := range ps {
		k := p.srcString() + " -> " + p.dstString()
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

type ruleFailure struct {
	task ruleTask
	err  error
}

// expandAll turns rules into image pairs, listing tags where a rule needs them.
func (r *runner) expandAll(ctx context.Context, tasks []ruleTask) ([]pair, []ruleFailure) {
	var (
		mu     stdsync.Mutex
		pairs  = make([][]pair, len(tasks))
		failed []ruleFailure
	)
	g := &errgroup.Group{}
	g.SetLimit(r.o.procs)
	for i, t := range tasks {
		g.Go(func() error {
			ps, err := r.expand(ctx, t)
			if err != nil {
				mu.Lock()
				failed = append(failed, ruleFailure{task: t, err: fmt.Errorf("%s: %w", t.rule.Pos, err)})
				mu.Unlock()
				return nil
			}
			pairs[i] = ps
			return nil
		})
	}
	_ = g.Wait()
	var out []pair
	for _, ps := range pairs {
		out = append(out, ps...)
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].task.key() < failed[j].task.key() })
	return out, failed
}

func (r *runner) expand(ctx context.Context, t ruleTask) ([]pair, error) {
	src, err := parseImageURL(t.rule.Source)
	if err != nil {
		return nil, err
	}
	dst, err := parseImageURL(t.dest)
	if err != nil {
		return nil, err
	}
	var tags []string
	if src.all() || src.regex != nil {
		tags, err = r.listTags(ctx, src)
		if err != nil {
			return nil, err
		}
	}
	items := sourceItems(src, tags)
	if len(items) == 0 {
		r.o.logger.Warn("no tags to sync", "source", src.raw)
		return nil, nil
	}
	return pairUp(src, items, dst)
}

type pairResult struct {
	pair   pair
	result ImageResult
}

// copyAll copies pairs, at most procs images at a time.
func (r *runner) copyAll(ctx context.Context, pairs []pair) []pairResult {
	out := make([]pairResult, len(pairs))
	g := &errgroup.Group{}
	g.SetLimit(r.o.procs)
	for i, p := range pairs {
		g.Go(func() error {
			res := r.copyPair(ctx, p)
			res.Source, res.Destination = p.srcString(), p.dstString()
			switch res.Status {
			case StatusFailed:
				r.o.logger.Warn("sync failed", "source", res.Source, "destination", res.Destination, "error", res.Err)
			case StatusSkipped:
				r.o.logger.Info("skipped", "source", res.Source, "destination", res.Destination, "reason", res.Reason)
			default:
				r.o.logger.Info("copied", "source", res.Source, "destination", res.Destination, "digest", res.Digest)
			}
			out[i] = pairResult{pair: p, result: res}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

type stats struct {
	blobsCopied atomic.Int64
	blobsReused atomic.Int64
	bytes       atomic.Int64
	referrers   atomic.Int64
}
