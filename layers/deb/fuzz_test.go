package deb

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/testtool"
	"pault.ag/go/debian/version"
)

// Fuzz targets for the parsers of user and archive input: control files
// (Packages indexes, dpkg status), relation fields, Debian versions and
// apt.txt. hack/test.sh runs each target briefly.

var controlSeeds = []string{
	"Package: a\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/a.deb\nSize: 10\nSHA256: " + strings.Repeat("ab", 32) + "\n",
	"Package: a\nSource: a-src (1)\nVersion: 1:2.0~rc1-1\nProvides: v1, v2 (= 3)\nDepends: b | c, d:any\nDescription: thing\n more text\n .\n end\n",
	"Package: a\nDepends: b,\n c (>= 1),\n\td\n\nPackage: b\r\nVersion: 1\r\n",
	"# comment\n\nPackage: a\nStatus: install ok installed\nVersion: 1.0\n\n \n\t\nPackage: b\nStatus: deinstall ok config-files\n",
	" x\nPackage: a\n", "not a field\n", "Bad Name: x\n", "Version: 1\n", "-----BEGIN PGP SIGNED MESSAGE-----\n",
}

var debVersionSeeds = []string{
	"1.0", "1.0-1", "1:2.0~rc1-1", "2:1.0~rc1-1+b1", "0ad", "1.0+dfsg-3~bpo12+1", "1~~", "1~~a", "1~", "1",
	"1.2.3.4.5.6.7.8.9", "a1", "1:", ":1", "1-", "-1", "1.0-1-2", "1:2:3", "99999999999999999999999999", "",
}

func FuzzReadParagraphs(f *testing.F) {
	for _, s := range controlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		var paras []*paragraph
		err := readParagraphs(strings.NewReader(data), "control", func(p *paragraph) error {
			if len(p.Fields) == 0 {
				t.Errorf("empty paragraph at line %d", p.Line)
			}
			paras = append(paras, p)
			return nil
		})
		if err != nil || !roundTrips(paras) {
			return
		}
		// What writeTo writes reads back as the same fields.
		var b bytes.Buffer
		for _, p := range paras {
			p.writeTo(&b)
			b.WriteByte('\n')
		}
		var again []*paragraph
		if err := readParagraphs(&b, "rewritten", func(p *paragraph) error { again = append(again, p); return nil }); err != nil {
			t.Fatalf("rewritten paragraphs do not parse: %v\n%s", err, b.String())
		}
		if len(again) != len(paras) {
			t.Fatalf("%d paragraphs read back as %d", len(paras), len(again))
		}
		for i := range paras {
			if !reflect.DeepEqual(paras[i].Fields, again[i].Fields) {
				t.Errorf("paragraph %d: %q read back as %q", i, paras[i].Fields, again[i].Fields)
			}
		}
	})
}

// roundTrips reports whether writeTo can reproduce the paragraphs: a field
// named like a comment, or carriage returns (one of which the reader drops
// per line), are not written back as they were read.
func roundTrips(paras []*paragraph) bool {
	for _, p := range paras {
		for _, f := range p.Fields {
			if strings.HasPrefix(f.Name, "#") || strings.Contains(f.Value, "\r") {
				return false
			}
		}
	}
	return true
}

// The fast Packages reader agrees with the general one, errors included.
func FuzzParsePackagesIndex(f *testing.F) {
	for _, s := range controlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		comparePackagesParsers(t, "fuzz", data)
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range controlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		got, err := ParseStatus(strings.NewReader(data))
		if err != nil {
			return
		}
		for k := range got {
			if k == "" {
				t.Errorf("empty package name in %v", got)
			}
		}
	})
}

// The fast relation parser agrees with pault.ag/go/debian/dependency
// wherever it accepts a field.
func FuzzParseRelations(f *testing.F) {
	for _, s := range relationSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		compareRelationParsers(t, s)
		_, _ = parseRelations(s)
	})
}

func FuzzDebianVersions(f *testing.F) {
	for i := range debVersionSeeds {
		f.Add(debVersionSeeds[i], debVersionSeeds[(i+1)%len(debVersionSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, erra := version.Parse(a)
		vb, errb := version.Parse(b)
		if erra != nil || errb != nil {
			return
		}
		if ab, ba := version.Compare(va, vb), version.Compare(vb, va); sign(ab) != -sign(ba) {
			t.Errorf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if version.Compare(va, va) != 0 {
			t.Errorf("%q does not equal itself", a)
		}
		for _, op := range []string{"", "<<", "<=", "=", ">=", ">>"} {
			_ = versionSatisfies(va, op, b)
		}
	})
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func FuzzReadAptTxt(f *testing.F) {
	for _, b := range testtool.ReadFiles(f, "../../testdata/*/apt.txt", "../../testdata/*/*/apt.txt", "../../testdata/*/*/*/apt.txt") {
		f.Add(string(b))
	}
	f.Add("curl ca-certificates # tools\n\npython3=3.11.2-1+b1\nlibc6:amd64\n")
	f.Add("Bad_Name\nx=not a version!\n")
	f.Fuzz(func(t *testing.T, text string) {
		reqs, err := ReadAptTxt(strings.NewReader(text), "apt.txt")
		if err != nil {
			return
		}
		for _, r := range reqs {
			if _, _, _, err := parseRequestName(r.Name); err != nil {
				t.Errorf("accepted request %q does not parse: %v", r.Name, err)
			}
		}
	})
}
