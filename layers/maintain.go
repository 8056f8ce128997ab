package layers

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Usage is what the cache holds.
type Usage struct {
	Blobs, Keys, Downloads int
	BlobBytes              int64
	DownloadBytes          int64
}

// Usage walks the cache and sums what it holds.
func (c *Cache) Usage() (Usage, error) {
	var u Usage
	count := func(dir string, n *int, bytes *int64) error {
		return walkFiles(filepath.Join(c.dir, dir), func(_ string, fi fs.FileInfo) error {
			*n++
			if bytes != nil {
				*bytes += fi.Size()
			}
			return nil
		})
	}
	if err := count("blobs/sha256", &u.Blobs, &u.BlobBytes); err != nil {
		return u, err
	}
	if err := count("downloads/sha256", &u.Downloads, &u.DownloadBytes); err != nil {
		return u, err
	}
	if err := count("keys", &u.Keys, nil); err != nil {
		return u, err
	}
	return u, nil
}

// Problem is one bad cache entry found by Verify.
type Problem struct {
	Path   string
	Reason string
}

// Verify checks every blob and download against its name, and every key
// against its blob. With fix, bad entries are removed (they are misses anyway).
func (c *Cache) Verify(fix bool) ([]Problem, error) {
	var problems []Problem
	bad := func(p, why string) error {
		problems = append(problems, Problem{Path: p, Reason: why})
		if fix {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("removing %s: %w", p, err)
			}
		}
		return nil
	}
	for _, dir := range []string{"blobs/sha256", "downloads/sha256"} {
		err := walkFiles(filepath.Join(c.dir, dir), func(p string, fi fs.FileInfo) error {
			want := v1.Hash{Algorithm: "sha256", Hex: filepath.Base(p)}
			got, _, err := hashFile(p, "sha256")
			if err != nil {
				return bad(p, err.Error())
			}
			if got != want {
				return bad(p, fmt.Sprintf("content is %s", got))
			}
			return nil
		})
		if err != nil {
			return problems, err
		}
	}
	err := walkFiles(filepath.Join(c.dir, "keys"), func(p string, fi fs.FileInfo) error {
		var d Descriptor
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err != nil {
			return bad(p, "unreadable key: "+err.Error())
		}
		bfi, err := os.Stat(c.BlobPath(d.Digest))
		if err != nil {
			return bad(p, fmt.Sprintf("its blob %s is missing", d.Digest))
		}
		if bfi.Size() != d.Size {
			return bad(p, fmt.Sprintf("its blob %s has %d bytes, expected %d", d.Digest, bfi.Size(), d.Size))
		}
		return nil
	})
	return problems, err
}

// PruneResult says what Prune removed.
type PruneResult struct {
	Removed int
	Bytes   int64
}

// Prune removes entries not used for keepDays days (their mtime is refreshed
// on every use), then keys whose blobs are gone. keepDays 0 empties the cache.
func (c *Cache) Prune(keepDays int) (PruneResult, error) {
	var r PruneResult
	cutoff := time.Now().Add(-time.Duration(keepDays) * 24 * time.Hour)
	// deb-resolve and probes hold small derived results (package resolutions,
	// probes of images) that are recomputed when missing.
	for _, dir := range []string{"keys", "blobs/sha256", "downloads/sha256", "refs", "tmp", "deb-resolve", "probes", "verified", "listings"} {
		err := walkFiles(filepath.Join(c.dir, dir), func(p string, fi fs.FileInfo) error {
			if keepDays > 0 && fi.ModTime().After(cutoff) {
				return nil
			}
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("removing %s: %w", p, err)
			}
			r.Removed++
			r.Bytes += fi.Size()
			return nil
		})
		if err != nil {
			return r, err
		}
	}
	// Keys whose blob was pruned are dangling: drop them too.
	err := walkFiles(filepath.Join(c.dir, "keys"), func(p string, fi fs.FileInfo) error {
		var d Descriptor
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err == nil {
			if _, err = os.Stat(c.BlobPath(d.Digest)); err == nil {
				return nil
			}
		}
		r.Removed++
		return os.Remove(p)
	})
	return r, err
}

func walkFiles(dir string, f func(string, fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed by another process meanwhile
			}
			return err
		}
		return f(p, fi)
	})
}
