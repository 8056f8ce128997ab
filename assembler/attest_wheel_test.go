package assembler

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/assemble-build/assemble/layers/wheel"
)

// A wheel's license is taken from the METADATA the cache read from the
// wheel itself (the file the install copies into the image) without
// decompressing the image; a wheel whose METADATA the cache never read (one
// resolved through an index's PEP 658 metadata, whose layer came from the
// cache) is still read from the image by the probe.
func TestWheelLicensesFromKnownMetadata(t *testing.T) {
	e := probeEnv(t)
	house := t.TempDir()
	meta := "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nLicense: MIT\n"
	if err := os.WriteFile(filepath.Join(house, "foo-1.0-py3-none-any.whl"), wheelZip(t, "foo-1.0.dist-info", meta), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs, err := wheel.ParseRequirementsReader("requirements.txt", strings.NewReader("foo\n"))
	if err != nil {
		t.Fatal(err)
	}
	target := &wheel.Target{Python: "3.11", PythonFull: "3.11.2", Implementation: "cp", Interpreter: "/usr/bin/python3",
		Purelib: "/usr/local/lib/python3.11/dist-packages", Platlib: "/usr/local/lib/python3.11/dist-packages",
		Scripts: "/usr/local/bin", Data: "/usr/local", Headers: "/usr/include/python3.11", Glibc: "2.36", Arch: "x86_64",
		Installed: map[string]wheel.InstalledDist{}}
	set, err := wheel.NewResolver(e.o.cache, wheel.WithNoIndex(), wheel.WithFindLinks(house)).Resolve(context.Background(), reqs, target)
	if err != nil || len(set) != 1 {
		t.Fatalf("resolve: %v %+v", err, set)
	}
	// The image says otherwise of foo, to tell where an answer came from.
	site := "usr/local/lib/python3.11/dist-packages/"
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarOf(t, map[string]string{
			site + "foo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nLicense: Apache-2.0\n",
			site + "bar-2.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: bar\nVersion: 2.0\nLicense: BSD-3-Clause\n",
		}))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	sites := []string{"/" + strings.TrimSuffix(site, "/")}
	got, err := e.wheelLicenses(img, set, sites)
	if err != nil || len(got) != 1 || got["foo"] != "MIT" {
		t.Errorf("licenses %v, %v; want foo MIT, from the wheel", got, err)
	}
	if wheelLicensesProbed(t, e) {
		t.Error("the image was probed for a wheel whose METADATA the cache holds")
	}
	bar := wheel.Resolved{Name: "bar", Version: "2.0", Filename: "bar-2.0-py3-none-any.whl", SHA256: strings.Repeat("a", 64)}
	got, err = e.wheelLicenses(img, append(set, bar), sites)
	if err != nil || len(got) != 2 || got["foo"] != "MIT" || got["bar"] != "BSD-3-Clause" {
		t.Errorf("licenses %v, %v; want foo MIT and bar BSD-3-Clause (from the image)", got, err)
	}
	if !wheelLicensesProbed(t, e) {
		t.Error("bar's license was not probed")
	}
}

func wheelLicensesProbed(t *testing.T, e *env) bool {
	t.Helper()
	ents, err := os.ReadDir(e.o.cache.Namespace("probes").Dir())
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, en := range ents {
		if strings.Contains(en.Name(), "-"+wheelLicenseProbe+"-") {
			return true
		}
	}
	return false
}

// wheelZip is a wheel holding only its .dist-info (METADATA as given).
func wheelZip(t *testing.T, distInfo, metadata string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		distInfo + "/METADATA": metadata,
		distInfo + "/WHEEL":    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		distInfo + "/RECORD":   "",
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
