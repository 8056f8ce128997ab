package conda_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/conda/condatest"
)

// refused builds sol and checks the error names every part, and that
// nothing was written: no layer, no staging left in the cache.
func refused(t *testing.T, cache *layers.Cache, sol conda.Solution, pfx string, parts ...string) {
	t.Helper()
	spec := conda.NewLayer(cache, sol, pfx)
	_, err := cache.Build(context.Background(), spec)
	spec.(interface{ Close() error }).Close()
	t.Logf("refused: %v", err)
	mustContain(t, err, parts...)
	if has, herr := cache.Has(context.Background(), spec); herr != nil || has {
		t.Errorf("a layer was stored (%v)", herr)
	}
	if left := stagingLeft(t, cache); len(left) > 0 {
		t.Errorf("staging left in the cache: %v", left)
	}
}

// TestRefuseHashMismatch: a package whose content is not what repodata
// says is refused, naming the package and both digests, and is not kept.
func TestRefuseHashMismatch(t *testing.T) {
	ch := condatest.NewChannel(t, t.TempDir())
	r := ch.Add(t, condatest.Package{Name: "tampered", Version: "1", Files: map[string]condatest.File{"a": {Data: "a\n"}}})
	good := r.SHA256
	r.SHA256 = strings.Repeat("ab", 32)
	cache := newCache(t)
	refused(t, cache, condatest.Solution(nil, r), prefix, "tampered-1-0.conda", "sha256:"+good, "sha256:"+r.SHA256, "nothing was kept")
	_, err := cache.Build(context.Background(), conda.NewLayer(cache, condatest.Solution(nil, r), prefix))
	if !errors.Is(err, layers.ErrDigestMismatch) {
		t.Errorf("the error does not wrap layers.ErrDigestMismatch: %v", err)
	}
	if _, _, err := cache.Download(context.Background(), "sha256:"+good, nil); !errors.Is(err, layers.ErrNotCached) {
		t.Errorf("the mismatching file is in the download store: %v", err)
	}
}

// TestRefuseUnsafeMembers: a ../ member, an absolute member, a symlink out
// of the prefix, each named with its package.
func TestRefuseUnsafeMembers(t *testing.T) {
	for name, c := range map[string]struct {
		m     condatest.Member
		parts []string
	}{
		"dotdot":      {condatest.Member{Name: "../../../../etc/evil", Data: "x"}, []string{`"../../../../etc/evil"`, "leaves the prefix"}},
		"absolute":    {condatest.Member{Name: "/etc/evil", Data: "x"}, []string{`"/etc/evil"`, "leaves the prefix"}},
		"symlink out": {condatest.Member{Name: "lib/escape", Link: "../../../etc"}, []string{"lib/escape -> ../../../etc", "outside the prefix"}},
		"symlink abs": {condatest.Member{Name: "bin/sh", Link: "/bin/bash"}, []string{"bin/sh -> /bin/bash", "absolute"}},
	} {
		t.Run(name, func(t *testing.T) {
			ch := condatest.NewChannel(t, t.TempDir())
			r := ch.Raw(t, condatest.Package{Name: "evil", Version: "1"}, []condatest.Member{{Name: "ok.txt", Data: "ok"}, c.m})
			refused(t, newCache(t), condatest.Solution(nil, r), prefix, append([]string{"evil-1-0.conda", "refusing"}, c.parts...)...)
		})
	}
}

// TestRefuseShortPlaceholder: a binary file whose placeholder is shorter
// than the prefix cannot take it (an old package: info/has_prefix, no
// info/paths.json).
func TestRefuseShortPlaceholder(t *testing.T) {
	ch := condatest.NewChannel(t, t.TempDir())
	r := ch.Add(t, condatest.Package{Name: "oldbin", Version: "1", Placeholder: condatest.ShortPlaceholder, TarBz2: true, Legacy: true,
		Files: map[string]condatest.File{"lib/libold.so": {Data: "\x00" + condatest.ShortPlaceholder + "/lib\x00", PrefixMode: "binary"}}})
	long := "/srv/conda/envs/a-rather-long-environment-name"
	refused(t, newCache(t), condatest.Solution(nil, r), long,
		"oldbin-1-0.tar.bz2", "lib/libold.so", condatest.ShortPlaceholder, long, "shorter prefix")
}

func TestRefuseNoarchWithoutPython(t *testing.T) {
	ch := condatest.NewChannel(t, t.TempDir())
	r := ch.Add(t, condatest.Package{Name: "purepy", Version: "1", Noarch: "python",
		Files: map[string]condatest.File{"site-packages/purepy.py": {Data: "x = 1\n"}}})
	refused(t, newCache(t), condatest.Solution(nil, r), prefix, "purepy-1-0.conda", "noarch: python", "no python package")
}

func TestRefuseBadPrefix(t *testing.T) {
	for _, p := range []string{"relative/env", "/srv/env/", "/", "/srv/../env"} {
		spec := conda.NewLayer(newCache(t), conda.Solution{}, p)
		_, err := spec.Key(context.Background())
		mustContain(t, err, p, "clean absolute directory")
	}
}

// TestOffline: with Offline, a layer builds from the download store alone,
// and what the store lacks is listed, every package at once.
func TestOffline(t *testing.T) {
	_, recs := testChannel(t, t.TempDir()) // its own: the test removes its files
	sol := condatest.Solution([]string{"hello"}, recs...)
	cache := newCache(t)
	buildLayer(t, cache, conda.NewLayer(cache, sol, prefix))

	// The channel is gone; another prefix is another layer, built offline.
	for _, r := range recs {
		os.Remove(strings.TrimPrefix(r.URL, "file://"))
	}
	off := conda.NewFetcher(cache, conda.Offline())
	b := buildLayer(t, cache, conda.NewLayer(cache, sol, "/opt/env", conda.WithFetcher(off)))
	if _, err := os.Stat(filepath.Join(b.root, "opt/env/bin/hello")); err != nil {
		t.Error(err)
	}

	empty := newCache(t)
	spec := conda.NewLayer(empty, sol, prefix, conda.WithFetcher(conda.NewFetcher(empty, conda.Offline())))
	_, err := empty.Build(context.Background(), spec)
	if !errors.Is(err, conda.ErrOffline) {
		t.Fatalf("want ErrOffline, got %v", err)
	}
	for _, r := range recs {
		mustContain(t, err, r.Filename, r.SHA256)
	}
}
