package attest

import (
	"bufio"
	"bytes"
	"regexp"
	"sort"
	"strings"
)

// License reads a Debian copyright file and returns the SPDX expression
// of the licenses its Files paragraphs name, or "" when the file is not in
// the machine-readable format (DEP-5): a free-form file is not guessed at.
// Debian's short names become SPDX identifiers where they are known
// ("GPL-2+" → "GPL-2.0-or-later") and LicenseRef-NAME otherwise.
func License(copyright []byte) string {
	paras := paragraphs(copyright)
	if len(paras) == 0 || !strings.Contains(paras[0]["format"], "copyright-format") {
		return ""
	}
	seen := map[string]bool{}
	for _, p := range paras[1:] {
		if _, ok := p["files"]; !ok {
			continue
		}
		if l := licenseExpr(p["license"]); l != "" {
			seen[l] = true
		}
	}
	exprs := sortedKeys(seen)
	if len(exprs) == 1 {
		return exprs[0]
	}
	for i, e := range exprs {
		if strings.Contains(e, " ") {
			exprs[i] = "(" + e + ")"
		}
	}
	return strings.Join(exprs, " AND ")
}

// paragraphs splits a deb822 file into paragraphs of lower-cased field
// names and first-line values (continuation lines are license texts, not needed).
func paragraphs(b []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

var licenseOpRE = regexp.MustCompile(`(?i)\s+(or|and)\s+|\s*\|\s*|\s*,\s*(?:and\s+)?`)

// licenseExpr turns one License field's synopsis ("GPL-2+ or Artistic")
// into an SPDX expression.
func licenseExpr(syn string) string {
	syn = strings.TrimSpace(syn)
	if syn == "" {
		return ""
	}
	var parts []string
	last := 0
	for _, m := range licenseOpRE.FindAllStringIndex(syn, -1) {
		parts = append(parts, spdxLicenseID(syn[last:m[0]]))
		op := strings.ToLower(strings.TrimSpace(syn[m[0]:m[1]]))
		if op == "and" || strings.HasPrefix(op, ",") {
			parts = append(parts, "AND")
		} else {
			parts = append(parts, "OR")
		}
		last = m[1]
	}
	parts = append(parts, spdxLicenseID(syn[last:]))
	return strings.Join(parts, " ")
}

// gnuFamilies have -only and -or-later identifiers in SPDX.
var gnuFamilies = map[string]bool{"GPL": true, "LGPL": true, "AGPL": true, "GFDL": true}

// spdxIDs are Debian short names (lower case) with their SPDX identifiers.
var spdxIDs = map[string]string{
	"apache-2.0": "Apache-2.0", "apache-1.1": "Apache-1.1", "artistic": "Artistic-1.0-Perl", "artistic-2.0": "Artistic-2.0",
	"bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause",
	"cc0-1.0": "CC0-1.0", "expat": "MIT", "mit": "MIT", "isc": "ISC", "zlib": "Zlib", "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0",
	"psf-2": "PSF-2.0", "python-2.0": "Python-2.0", "openssl": "OpenSSL", "curl": "curl", "ftl": "FTL", "x11": "X11",
	"bsl-1.0": "BSL-1.0", "unicode-dfs-2016": "Unicode-DFS-2016", "ofl-1.1": "OFL-1.1", "sleepycat": "Sleepycat",
	"cc-by-sa-3.0": "CC-BY-SA-3.0", "cc-by-4.0": "CC-BY-4.0", "wtfpl": "WTFPL", "0bsd": "0BSD", "bzip2-1.0.6": "bzip2-1.0.6",
}

// spdxLicenseID maps one Debian short name to an SPDX identifier.
func spdxLicenseID(name string) string {
	name = strings.TrimSpace(name)
	plus := strings.HasSuffix(name, "+")
	base := strings.TrimSuffix(name, "+")
	fam, ver, ok := strings.Cut(base, "-")
	if ok && gnuFamilies[strings.ToUpper(fam)] && ver != "" && strings.Trim(ver, "0123456789.") == "" {
		if !strings.Contains(ver, ".") {
			ver += ".0"
		}
		if plus {
			return strings.ToUpper(fam) + "-" + ver + "-or-later"
		}
		return strings.ToUpper(fam) + "-" + ver + "-only"
	}
	if id, ok := spdxIDs[strings.ToLower(base)]; ok {
		if plus {
			return id + "+"
		}
		return id
	}
	return "LicenseRef-" + spdxIDPart(name)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
