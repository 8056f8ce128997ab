package deb

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/layerstest"
)

// warmPython3 is one warm rebuild of python3 on the Essential set, as a new
// process would do it: a fresh cache handle and client, Index, Resolve and
// the layers' keys (no entries).
func warmPython3(b *testing.B, offline, miss bool) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		cache := layerstest.SharedCache(b)
		c := New(cache, WithOffline(offline))
		ix, err := c.Index(ctx, Source{Arch: "amd64"})
		if err != nil {
			b.Fatal(err)
		}
		reqs := ix.EssentialRequest()
		for _, n := range []string{"python3", "ca-certificates", "tzdata", "netbase"} {
			reqs = append(reqs, Request{Name: n, Where: "test"})
		}
		resolve := ix.Resolve
		if miss {
			resolve = func(reqs []Request, installed map[string]string) ([]*Package, error) {
				p, _, err := ix.resolve(reqs, installed)
				return p, err
			}
		}
		pkgs, err := resolve(reqs, nil)
		if err != nil {
			b.Fatal(err)
		}
		specs, err := c.Layers(ctx, pkgs)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range specs {
			if _, err := s.Key(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkWarmPython3Online(b *testing.B)  { warmPython3(b, false, false) }
func BenchmarkWarmPython3Offline(b *testing.B) { warmPython3(b, true, false) }

// BenchmarkMissPython3 is the same with the resolution not in the cache.
func BenchmarkMissPython3(b *testing.B) { warmPython3(b, true, true) }

// BenchmarkColdParse is Index plus parsing bookworm's Packages index (what
// a resolution missing the cache pays), from a fresh cache handle.
func BenchmarkColdParse(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		cache := layerstest.SharedCache(b)
		ix, err := New(cache, WithOffline(true)).Index(ctx, Source{Arch: "amd64"})
		if err != nil {
			b.Fatal(err)
		}
		if ix.Len() < 50000 {
			b.Fatalf("index has %d packages", ix.Len())
		}
	}
}

// BenchmarkColdPython3Layers writes the python3 image's deb layers (Entries
// and the tar stream, to io.Discard) from a warm download cache: the .deb
// files are local, nothing is unpacked yet. It reports the CPU time the
// process spent per build and its peak RSS (run it alone, -benchtime=1x or
// a few iterations, for a meaningful maxrss).
func BenchmarkColdPython3Layers(b *testing.B) {
	ctx := context.Background()
	cache := layerstest.SharedCache(b)
	c := New(cache, WithOffline(true))
	ix, err := c.Index(ctx, Source{Arch: "amd64"})
	if err != nil {
		b.Fatal(err)
	}
	reqs := ix.EssentialRequest()
	for _, n := range []string{"python3", "ca-certificates", "tzdata", "netbase"} {
		reqs = append(reqs, Request{Name: n, Where: "test"})
	}
	pkgs, err := ix.Resolve(reqs, nil)
	if err != nil {
		b.Fatal(err)
	}
	var before syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		specs, err := c.Layers(ctx, pkgs)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range specs {
			es, err := s.Entries(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := layers.WriteTar(io.Discard, es, time.Unix(0, 0)); err != nil {
				b.Fatal(err)
			}
			if err := s.(io.Closer).Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	var after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(cpu.Seconds(), "cpu-s/op")
	b.ReportMetric(float64(after.Maxrss)/1024, "maxrss-MB")
}
