package layers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/flock"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Temporary files and folders in the cache's tmp namespace belong to the
// process that made them. Each process that makes one first takes a lock
// file, locks/<owner>.lock, and holds a flock on it until it exits; its
// temporary items are named tmp/<owner>-<pattern>. A process killed mid-layer
// releases its flock with its death, so maintenance (and the next build)
// can tell its leftovers from the files of a build still running and remove
// them at once. Items without a recognisable owner (made by an older
// version, or a lock file not yet in place) are removed after TempMaxAge.

// TempMaxAge is how long a temporary item whose owner cannot be asked (no
// lock) is kept after its last change.
const TempMaxAge = time.Hour

// ownerName matches an owner's lock file (locks/) or one of its items (tmp/).
var ownerName = lazyregexp.New(`^([0-9a-f]{16})(\.lock|-.+)$`)

// tempOwner is this process's lock in the cache's tmp namespace.
type tempOwner struct {
	id   string
	lock *os.File // held (flock) while the process lives; never closed
}

// owner returns this process's owner id, taking its lock on first use.
func (c *Cache) owner() (string, error) {
	c.ownerMu.Lock()
	defer c.ownerMu.Unlock()
	if c.own != nil {
		return c.own.id, nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	// The lock is taken under a name maintenance does not read as an
	// owner's, then renamed: a lock file is never seen unlocked while
	// its process lives.
	f, err := os.CreateTemp(c.locks.dir, ".pending-*")
	if err != nil {
		return "", fmt.Errorf("creating lock file in cache %s: %w", c.dir, err)
	}
	if _, err := flock.TryLock(f); err != nil && !errors.Is(err, flock.ErrUnsupported) {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := os.Rename(f.Name(), filepath.Join(c.locks.dir, id+".lock")); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("creating lock file in cache %s: %w", c.dir, err)
	}
	c.own = &tempOwner{id: id, lock: f}
	return id, nil
}

// CleanTemp removes the temporary items of the tmp namespace that no live
// process holds: those of owners whose lock is free (their process ended)
// or gone, and ownerless ones older than TempMaxAge. Atomic writes' own
// temporary files beside entries (".NAME.tmp-*") go after TempMaxAge too.
func (c *Cache) CleanTemp() (PruneResult, error) {
	var r PruneResult
	err := c.orphanTemps(func(p string, bytes int64) error {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		if !c.isLock(p) {
			r.Removed++
			r.Bytes += bytes
		}
		return nil
	})
	return r, err
}

// orphanTemps calls found with every temporary item no live process holds
// (path and bytes). Owners' lock files are passed last, after their items.
func (c *Cache) orphanTemps(found func(path string, bytes int64) error) error {
	now := time.Now()
	state := map[string]ownerState{}
	var locks []string
	lockEnts, err := readDir(c.locks.dir)
	if err != nil {
		return err
	}
	for _, e := range lockEnts {
		m := ownerName.FindStringSubmatch(e.Name())
		switch {
		case m != nil && m[2] == ".lock":
			if state[m[1]] = c.ownerState(m[1]); state[m[1]] == ownerDead {
				locks = append(locks, e.Name())
			}
		case strings.HasPrefix(e.Name(), ".pending-"):
			// A lock being put in place, or left by a process killed then.
			if _, newest := treeSize(filepath.Join(c.locks.dir, e.Name())); now.Sub(newest) >= TempMaxAge {
				locks = append(locks, e.Name())
			}
		}
	}
	ents, err := readDir(c.tmp.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(c.tmp.dir, e.Name())
		m := ownerName.FindStringSubmatch(e.Name())
		st := ownerUnknown
		if m != nil {
			st = state[m[1]] // no lock file: ownerDead
		}
		bytes, newest := treeSize(p)
		if st == ownerAlive || st == ownerUnknown && now.Sub(newest) < TempMaxAge {
			continue
		}
		if err := found(p, bytes); err != nil {
			return err
		}
	}
	for _, l := range locks {
		if err := found(filepath.Join(c.locks.dir, l), 0); err != nil {
			return err
		}
	}
	return c.staleAtomicTemps(now, found)
}

type ownerState int

const (
	ownerDead ownerState = iota
	ownerAlive
	ownerUnknown // locks cannot be asked here: its items go by age
)

// ownerState asks the owner's lock whether its process still holds it.
func (c *Cache) ownerState(id string) ownerState {
	c.ownerMu.Lock()
	mine := c.own != nil && c.own.id == id
	c.ownerMu.Unlock()
	if mine {
		return ownerAlive
	}
	f, err := os.Open(filepath.Join(c.locks.dir, id+".lock"))
	if err != nil {
		return ownerDead // removed meanwhile: its process is gone
	}
	defer f.Close()
	got, err := flock.TryLock(f)
	switch {
	case err != nil:
		return ownerUnknown
	case got:
		return ownerDead
	}
	return ownerAlive
}

// isLock reports the lock files (held, or being put in place), which are
// bookkeeping rather than content.
func (c *Cache) isLock(p string) bool { return filepath.Dir(p) == c.locks.dir }

// readDir lists dir; a missing one is empty.
func readDir(dir string) ([]os.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	return ents, nil
}

// staleAtomicTemps finds the temporary files that atomic writes leave beside
// entries (".NAME.tmp-*") when killed, once they are older than TempMaxAge.
func (c *Cache) staleAtomicTemps(now time.Time, found func(string, int64) error) error {
	nss, err := c.Namespaces()
	if err != nil {
		return err
	}
	for _, n := range nss {
		if n == c.tmp || n == c.locks {
			continue
		}
		err := walkFiles(n.dir, func(p string, fi fs.FileInfo) error {
			if !strings.HasPrefix(fi.Name(), ".") || !strings.Contains(fi.Name(), ".tmp-") || now.Sub(fi.ModTime()) < TempMaxAge {
				return nil
			}
			return found(p, fi.Size())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// treeSize sums the bytes of the files under p and returns the newest
// modification time found (p's own included).
func treeSize(p string) (int64, time.Time) {
	var bytes int64
	var newest time.Time
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		if fi.Mode().IsRegular() {
			bytes += fi.Size()
		}
		return nil
	})
	return bytes, newest
}
