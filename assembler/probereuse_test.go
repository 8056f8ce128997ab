package assembler

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers"
)

// tarEntry is one entry of a test layer: a trailing "/" makes a directory,
// a link target a symbolic link, otherwise a file with data.
type tarEntry struct{ name, data, link string }

func testLayer(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		switch {
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	return testtool.TarLayer(t, tw, &buf)
}

func testImage(t *testing.T, ls ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// probeBase is a usr-merged root with a Python: the probe below reads
// through the links bin -> usr/bin and usr/bin/python3 -> python3.11.
func probeBase(t *testing.T) v1.Layer {
	return testLayer(t,
		tarEntry{name: "etc/"}, tarEntry{name: "etc/os-release", data: "ID=debian\n"},
		tarEntry{name: "usr/"}, tarEntry{name: "usr/bin/"}, tarEntry{name: "usr/lib/"},
		tarEntry{name: "bin", link: "usr/bin"},
		tarEntry{name: "usr/bin/python3", link: "python3.11"},
		tarEntry{name: "usr/bin/python3.11", data: "ELF"},
		tarEntry{name: "usr/lib/python3.11/"}, tarEntry{name: "usr/lib/python3.11/os.py", data: "os"},
		tarEntry{name: "app/"}, tarEntry{name: "app/old.py", data: "old"},
	)
}

// countingProbe reads like the env's probes and counts its runs.
func countingProbe(t *testing.T, e *env, img v1.Image, runs *int) string {
	t.Helper()
	var got string
	err := e.probe(img, "test", &got, func(fsys fs.FS) error {
		*runs++
		py, err := fs.ReadFile(fsys, "bin/python3")
		got = string(py) + "|" + errString(err)
		rel, err := fs.ReadFile(fsys, "etc/os-release")
		got += "|" + string(rel) + "|" + errString(err)
		_, err = fs.Stat(fsys, "usr/local/lib/python3.11")
		got += "|" + errString(err)
		ents, err := fs.ReadDir(fsys, "usr/lib/python3.11")
		got += "|" + errString(err)
		for _, d := range ents {
			got += "|" + d.Name()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func probeEnv(t *testing.T) *env {
	return newEnv(&plan.Plan{Root: t.TempDir()}, cacheOptions(t))
}

// cacheOptions are the assembler's options with a cache of the test's own,
// and opts.
func cacheOptions(t *testing.T, opts ...Option) *options {
	t.Helper()
	cache, err := layers.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o, err := makeOptions(append([]Option{WithCache(cache)}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A probe's result is carried over from the layers below when the layer on
// top touches nothing it read, and probed again when it does.
func TestProbeReusedFromLowerLayers(t *testing.T) {
	for _, c := range []struct {
		name   string
		top    []tarEntry
		reused bool
	}{
		{"unrelated files", []tarEntry{{name: "app/"}, {name: "app/piece.py", data: "x"}, {name: "app/.wh.old.py"}, {name: "usr/"}, {name: "usr/lib/"}}, true},
		{"a file in a listed directory", []tarEntry{{name: "usr/lib/python3.11/new.py", data: "n"}}, false},
		{"a file read rewritten", []tarEntry{{name: "etc/os-release", data: "ID=ubuntu\n"}}, false},
		{"a link's target rewritten", []tarEntry{{name: "usr/bin/python3.11", data: "ELF2"}}, false},
		{"a link retargeted", []tarEntry{{name: "usr/bin/python3", link: "python3.12"}}, false},
		{"a whiteout of a read file", []tarEntry{{name: "etc/.wh.os-release"}}, false},
		{"a whiteout of a listed directory's parent", []tarEntry{{name: "usr/.wh.lib"}}, false},
		{"an opaque listed directory", []tarEntry{{name: "usr/lib/python3.11/.wh..wh..opq"}}, false},
		{"a read directory's parent made a link", []tarEntry{{name: "usr/lib", link: "/opt/lib"}}, false},
		{"a missing path created", []tarEntry{{name: "usr/local/lib/python3.11/x.py", data: "x"}}, false},
		{"a write through a link", []tarEntry{{name: "bin/python3.11", data: "ELF2"}}, false},
		{"a link under a path made a link by the same layer", []tarEntry{{name: "opt", link: "usr"}, {name: "opt/lib/python3.11/x.py", data: "x"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := probeEnv(t)
			base := probeBase(t)
			runs := 0
			countingProbe(t, e, testImage(t, base), &runs)
			img := testImage(t, base, testLayer(t, c.top...))
			got := countingProbe(t, e, img, &runs)
			if want := map[bool]int{true: 1, false: 2}[c.reused]; runs != want {
				t.Fatalf("probe ran %d times, want %d", runs, want)
			}
			fresh := 0
			if want := countingProbe(t, probeEnv(t), img, &fresh); got != want {
				t.Fatalf("result %q, a fresh probe gives %q", got, want)
			}
			countingProbe(t, e, img, &runs)
			if want := map[bool]int{true: 1, false: 2}[c.reused]; runs != want {
				t.Fatalf("the second lookup probed again (%d runs)", runs)
			}
		})
	}
}

// Rebuilt with other files on top (a piece edited), the image finds the
// result its previous build left for the layers below the edited one.
func TestProbeReusedAcrossRebuilds(t *testing.T) {
	e := probeEnv(t)
	base := probeBase(t)
	runs := 0
	first := countingProbe(t, e, testImage(t, base, testLayer(t, tarEntry{name: "app/piece.py", data: "v1"})), &runs)
	for i, v := range []string{"v2", "v3"} {
		got := countingProbe(t, e, testImage(t, base, testLayer(t, tarEntry{name: "app/piece.py", data: v})), &runs)
		if runs != 1 || got != first {
			t.Fatalf("edit %d: %d runs, result %q (first %q)", i+1, runs, got, first)
		}
	}
}

// A rebuild records the same probe results again: they are compared, not
// written (each write is a synced temporary file and a rename); a changed
// result is written.
func TestProbeStoreSkipsUnchanged(t *testing.T) {
	e := probeEnv(t)
	img := testImage(t, probeBase(t))
	chain, err := chainID(img)
	if err != nil {
		t.Fatal(err)
	}
	p := e.o.cache.Namespace("probes").Path(chain + "-os-release.json")
	inode := func() uint64 {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	v := map[string]string{"ID": "debian"}
	if err := e.store(img, "os-release", v); err != nil {
		t.Fatal(err)
	}
	first := inode()
	if err := e.store(img, "os-release", v); err != nil {
		t.Fatal(err)
	}
	if inode() != first {
		t.Error("an unchanged probe result was written again")
	}
	if err := e.store(img, "os-release", map[string]string{"ID": "ubuntu"}); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := e.o.cache.Namespace("probes").Get(chain + "-os-release.json"); err != nil || !ok || !strings.Contains(string(b), "ubuntu") {
		t.Errorf("a changed probe result was not written: %s %v %v", b, ok, err)
	}
}
