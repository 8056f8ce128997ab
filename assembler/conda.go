package assembler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/wheel"
)

// Conda settings the CLI may override.
type Conda struct {
	// ChannelAlias is where channel names point (conda's channel_alias;
	// default https://conda.anaconda.org), for a mirror.
	ChannelAlias string
}

// WithConda sets the conda channel settings.
func WithConda(c Conda) Option { return set(func(o *options) { o.conda = c }) }

// CondaReport is what a conda layer resolved to: the solution as an
// explicit lock, for `assemble plan --resolve`.
type CondaReport struct {
	Prefix   string `json:"prefix"`
	Subdir   string `json:"subdir"`
	Glibc    string `json:"glibc,omitempty"`
	Packages int    `json:"packages"`
	// Lock is the solution in conda's explicit format; empty when the
	// layer installed a lock file of the repository.
	Lock string `json:"lock,omitempty"`
	// LockFile is the repository's lock file the layer installed.
	LockFile string `json:"lockFile,omitempty"`

	// sol is what the layer installs, and indexFiles the repodata files
	// it was resolved (or its lock completed) from: for the SBOM.
	sol        conda.Solution
	indexFiles []conda.IndexFile
}

// condaLayer resolves (or reads the lock of) a conda plan layer against
// the image below: the packages its environment already has are kept, and
// virtual packages come from its C library.
func (s *services) condaLayer(ctx context.Context, l plan.Layer, at below) (specs, error) {
	spec, rep, err := s.env.condaLayer(ctx, l, at.img, at.platform)
	if err != nil {
		return specs{}, &sourcedError{source: l.Source, err: err}
	}
	glibc := ""
	if rep.Glibc != "" {
		glibc = ", glibc " + rep.Glibc
	}
	if err := s.recordConda(l, rep); err != nil {
		return specs{}, &sourcedError{source: l.Source, err: err}
	}
	return specs{
		specs: []layers.Spec{spec},
		step:  fmt.Sprintf("conda %s (%s%s): %d packages", rep.Prefix, rep.Subdir, glibc, rep.Packages),
		conda: rep,
	}, nil
}

func (e *env) condaLayer(ctx context.Context, l plan.Layer, img v1.Image, platform v1.Platform) (layers.Spec, *CondaReport, error) {
	c := l.Conda
	subdir, err := conda.Subdir(platform.OS, platform.Architecture)
	if err != nil {
		return nil, nil, err
	}
	env, err := e.condaInstalled(img, c.Prefix)
	if err != nil {
		return nil, nil, err
	}
	below := env.Records
	rep := &CondaReport{Prefix: c.Prefix, Subdir: subdir}
	var sol conda.Solution
	if lock := c.Locks[subdir]; lock != "" {
		b, err := os.ReadFile(filepath.Join(e.p.Root, filepath.FromSlash(lock)))
		if err != nil {
			return nil, nil, fmt.Errorf("reading the lock: %w", err)
		}
		if sol, _, err = conda.ParseExplicit(lock, b); err != nil {
			return nil, nil, err
		}
		if sol, rep.indexFiles, err = e.completeLock(ctx, sol, subdir); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", lock, err)
		}
		rep.LockFile = lock
	} else {
		if sol, rep.indexFiles, rep.Glibc, err = e.condaSolve(ctx, c, img, platform, subdir, below); err != nil {
			return nil, nil, err
		}
		rep.Lock = string(conda.FormatExplicit(sol, subdir))
	}
	rep.Packages, rep.sol = len(sol.Records), sol
	var fopts []conda.FetchOption
	if e.o.offline {
		fopts = append(fopts, conda.Offline())
	}
	opts := []conda.LayerOption{conda.WithOwner(c.UID, c.GID), conda.WithTime(e.o.created),
		conda.WithFetcher(conda.NewFetcher(e.o.cache, fopts...)), conda.WithDescription("conda " + l.Source)}
	if len(below) > 0 {
		opts = append(opts, conda.WithBelow(conda.Solution{Records: below}))
	}
	if env.History != nil {
		opts = append(opts, conda.WithBaseHistory(env.History))
	}
	return conda.NewLayer(e.o.cache, sol, c.Prefix, opts...), rep, nil
}

// condaSolve resolves a conda layer's specs from its channels.
// It returns the repodata files read as well, which the provenance names.
func (e *env) condaSolve(ctx context.Context, c *plan.CondaLayer, img v1.Image, platform v1.Platform, subdir string, below []conda.Record) (conda.Solution, []conda.IndexFile, string, error) {
	var chans []conda.Channel
	for _, name := range c.Channels {
		ch, err := conda.ParseChannel(name, e.o.conda.ChannelAlias)
		if err != nil {
			return conda.Solution{}, nil, "", err
		}
		chans = append(chans, ch)
	}
	if len(chans) == 0 {
		return conda.Solution{}, nil, "", fmt.Errorf("a conda layer needs channels")
	}
	ix, err := e.condaIndex(ctx, chans, subdir)
	if err != nil {
		return conda.Solution{}, nil, "", err
	}
	glibc, err := e.glibc(img, platform)
	if err != nil {
		return conda.Solution{}, nil, "", err
	}
	var reqs []conda.Request
	for _, s := range c.Specs {
		reqs = append(reqs, conda.Request{Spec: s.Spec, Where: s.Where})
	}
	sol, err := ix.Solve(reqs, conda.WithVirtual(conda.VirtualPackages(glibc, conda.Archspec(platform.Architecture))...), conda.WithInstalled(below...))
	var ce *conda.ConflictError
	if errors.As(err, &ce) && ce.Below {
		err = fmt.Errorf("%w\n  (a layer cannot change the packages of the layer below: ask for %s as the environment below has it, or leave it out of that environment)", err, ce.Name)
	}
	return sol, ix.Files(), glibc, err
}

// condaIndex reads the channels' repodata once per run.
func (e *env) condaIndex(ctx context.Context, chans []conda.Channel, subdir string) (*conda.Index, error) {
	key := fmt.Sprintf("conda %v %s", chans, subdir)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ix, ok := e.condaIndexes[key]; ok {
		return ix, nil
	}
	ix, err := conda.NewClient(e.o.cache, conda.WithOffline(e.o.offline)).Index(ctx, chans, subdir)
	if err != nil {
		return nil, err
	}
	if e.condaIndexes == nil {
		e.condaIndexes = map[string]*conda.Index{}
	}
	e.condaIndexes[key] = ix
	return ix, nil
}

// condaEnv is what img's environment at a prefix already holds.
type condaEnv struct {
	Records []conda.Record `json:"records,omitempty"`
	// History is its conda-meta/history, which a layer above extends.
	History []byte `json:"history,omitempty"`
}

// condaInstalled reads the environment img already has at prefix.
func (e *env) condaInstalled(img v1.Image, prefix string) (condaEnv, error) {
	sum := sha256.Sum256([]byte(prefix))
	var ce condaEnv
	err := e.probe(img, "conda-env-"+hex.EncodeToString(sum[:8]), &ce, func(fsys fs.FS) error {
		var err error
		if ce.Records, err = conda.ReadInstalled(fsys, prefix); err != nil {
			return err
		}
		h, err := fs.ReadFile(fsys, strings.TrimPrefix(path.Join(prefix, "conda-meta/history"), "/"))
		if err == nil {
			ce.History = h
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s/conda-meta/history: %w", prefix, err)
		}
		return nil
	})
	return ce, err
}

// glibc is the image's glibc version, for __glibc.
func (e *env) glibc(img v1.Image, platform v1.Platform) (string, error) {
	var v string
	err := e.probe(img, "glibc-"+platform.Architecture, &v, func(fsys fs.FS) error {
		v = wheel.ProbeGlibc(fsys)
		return nil
	})
	return v, err
}

// completeLock gives a lock's records without a sha256 (conda-lock writes
// md5 hashes) their repodata record, so every package is still checked by
// its sha256. A lock with sha256 hashes is installed without the channels.
// It returns the repodata files it read.
func (e *env) completeLock(ctx context.Context, sol conda.Solution, subdir string) (conda.Solution, []conda.IndexFile, error) {
	complete := true
	for _, r := range sol.Records {
		complete = complete && r.SHA256 != ""
	}
	if complete {
		return sol, nil, nil
	}
	chans, _ := conda.LockChannels(sol)
	ix, err := e.condaIndex(ctx, chans, subdir)
	if err != nil {
		return conda.Solution{}, nil, err
	}
	sol, err = ix.Complete(sol)
	return sol, ix.Files(), err
}
