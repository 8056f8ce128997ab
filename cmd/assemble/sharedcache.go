package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assemble-build/assemble/assembler"
	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers/remotecache"
	"github.com/assemble-build/assemble/oci/sink"
)

// sharedCacheFlags are build's --cache-from, --cache-to and --image.
type sharedCacheFlags struct {
	from  []string
	to    string
	image string
}

func (s *sharedCacheFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&s.from, "cache-from", nil, "a shared layer cache to take layers from before building them (repeatable, asked in order after --cache-dir): docker://REGISTRY/REPOSITORY[:TAG] or oci:DIR[:TAG] (default tag "+remotecache.DefaultTag+")")
	fl.StringVar(&s.to, "cache-to", "", "the shared layer cache to record this build's layers in: docker://REGISTRY/REPOSITORY[:TAG] or oci:DIR[:TAG] (name it in --cache-from too to read it)")
	fl.StringVar(&s.image, "image", "", "build only this image of the plan (its name, or its last path element, as `assemble plan --matrix` lists it)")
}

// open makes the shared caches the flags name, or nil for none; opts
// are the build's other settings for them (chunked uploads).
func (s *sharedCacheFlags) open(rem *remote.Registries, opts ...remotecache.Option) (*remotecache.Caches, []assembler.Option, error) {
	if len(s.from) == 0 && s.to == "" {
		return nil, nil, nil
	}
	c, err := remotecache.New(s.from, s.to, append([]remotecache.Option{remotecache.WithRegistries(rem)}, opts...)...)
	if err != nil {
		return nil, nil, err
	}
	return c, []assembler.Option{assembler.WithSharedCache(c)}, nil
}

// mountInto tells c the registries the images go to, when every output
// is a registry: hits there are mounted, never downloaded. With a local
// output too, hits are downloaded once into --cache-dir instead.
func (f *buildFlags) mountInto(c *remotecache.Caches, p *plan.Plan) {
	if c == nil {
		return
	}
	var hosts []string
	for _, o := range f.outputs {
		ref, ok := strings.CutPrefix(o, "docker://")
		if !ok {
			return
		}
		if r, err := name.ParseReference(ref); err == nil {
			hosts = append(hosts, r.Context().RegistryStr())
		}
	}
	if f.push {
		for _, im := range p.Images {
			if r, err := name.NewRepository(im.Name); err == nil {
				hosts = append(hosts, r.RegistryStr())
			}
		}
	}
	c.SetMountInto(hosts...)
}

// flushShared writes the build's layers to --cache-to (mounting blobs from
// the repositories just pushed to) and reports what each cache ref cost.
func flushShared(ctx context.Context, pr *progress, c *remotecache.Caches, results []sink.Result) error {
	if c == nil {
		return nil
	}
	var pushed []name.Repository
	for _, r := range results {
		if r.Transport != "" {
			continue
		}
		if ref, err := name.ParseReference(r.Ref); err == nil {
			pushed = append(pushed, ref.Context())
		}
	}
	if _, err := c.Flush(ctx, pushed...); err != nil {
		return err
	}
	for _, s := range c.Stats() {
		if s.Written > 0 || strings.HasSuffix(s.Ref, "(cache-to)") {
			pr.Step(fmt.Sprintf("shared cache %s: %d requests, %d entries written", s.Ref, s.Requests, s.Written))
			continue
		}
		pr.Step(fmt.Sprintf("shared cache %s: %d requests, %d hits, %d misses", s.Ref, s.Requests, s.Hits, s.Misses))
	}
	return nil
}

// pickImage keeps only the image --image names (and no artifact): by its
// name or last path element, with ":TAG" for images that share a name
// (Domino's groups), as `plan --matrix` gives it.
func (s *sharedCacheFlags) pickImage(p *plan.Plan) error {
	if s.image == "" {
		return nil
	}
	var found []plan.Image
	var names []string
	for _, im := range p.Images {
		if imageMatches(im, s.image) {
			found = append(found, im)
		}
		names = append(names, imageSelector(p, im))
	}
	if len(found) == 1 {
		p.Images, p.Artifacts = found, nil
		return nil
	}
	sort.Strings(names)
	if len(found) == 0 {
		return fmt.Errorf("--image %s: the plan has no such image; it has: %s", s.image, strings.Join(names, ", "))
	}
	return fmt.Errorf("--image %s: %d images match; give one of: %s", s.image, len(found), strings.Join(names, ", "))
}

func imageMatches(im plan.Image, sel string) bool {
	for _, n := range []string{im.Name, shortName(im.Name)} {
		if sel == n {
			return true
		}
		for _, t := range im.Tags {
			if sel == n+":"+t {
				return true
			}
		}
	}
	return false
}

// imageSelector is what --image takes for im: its name, with its first tag
// when another image of p has the same name.
func imageSelector(p *plan.Plan, im plan.Image) string {
	for _, o := range p.Images {
		if o.Name == im.Name && !slices.Equal(o.Tags, im.Tags) && len(im.Tags) > 0 {
			return im.Name + ":" + im.Tags[0]
		}
	}
	return im.Name
}

// shortName is an image name's last path element: "ghcr.io/org/app" -> "app".
func shortName(n string) string {
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		return n[i+1:]
	}
	return n
}

// cacheRefFlags are `cache du` and `cache prune`'s --cache-ref and the
// registry flags it needs.
type cacheRefFlags struct {
	ref    string
	remote remoteFlags
}

func (c *cacheRefFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&c.ref, "cache-ref", "", "a shared cache (--cache-to's docker://REGISTRY/REPOSITORY[:TAG] or oci:DIR[:TAG]) instead of --cache-dir")
	c.remote.addOne(fl)
}

func (c *cacheRefFlags) open(g *globals) (*remotecache.Ref, error) {
	rem, err := c.remote.registries(g, &c.remote.src)
	if err != nil {
		return nil, err
	}
	r, err := remotecache.OpenRef(c.ref, remotecache.WithRegistries(rem))
	if err != nil {
		return nil, fmt.Errorf("--cache-ref: %w", err)
	}
	return r, nil
}

// sharedUsage prints `cache du --cache-ref`.
func (c *cacheRefFlags) usage(cmd *cobra.Command, g *globals) error {
	r, err := c.open(g)
	if err != nil {
		return err
	}
	u, err := r.Usage(cmd.Context())
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintln(w, u.Ref)
	fmt.Fprintf(w, "  entries: %d\n  blobs:   %d (%s)\n", u.Entries, u.Blobs, assembler.HumanSize(u.Bytes))
	if u.Entries > 0 {
		fmt.Fprintf(w, "  oldest:  %s\n  newest:  %s\n", u.Oldest.Format(time.RFC3339), u.Newest.Format(time.RFC3339))
	}
	return nil
}

// prune runs `cache prune --cache-ref`.
func (c *cacheRefFlags) prune(cmd *cobra.Command, g *globals, keepDays int) error {
	r, err := c.open(g)
	if err != nil {
		return err
	}
	res, err := r.Prune(cmd.Context(), keepDays)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "removed %d entries from %s, kept %d\n", res.Removed, r, res.Kept)
	return nil
}

// withSharedStats adds what each shared cache ref cost and gave to build's
// --json report, as "sharedCache".
func withSharedStats(report any, c *remotecache.Caches) (any, error) {
	if c == nil {
		return report, nil
	}
	b, err := json.Marshal(report)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	stats, err := json.Marshal(c.Stats())
	if err != nil {
		return nil, err
	}
	m["sharedCache"] = stats
	return m, nil
}
