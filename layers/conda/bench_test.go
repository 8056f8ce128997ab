//go:build unix

package conda_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assemble-build/assemble/layers"
	"github.com/assemble-build/assemble/layers/conda"
	"github.com/assemble-build/assemble/layers/conda/condatest"
	"github.com/assemble-build/assemble/layers/wheel"
)

// benchPackages is how many packages each environment of the benchmark has.
const benchPackages = 30

// benchFiles are one package's files, below its site-packages: 40 modules
// of 4 KiB of source-like text and a 128 KiB blob, partly compressible
// like a shared library. Each package has its own bytes.
func benchFiles(i int) map[string]string {
	rng := rand.New(rand.NewSource(int64(i)))
	words := []string{"def ", "return ", "self", "import ", "value", "(", ")", ":\n    ", " = ", "None", "for ", " in ", "if ", "\n"}
	out := map[string]string{}
	for f := range 40 {
		var b strings.Builder
		for b.Len() < 4096 {
			b.WriteString(words[rng.Intn(len(words))])
		}
		out[fmt.Sprintf("pkg%02d/mod%02d.py", i, f)] = b.String()
	}
	blob := make([]byte, 128<<10)
	for j := range blob {
		if j%4 == 0 {
			blob[j] = byte(rng.Intn(256))
		}
	}
	out[fmt.Sprintf("pkg%02d/_native.so", i)] = string(blob)
	return out
}

// benchConda is a channel of noarch: python packages with benchFiles, and
// the solution installing them (over a python in a layer below).
func benchConda(b *testing.B, tarBz2 bool) (conda.Solution, conda.Solution) {
	b.Helper()
	ch := condatest.NewChannel(b, b.TempDir())
	py := ch.Add(b, condatest.Package{Name: "python", Version: "3.11.2", Files: map[string]condatest.File{"bin/python3.11": {Data: "#!/bin/sh\n", Mode: 0o755}}})
	var pkgs []condatest.Package
	var names []string
	for i := range benchPackages {
		files := map[string]condatest.File{}
		for p, data := range benchFiles(i) {
			files["site-packages/"+p] = condatest.File{Data: data}
		}
		name := fmt.Sprintf("bench%02d", i)
		names = append(names, name)
		pkgs = append(pkgs, condatest.Package{Name: name, Version: "1.0", Build: "pyh_0", Noarch: "python", TarBz2: tarBz2, Files: files})
	}
	recs := ch.AddAll(b, pkgs...)
	return condatest.Solution(names, recs...), condatest.Solution([]string{"python=3.11"}, py)
}

// benchWheels writes the same files as wheels in a wheelhouse and returns
// them as a resolved set (the resolver is not what is measured).
func benchWheels(b *testing.B) []wheel.Resolved {
	b.Helper()
	dir := b.TempDir()
	var set []wheel.Resolved
	for i := range benchPackages {
		name := fmt.Sprintf("bench%02d", i)
		fn := name + "-1.0-py3-none-any.whl"
		data := wheelFile(b, name, benchFiles(i))
		p := filepath.Join(dir, fn)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(data)
		set = append(set, wheel.Resolved{Name: name, Version: "1.0", Filename: fn, Requested: true,
			URL: (&url.URL{Scheme: "file", Path: p}).String(), SHA256: hex.EncodeToString(sum[:])})
	}
	return set
}

func wheelFile(b *testing.B, name string, files map[string]string) []byte {
	di := name + "-1.0.dist-info/"
	files[di+"METADATA"] = "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n"
	files[di+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for p, data := range files {
		w, err := zw.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(w, data)
		sum := sha256.Sum256([]byte(data))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", p, base64.RawURLEncoding.EncodeToString(sum[:]), len(data))
	}
	record.WriteString(di + "RECORD,,\n")
	w, _ := zw.Create(di + "RECORD")
	io.WriteString(w, record.String())
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func wheelTarget() *wheel.Target {
	site := prefix + "/lib/python3.11/site-packages"
	return &wheel.Target{Python: "3.11", PythonFull: "3.11.2", Implementation: "cp", Interpreter: prefix + "/bin/python3.11",
		Purelib: site, Platlib: site, Scripts: prefix + "/bin", Data: prefix, Headers: prefix + "/include/python3.11",
		Glibc: "2.36", Arch: "x86_64", Installed: map[string]wheel.InstalledDist{}}
}

// BenchmarkInstall30 installs the same 30-package environment as conda
// packages (.conda and .tar.bz2) and as wheels: cold (an empty cache: the
// packages are fetched from the local channel or wheelhouse, checked,
// unpacked and the layer written), rebuilt (downloads in the store, the
// layer not: the installer and layer writer alone) and cached (the layer
// key is a hit).
//
//	go test -run '^$' -bench Install30 -benchtime 5x ./layers/conda/
func BenchmarkInstall30(b *testing.B) {
	for _, kind := range []string{"conda", "tar.bz2", "wheel"} {
		var spec func(c *layers.Cache) layers.Spec
		switch kind {
		case "wheel":
			set, t := benchWheels(b), wheelTarget()
			spec = func(c *layers.Cache) layers.Spec {
				return wheel.NewLayer(c, set, t, wheel.WithDownloader(wheel.NewResolver(c, wheel.WithNoIndex())))
			}
		default:
			sol, below := benchConda(b, kind == "tar.bz2")
			spec = func(c *layers.Cache) layers.Spec { return conda.NewLayer(c, sol, prefix, conda.WithBelow(below)) }
		}
		b.Run(kind+"/cold", func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				c := benchCache(b)
				b.StartTimer()
				cpu += cpuTime(func() { benchBuild(b, c, spec(c)) })
			}
			reportCPU(b, cpu)
		})
		b.Run(kind+"/rebuild", func(b *testing.B) {
			c := benchCache(b)
			benchBuild(b, c, spec(c))
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := os.RemoveAll(filepath.Join(c.Dir(), "keys")); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu += cpuTime(func() { benchBuild(b, c, spec(c)) })
			}
			reportCPU(b, cpu)
		})
		b.Run(kind+"/cached", func(b *testing.B) {
			c := benchCache(b)
			benchBuild(b, c, spec(c))
			for b.Loop() {
				if res := benchBuild(b, c, spec(c)); !res.Hit {
					b.Fatal("not a cache hit")
				}
			}
		})
	}
}

func benchCache(b *testing.B) *layers.Cache {
	b.Helper()
	dir, err := os.MkdirTemp(b.TempDir(), "cache")
	if err != nil {
		b.Fatal(err)
	}
	c, err := layers.OpenCache(dir)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchBuild(b *testing.B, c *layers.Cache, s layers.Spec) layers.Result {
	b.Helper()
	res, err := c.Build(context.Background(), s)
	if cl, ok := s.(io.Closer); ok {
		cl.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// cpuTime is the CPU time (user and system) the process spends in f: on a
// machine shared with other work it varies less than the wall time.
func cpuTime(f func()) time.Duration {
	before := rusage()
	f()
	return rusage() - before
}

func rusage() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
