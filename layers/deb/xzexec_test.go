package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"github.com/assemble-build/assemble/layers/layerstest"
)

// withoutXZ runs fn with a PATH that holds no xz, so bulkDecompressor falls
// back to the pure-Go decoder.
func withoutXZ(t *testing.T, fn func()) {
	t.Helper()
	old := os.Getenv("PATH")
	t.Setenv("PATH", t.TempDir())
	defer os.Setenv("PATH", old)
	fn()
}

// unpackDigest unpacks a .deb and digests everything readDeb extracted:
// control, control files, conffile sums, and each data.tar entry with its
// content.
func unpackDigest(t *testing.T, deb []byte, name string) string {
	t.Helper()
	dc, err := readDeb(bytes.NewReader(deb), name, newStager(t.TempDir(), "t", newMemBudget(1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	return contentsDigest(t, dc)
}

// contentsDigest digests an unpacked .deb.
func contentsDigest(t *testing.T, dc *debContents) string {
	t.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "%v\n", dc.control)
	for _, f := range dc.ctlFiles {
		fmt.Fprintf(h, "%s %o %x\n", f.Name, f.Mode, sha256.Sum256(f.Data))
	}
	fmt.Fprintf(h, "%v %v\n", dc.conffiles, dc.conffileMD5)
	for _, e := range dc.entries {
		b, err := e.content()
		if err != nil {
			t.Fatal(err)
		}
		x := e.entry
		keys := make([]string, 0, len(x.Xattrs))
		for k, v := range x.Xattrs {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		fmt.Fprintf(h, "%s %s %d %o %d %d %d %q %q %x\n", e.orig, x.Path, x.Type, x.Mode, x.UID, x.GID, x.Size, x.Link, keys, sha256.Sum256(b))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestExternalXZMatchesPureGo unpacks python3's real .deb files (the ones
// TestDebianPython3 fetches, from the shared download cache) with xz(1) and
// with the pure-Go decoder: every file, mode and byte must be the same.
func TestExternalXZMatchesPureGo(t *testing.T) {
	testtool.RequireTool(t, "xz")
	c := New(layerstest.SharedCache(t))
	ix := mirrorIndex(t, c, "amd64")
	pkgs := resolveNames(t, ix, nil, []Request{{Name: "python3", Where: "test"}})
	if len(pkgs) < 10 {
		t.Fatalf("python3 resolved to only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		path, err := c.debPath(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		deb, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(deb, []byte("data.tar.xz")) {
			continue
		}
		name := p.ID() + ".deb"
		external := unpackDigest(t, deb, name)
		var pure string
		withoutXZ(t, func() { pure = unpackDigest(t, deb, name) })
		if external != pure {
			t.Errorf("%s: xz(1) unpacks to %s, the pure-Go decoder to %s", name, external, pure)
		}
	}
}

// TestBulkDecompressorFallback: with xz on PATH the system's xz decodes,
// without it the pure-Go decoder does, to the same bytes.
func TestBulkDecompressorFallback(t *testing.T) {
	testtool.RequireTool(t, "xz")
	deb := buildDeb(t, testDeb{name: "big", version: "1", files: []testFile{{path: "./usr/share/big", body: randomText(200000)}}})
	member := xzMember(t, deb)
	decode := func() (io.ReadCloser, []byte) {
		r, err := bulkDecompressor("data.tar.xz", bytes.NewReader(member))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return r, b
	}
	r, external := decode()
	if _, ok := r.(*xzProcess); !ok {
		t.Errorf("xz is on PATH, but data.tar.xz was decoded by %T", r)
	}
	var pure []byte
	withoutXZ(t, func() {
		r, pure = decode()
		if _, ok := r.(*xzProcess); ok {
			t.Error("xz is not on PATH, but bulkDecompressor ran it")
		}
	})
	if !bytes.Equal(external, pure) || len(pure) < 200000 {
		t.Errorf("xz(1) gave %d bytes, the pure-Go decoder %d, not the same", len(external), len(pure))
	}
	if a, b := unpackDigest(t, deb, "big.deb"), func() (d string) { withoutXZ(t, func() { d = unpackDigest(t, deb, "big.deb") }); return }(); a != b {
		t.Errorf("big.deb unpacks to %s with xz(1), %s without", a, b)
	}
}

// TestExternalXZErrors: xz's complaint is reported with the .deb and its
// member; a .deb cut short is reported as truncated, as without xz.
func TestExternalXZErrors(t *testing.T) {
	testtool.RequireTool(t, "xz")
	deb := buildDeb(t, testDeb{name: "big", version: "1", files: []testFile{{path: "./usr/share/big", body: randomText(200000)}}})
	at := bytes.Index(deb, []byte("\xfd7zXZ\x00"))
	if at < 0 {
		t.Fatal("no xz stream in the test .deb")
	}
	bad := bytes.Clone(deb)
	bad[at+7] ^= 0xff // the stream flags: xz refuses the header
	_, err := readDeb(bytes.NewReader(bad), "big_1_amd64.deb", newStager(t.TempDir(), "t", newMemBudget(1<<20)))
	if err == nil || !strings.Contains(err.Error(), "big_1_amd64.deb: data.tar.xz: xz -dc: ") {
		t.Errorf("corrupt data.tar.xz: %v", err)
	}
	_, err = readDeb(bytes.NewReader(deb[:len(deb)-5000]), "big_1_amd64.deb", newStager(t.TempDir(), "t", newMemBudget(1<<20)))
	if err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), "big_1_amd64.deb") {
		t.Errorf("truncated data.tar.xz: %v", err)
	}
}

// xzMember returns the data.tar.xz member of a .deb built by buildDeb.
func xzMember(t *testing.T, deb []byte) []byte {
	t.Helper()
	ar, err := newArReader(bytes.NewReader(deb))
	if err != nil {
		t.Fatal(err)
	}
	for {
		name, _, err := ar.next()
		if err != nil {
			t.Fatalf("no data.tar.xz: %v", err)
		}
		if name == "data.tar.xz" {
			b, err := io.ReadAll(ar)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// randomText is n bytes of words that compress, but not to nothing.
func randomText(n int) string {
	rng := rand.New(rand.NewSource(1))
	words := []string{"alpha ", "beta ", "gamma ", "delta\n", "epsilon ", "zeta "}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[rng.Intn(len(words))])
	}
	return b.String()[:n]
}

// TestXZCloseDoesNotWaitForExit: Close frees the source reader and returns
// without waiting for xz to be reaped. The stand-in for xz leaves a child
// that holds xz's output pipes open for a minute, then (unless killed) leaves a mark:
// waiting for xz's exit would mean waiting for it.
func TestXZCloseDoesNotWaitForExit(t *testing.T) {
	testtool.RequireTool(t, "sh")
	dir := t.TempDir()
	fake := filepath.Join(dir, "xz")
	pidFile, ended := filepath.Join(dir, "sleep.pid"), filepath.Join(dir, "ended")
	script := fmt.Sprintf("#!/bin/sh\n(sh -c 'echo $$ > %s; exec sleep 60' && touch %s) &\nexec cat\n", pidFile, ended)
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := startXZ(fake, strings.NewReader(strings.Repeat("x", 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(p, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ended); err == nil {
		t.Error("Close returned only after the process holding xz's output had ended")
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}
