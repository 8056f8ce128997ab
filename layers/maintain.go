package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NamespaceUsage is what one namespace of the cache holds.
type NamespaceUsage struct {
	Name    string
	Entries int
	Bytes   int64
}

// Usage is what the cache holds, namespace by namespace (Cache.Namespaces' order).
type Usage struct {
	Namespaces []NamespaceUsage
}

// Of returns the usage of the namespace called name (zero when there is none).
func (u Usage) Of(name string) NamespaceUsage {
	for _, n := range u.Namespaces {
		if n.Name == name {
			return n
		}
	}
	return NamespaceUsage{Name: name}
}

// Bytes is the size of every entry of every namespace.
func (u Usage) Bytes() int64 {
	var b int64
	for _, n := range u.Namespaces {
		b += n.Bytes
	}
	return b
}

// Usage walks every namespace of the cache and sums what it holds.
func (c *Cache) Usage() (Usage, error) {
	nss, err := c.Namespaces()
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, n := range nss {
		if n == c.locks {
			continue // bookkeeping: empty files
		}
		nu := NamespaceUsage{Name: n.name}
		err := walkFiles(n.dir, func(_ string, fi fs.FileInfo) error {
			nu.Entries++
			nu.Bytes += fi.Size()
			return nil
		})
		if err != nil {
			return u, err
		}
		u.Namespaces = append(u.Namespaces, nu)
	}
	return u, nil
}

// Problem is one bad cache entry found by Verify.
type Problem struct {
	Path   string
	Reason string
}

// Verify reads every entry of every namespace that has an entry check (blobs
// and downloads against their digests, keys against their blobs), and
// reports temporary files no live process holds (see CleanTemp). With fix,
// bad entries and those temporary files are removed (they are misses anyway).
func (c *Cache) Verify(fix bool) ([]Problem, error) {
	nss, err := c.Namespaces()
	if err != nil {
		return nil, err
	}
	var problems []Problem
	err = c.orphanTemps(func(p string, _ int64) error {
		if c.isLock(p) {
			return removeIf(fix, p) // bookkeeping, not worth a line
		}
		problems = append(problems, Problem{Path: p, Reason: "temporary file of a process that ended"})
		return removeIf(fix, p)
	})
	if err != nil {
		return problems, err
	}
	for _, n := range nss {
		if n.check == nil {
			continue
		}
		err := walkFiles(n.dir, func(p string, fi fs.FileInfo) error {
			if strings.HasPrefix(fi.Name(), ".") {
				return nil // being written by another process
			}
			why := n.verifyEntry(p)
			if why == "" {
				return nil
			}
			problems = append(problems, Problem{Path: p, Reason: why})
			if fix {
				return removeEntry(p)
			}
			return nil
		})
		if err != nil {
			return problems, err
		}
	}
	return problems, nil
}

// verifyEntry returns why the entry at p is bad, "" when it is intact.
func (n *Namespace) verifyEntry(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if err := n.check(filepath.Base(p), f); err != nil {
		return err.Error()
	}
	return ""
}

// checkContentAddressed checks that an entry's content has the digest its
// key names (blobs/sha256/<hex>, downloads/sha256/<hex>).
func checkContentAddressed(key string, r io.Reader) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != key {
		return fmt.Errorf("content is sha256:%s", got)
	}
	return nil
}

// checkLayerKey checks that a layer key names a blob of the right size.
func (c *Cache) checkLayerKey(_ string, r io.Reader) error {
	var d Descriptor
	b, err := io.ReadAll(r)
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil {
		return fmt.Errorf("unreadable key: %w", err)
	}
	bfi, err := os.Stat(c.BlobPath(d.Digest))
	if err != nil {
		return fmt.Errorf("its blob %s is missing", d.Digest)
	}
	if bfi.Size() != d.Size {
		return fmt.Errorf("its blob %s has %d bytes, expected %d", d.Digest, bfi.Size(), d.Size)
	}
	return nil
}

// danglingKey reports a layer key that is unreadable or whose blob is gone.
func (c *Cache) danglingKey(path string) bool {
	var d Descriptor
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err == nil {
		_, err = os.Stat(c.BlobPath(d.Digest))
	}
	return err != nil
}

// PruneResult says what Prune removed.
type PruneResult struct {
	Removed int
	Bytes   int64
}

// Prune removes the temporary files no live process holds (CleanTemp),
// then, in every other namespace, entries not used for keepDays days
// (their mtime is refreshed on every use), then entries that refer to what
// was removed (keys whose blobs are gone). keepDays 0 empties the cache
// but for the temporary files of builds still running.
// Namespaces other than blobs, keys and downloads hold small derived results
// (package resolutions, probes of images, listings) that are recomputed
// when missing.
func (c *Cache) Prune(keepDays int) (PruneResult, error) {
	nss, err := c.Namespaces()
	if err != nil {
		return PruneResult{}, err
	}
	r, err := c.CleanTemp()
	if err != nil {
		return r, err
	}
	cutoff := time.Now().Add(-time.Duration(keepDays) * 24 * time.Hour)
	for _, n := range nss {
		if n == c.tmp || n == c.locks {
			continue
		}
		err := walkFiles(n.dir, func(p string, fi fs.FileInfo) error {
			if keepDays > 0 && fi.ModTime().After(cutoff) {
				return nil
			}
			if err := removeEntry(p); err != nil {
				return err
			}
			r.Removed++
			r.Bytes += fi.Size()
			return nil
		})
		if err != nil {
			return r, err
		}
	}
	for _, n := range nss {
		if n.dangling == nil {
			continue
		}
		err := walkFiles(n.dir, func(p string, fi fs.FileInfo) error {
			if !n.dangling(p) {
				return nil
			}
			r.Removed++
			return removeEntry(p)
		})
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// removeIf removes the file or folder p when fix is set.
func removeIf(fix bool, p string) error {
	if !fix {
		return nil
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}

// removeEntry removes a cache file; one another process removed first is gone all the same.
func removeEntry(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
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
