package deb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// localListFormat versions the listing of a local directory kept in the
// download store.
const localListFormat = "assemble-deb-local-v1"

// localListing is what a build read of a local directory of .deb files:
// enough to resolve against it again without it (names, digests, sizes
// and control paragraphs), offline, on a machine that never had it.
type localListing struct {
	Format string     `json:"format"`
	Debs   []localDeb `json:"debs"`
}

// localDeb is one .deb of a local directory.
type localDeb struct {
	File    string  `json:"file"` // relative to the directory, with slashes
	SHA256  string  `json:"sha256"`
	Size    int64   `json:"size"`
	Control []field `json:"control"`
}

// localListRef names a directory's listing in the download store.
func localListRef(dir string) string { return "deb-local-dir:" + dir }

// localDebs lists the .deb files of dir (recursively, in name order). When
// the cache records inputs for a bundle, the listing goes to the download
// store under the directory's name; offline, a directory that is not there
// is read from that listing, and its packages' .deb files from the store
// (debPath), each checked against its digest.
func (c *Client) localDebs(ctx context.Context, dir string) ([]localDeb, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && c.offline {
		return c.storedListing(dir)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".deb") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading local package directory %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("local package directory %s has no .deb files", dir)
	}
	sort.Strings(files)
	var out []localDeb
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ctl, sum, size, err := readDebControl(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		out = append(out, localDeb{File: filepath.ToSlash(rel), SHA256: sum, Size: size, Control: ctl.Fields})
	}
	if c.cache.LoggingInputs() {
		if err := c.storeListing(ctx, dir, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Client) storeListing(ctx context.Context, dir string, debs []localDeb) error {
	b, err := json.Marshal(localListing{Format: localListFormat, Debs: debs})
	if err != nil {
		return err
	}
	_, d, err := c.cache.Download(ctx, "", func(_ context.Context, w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording local package directory %s: %w", dir, err)
	}
	return c.cache.SetRef(localListRef(dir), d)
}

func (c *Client) storedListing(dir string) ([]localDeb, error) {
	d, ok := c.cache.Ref(localListRef(dir))
	if !ok {
		return nil, &missingError{what: "local package directory " + dir + " (not here, and no bundle carried it)"}
	}
	b, err := os.ReadFile(c.downloadPathOf(d))
	if err != nil {
		return nil, fmt.Errorf("local package directory %s, as recorded: %w", dir, err)
	}
	var l localListing
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&l); err != nil || l.Format != localListFormat {
		return nil, fmt.Errorf("local package directory %s, as recorded (%s): not a listing of format %s (%v)", dir, d, localListFormat, err)
	}
	return l.Debs, nil
}

// localDebPath is the .deb of a package from a local directory: the file
// itself; a verified copy in the download store when the cache records
// inputs for a bundle; offline, when the directory is not there, the copy a
// bundle carried.
func (c *Client) localDebPath(ctx context.Context, p *Package, lp string) (string, error) {
	_, statErr := os.Stat(lp)
	if !c.cache.LoggingInputs() && (statErr == nil || !c.offline) {
		return lp, nil
	}
	var fetch func(context.Context, io.Writer) error
	if statErr == nil {
		fetch = func(_ context.Context, w io.Writer) error {
			f, err := os.Open(lp)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		}
	}
	path, _, err := c.cache.Download(ctx, "sha256:"+p.SHA256, fetch)
	if errors.Is(err, layers.ErrNotCached) {
		return "", &missingError{what: fmt.Sprintf("%s from %s", p.ID(), lp), digest: "sha256:" + p.SHA256}
	}
	if err != nil {
		return "", fmt.Errorf("package %s: %s: %w", p, lp, err)
	}
	return path, nil
}
