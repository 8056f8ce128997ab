package dockerfile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/ulikunitz/xz"

	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/layers"
)

// spool is a private temporary directory for unpacked and downloaded
// files, removed when the build ends.
func (b *builder) spool() (string, error) {
	if b.spoolDir != "" {
		return b.spoolDir, nil
	}
	dir, err := os.MkdirTemp("", "assemble-dockerfile-")
	if err != nil {
		return "", fmt.Errorf("making a temporary directory: %w", err)
	}
	b.spoolDir = dir
	b.cleanups = append(b.cleanups, func() { os.RemoveAll(dir) })
	return dir, nil
}

func (b *builder) spoolFile() (*os.File, error) {
	dir, err := b.spool()
	if err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, "f-")
}

// decompress recognises gzip, bzip2, xz and zstd by their magic numbers,
// as Docker does for ADD; anything else is read as it is.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return xr, func() {}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// tryUnpack unpacks a local archive into dest, as ADD does; it returns
// false when the file is not a tar archive (it is then copied as a file).
// Entries with absolute names or "..", hard links that leave the archive
// and entries below a symbolic link the archive itself made are refused:
// they are how an archive writes outside the place it is unpacked to.
func (c *copier) tryUnpack(name string, open func() (io.ReadCloser, error), dest string) (bool, error) {
	rc, err := open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	r, done, err := decompress(rc)
	if err != nil {
		return false, nil // not a readable compressed stream: a plain file
	}
	defer done()
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return false, nil
	}
	if c.s.b.dry() {
		return true, nil
	}
	// dest is a directory (made when missing).
	n, resolved, err := c.t.lookup(dest, true)
	if err != nil {
		return true, err
	}
	switch {
	case n != nil && !n.IsDir():
		return true, fmt.Errorf("cannot unpack %s onto the file /%s", name, resolved)
	case n == nil:
		var existing []layers.Entry
		var missing []string
		resolved, existing, missing, err = c.t.place(dest)
		if err != nil {
			return true, err
		}
		// BuildKit's unpack makes dest with MkdirAll(0755, --chown).
		uid, gid := c.newDirOwner()
		if err := c.parentsAs(existing, append(missing, resolved), 0o755, uid, gid); err != nil {
			return true, err
		}
	}
	links := map[string]bool{}
	placed := map[string]string{}
	for ; err == nil; hdr, err = tr.Next() {
		if err := c.s.b.ctx.Err(); err != nil {
			return true, err
		}
		if err := c.unpackEntry(name, tr, hdr, resolved, links, placed); err != nil {
			return true, err
		}
	}
	if err != io.EOF {
		return true, fmt.Errorf("reading archive %s: %w", name, err)
	}
	return true, nil
}

func (c *copier) unpackEntry(archive string, tr *tar.Reader, hdr *tar.Header, dest string, links map[string]bool, placed map[string]string) error {
	bad := func(why string) error { return fmt.Errorf("archive %s: entry %q %s", archive, hdr.Name, why) }
	if strings.HasPrefix(hdr.Name, "/") {
		return bad("has an absolute path")
	}
	for _, part := range strings.Split(hdr.Name, "/") {
		if part == ".." {
			return bad("leaves the archive (..)")
		}
	}
	name, err := layers.CleanPath(hdr.Name)
	if err != nil {
		return bad(err.Error())
	}
	if name == "" {
		return nil // the archive's root: dest itself
	}
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if links[d] {
			return bad(fmt.Sprintf("is below %s, a symbolic link the archive made: unpacking it would write where the link points", d))
		}
	}
	uid, gid := hdr.Uid, hdr.Gid
	if c.owner != nil {
		uid, gid = c.owner.uid, c.owner.gid
	}
	e := layers.Entry{Mode: layers.ModeFromUnix(hdr.Mode), UID: uid, GID: gid}
	switch hdr.Typeflag {
	case tar.TypeDir:
		e.Type = layers.TypeDir
	case tar.TypeReg:
		f, err := c.s.b.spoolFile()
		if err != nil {
			return err
		}
		n, err := io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("archive %s: reading %s: %w", archive, hdr.Name, err)
		}
		p := f.Name()
		e.Type, e.Size = layers.TypeFile, n
		e.Open = func() (io.ReadCloser, error) { return os.Open(p) }
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return bad("is a symbolic link with no target")
		}
		e.Type, e.Link, e.Mode = layers.TypeSymlink, hdr.Linkname, 0o777
		links[name] = true
	case tar.TypeLink:
		target, err := layers.CleanPath(hdr.Linkname)
		if err != nil || strings.HasPrefix(hdr.Linkname, "/") {
			return bad("is a hard link that leaves the archive")
		}
		to, ok := placed[target]
		if !ok {
			return bad(fmt.Sprintf("is a hard link to %s, which the archive does not hold before it", hdr.Linkname))
		}
		e.Type, e.Link = layers.TypeHardlink, to
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil
	default:
		logctx.From(c.s.b.ctx).Debug("ADD: skipping a device or pipe in an archive", "archive", archive, "entry", hdr.Name)
		return nil
	}
	target := path.Join(dest, name)
	resolved, existing, missing, err := c.t.place(target)
	if err != nil {
		return fmt.Errorf("archive %s: %s: %w", archive, hdr.Name, err)
	}
	if old, _, _ := c.t.lookup(resolved, false); old != nil && old.IsDir() && e.Type != layers.TypeDir {
		return fmt.Errorf("archive %s: %s would replace the directory /%s", archive, hdr.Name, resolved)
	}
	// Directories the archive implies but does not hold are root's, 0755,
	// --chown or not: BuildKit's unpacker (go-archive) makes them so, and
	// gives --chown's owner only to the archive's own entries.
	if err := c.parentsAs(existing, missing, 0o755, 0, 0); err != nil {
		return err
	}
	e.Path = resolved
	if e.Type == layers.TypeDir {
		// An archive's directory sets the owner and mode even where one exists.
		if i, ok := c.byPath[resolved]; ok {
			c.entries[i] = e
			return c.t.apply([]layers.Entry{e})
		}
	}
	placed[name] = resolved
	return c.add(e, "")
}

// placeURL downloads an ADD source; with --checksum its digest is checked.
func (c *copier) placeURL(raw, dest string, destIsDir bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL: %w", err)
	}
	base := "__unnamed__"
	if b := path.Base(u.Path); b != "." && b != "/" && b != "" {
		base = b
	}
	if c.s.b.dry() {
		return nil
	}
	f, err := c.s.b.spoolFile()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(c.s.b.ctx, http.MethodGet, raw, nil)
	if err != nil {
		f.Close()
		return err
	}
	resp, err := c.s.b.o.httpClient.Do(req)
	if err != nil {
		f.Close()
		return fmt.Errorf("downloading: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.Close()
		return fmt.Errorf("downloading: %s", resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want := c.req.checksum; want != "" {
		algo, _, ok := strings.Cut(want, ":")
		if !ok || algo != "sha256" {
			return fmt.Errorf("--checksum=%s: give sha256:<hex>", want)
		}
		if !strings.EqualFold(want, got) {
			return fmt.Errorf("checksum mismatch: the download is %s, --checksum says %s", got, want)
		}
	}
	p := f.Name()
	open := func() (io.ReadCloser, error) { return os.Open(p) }
	if c.req.unpackSet && c.req.unpack {
		ok, err := c.tryUnpack(raw, open, dest)
		if err != nil || ok {
			return err
		}
	}
	target := c.fileTarget(dest, destIsDir, base)
	uid, gid := c.newDirOwner()
	// As Docker: a downloaded file is 0600 unless --chmod says otherwise.
	e := layers.Entry{Type: layers.TypeFile, Mode: c.mode.apply(0o600, false), UID: uid, GID: gid, Size: n, Open: open}
	return c.putFile(target, e, "")
}

// readIgnore parses an ignore file's patterns.
func readIgnore(data []byte) ([]string, error) {
	return ignorefile.ReadAll(bytes.NewReader(data))
}
