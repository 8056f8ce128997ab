package wheel

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/layers"
)

// A wheelhouse file the download store already holds is taken as it is:
// a rebuild does not copy it in again (the stored file keeps its inode),
// and a changed file is stored under its new digest.
func TestFetchLocalFileOnce(t *testing.T) {
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &client{cache: cache, creds: map[string]credential{}}
	whl := filepath.Join(t.TempDir(), "a-1.0-py3-none-any.whl")
	if err := os.WriteFile(whl, []byte("wheel v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := fileLink{Filename: filepath.Base(whl), URL: "file://" + whl, Local: whl}
	fetch := func() (string, string, uint64) {
		t.Helper()
		p, sum, err := c.fetchFile(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return p, sum, fi.Sys().(*syscall.Stat_t).Ino
	}
	p1, sum1, ino1 := fetch()
	p2, sum2, ino2 := fetch()
	if p1 != p2 || sum1 != sum2 || ino1 != ino2 {
		t.Errorf("second fetch: %s %s inode %d, first %s %s inode %d", p2, sum2, ino2, p1, sum1, ino1)
	}
	if err := os.WriteFile(whl, []byte("wheel v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	p3, sum3, _ := fetch()
	if sum3 == sum1 || p3 == p1 {
		t.Errorf("a changed wheelhouse file kept its digest %s", sum3)
	}
	if b, err := os.ReadFile(p3); err != nil || string(b) != "wheel v2" {
		t.Errorf("stored %q, %v", b, err)
	}
}
