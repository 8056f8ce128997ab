// Package layerstest holds what the tests of layer builders share: the
// download cache of the network tests. Only tests import this package.
package layerstest

import (
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// SharedCache opens the download cache the network tests share across
// runs (testtool.CacheDir), so each package is fetched once.
func SharedCache(t testing.TB) *layers.Cache {
	t.Helper()
	c, err := layers.OpenCache(testtool.CacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
