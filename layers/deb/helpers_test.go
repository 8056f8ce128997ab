package deb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// extractSpecs writes the layers' entries into dir, bottom first, the way an
// overlay file system stacks them (a test-only stand-in for the lead's tar
// writer plus a container runtime). Each spec is closed afterwards.
func extractSpecs(t *testing.T, specs []layers.Spec, dir string) {
	t.Helper()
	ctx := context.Background()
	for _, s := range specs {
		es, err := s.Entries(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.Describe(), err)
		}
		if err := extractEntries(es, dir); err != nil {
			t.Fatalf("%s: %v", s.Describe(), err)
		}
		if c, ok := s.(io.Closer); ok {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// extractViaTar writes each layer with the lead's deterministic tar writer
// (layers.WriteTar) and unpacks it with GNU tar, as a runtime would.
func extractViaTar(t *testing.T, specs []layers.Spec, dir string) {
	t.Helper()
	tarTool := testtool.RequireTool(t, "tar")
	ctx := context.Background()
	for i, s := range specs {
		es, err := s.Entries(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.Describe(), err)
		}
		p := filepath.Join(t.TempDir(), fmt.Sprintf("layer%d.tar", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := layers.WriteTar(f, es, time.Unix(0, 0)); err != nil {
			t.Fatalf("%s: WriteTar: %v", s.Describe(), err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(tarTool, "-xpf", p, "--numeric-owner", "-C", dir).CombinedOutput(); err != nil {
			t.Fatalf("tar -x %s: %v\n%s", s.Describe(), err, out)
		}
		if c, ok := s.(io.Closer); ok {
			c.Close()
		}
	}
}

func extractEntries(es []layers.Entry, dir string) error {
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	for _, e := range es {
		p, err := layers.CleanPath(e.Path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		// Refuse to write through a symlink left by an earlier entry.
		if real, err := filepath.EvalSymlinks(filepath.Dir(dst)); err != nil || !strings.HasPrefix(real+"/", dir+"/") {
			return fmt.Errorf("%s: parent escapes the root (%s, %v)", e.Path, real, err)
		}
		if fi, err := os.Lstat(dst); err == nil && !(fi.IsDir() && e.Type == layers.TypeDir) {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		mode := e.Mode & fs.ModePerm
		switch e.Type {
		case layers.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case layers.TypeFile:
			f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			if e.Open != nil {
				r, err := e.Open()
				if err != nil {
					f.Close()
					return err
				}
				n, err := io.Copy(f, r)
				r.Close()
				if err != nil {
					f.Close()
					return err
				}
				if n != e.Size {
					f.Close()
					return fmt.Errorf("%s: got %d bytes, entry says %d", e.Path, n, e.Size)
				}
			}
			if err := f.Close(); err != nil {
				return err
			}
		case layers.TypeSymlink:
			if err := os.Symlink(e.Link, dst); err != nil {
				return err
			}
			continue
		case layers.TypeHardlink:
			if err := os.Link(filepath.Join(dir, e.Link), dst); err != nil {
				return err
			}
			continue
		default:
			return errors.New("unexpected entry type " + e.Type.String())
		}
		if err := os.Lchown(dst, e.UID, e.GID); err != nil && os.Geteuid() == 0 {
			return err
		}
		m := mode
		if e.Mode&fs.ModeSetuid != 0 {
			m |= fs.ModeSetuid
		}
		if e.Mode&fs.ModeSetgid != 0 {
			m |= fs.ModeSetgid
		}
		if e.Mode&fs.ModeSticky != 0 {
			m |= fs.ModeSticky
		}
		if err := os.Chmod(dst, m); err != nil {
			return err
		}
	}
	return nil
}
