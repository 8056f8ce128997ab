package attest

import (
	"bufio"
	"bytes"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/github/go-spdx/v2/spdxexp"
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

var licenseOpRE = lazyregexp.New(`(?i)\s+(or|and)\s+|\s*\|\s*|\s*,\s*(?:and\s+)?`)

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

// PythonLicense is the SPDX expression of a Python distribution's license,
// from its core metadata's fields, or "" when they state none for
// certain. In order: License-Expression (PEP 639), when it is a valid
// expression; a License field that is one (many say "MIT" or
// "Apache-2.0"); else the "License :: ..." classifiers, when each names
// one SPDX license and all the same one. Two classifiers do not say
// whether their licenses apply together or as a choice, so they give "";
// references to licenses a document would have to define (LicenseRef-)
// are not taken.
func PythonLicense(expression, license string, classifiers []string) string {
	if e, ok := spdxExpression(expression); ok {
		return e
	}
	if e, ok := spdxExpression(license); ok {
		return e
	}
	id := ""
	for _, c := range classifiers {
		name := c[strings.LastIndex(c, "::")+2:]
		name = strings.TrimSpace(name)
		if name == "OSI Approved" {
			continue // says nothing of which license
		}
		l := classifierLicense(name, license)
		if l == "" || id != "" && l != id {
			return ""
		}
		id = l
	}
	return id
}

// CondaLicense is the SPDX expression of a conda package's repodata
// license field, or "" when the field is not a valid expression (conda-forge
// asks for SPDX, but older packages say "BSD 3-Clause" or "GPL"): such a
// field is not guessed at, as the SBOM says NOASSERTION.
func CondaLicense(field string) string {
	e, _ := spdxExpression(field)
	return e
}

// spdxExpression validates s as an SPDX license expression (go-spdx's
// license list) and returns it normalised ("mit" → "MIT").
func spdxExpression(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "\n\r") {
		return "", false
	}
	ok, bad := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{s},
		spdxexp.ValidateLicensesOptions{FailAllLicenseRefs: true, FailAllDocumentRefs: true})
	if len(bad) > 0 || len(ok) != 1 {
		return "", false
	}
	return ok[0], true
}

// classifierIDs are the license classifiers (their last part) that name
// one SPDX license. "Apache Software License" and "BSD License" cover
// several (Apache 1.0 to 2.0; BSD with 2, 3 or 4 clauses), and
// "GNU Lesser General Public License v2" is 2.0 or 2.1: those are in
// classifierFamilies.
var classifierIDs = map[string]string{
	"MIT License": "MIT", "MIT No Attribution License (MIT-0)": "MIT-0", "CMU License (MIT-CMU)": "MIT-CMU",
	"ISC License (ISCL)": "ISC", "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
	"Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1", "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
	"Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0", "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
	"GNU General Public License v2 (GPLv2)": "GPL-2.0-only", "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
	"GNU General Public License v3 (GPLv3)": "GPL-3.0-only", "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
	"GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only", "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
	"GNU Affero General Public License v3": "AGPL-3.0-only", "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
	"Python Software Foundation License": "PSF-2.0", "The Unlicense (Unlicense)": "Unlicense", "zlib/libpng License": "Zlib",
	"Universal Permissive License (UPL)": "UPL-1.0", "PostgreSQL License": "PostgreSQL", "SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
	"Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0", "Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
	"European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1", "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
	"Historical Permission Notice and Disclaimer (HPND)": "HPND", "University of Illinois/NCSA Open Source License": "NCSA",
	"W3C License": "W3C", "Open Software License 3.0 (OSL-3.0)": "OSL-3.0", "Mulan Permissive Software License v2 (MulanPSL-2.0)": "MulanPSL-2.0",
	"Educational Community License, Version 2.0 (ECL-2.0)": "ECL-2.0", "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}

// classifierFamilies are the classifiers of several licenses, with the
// License field's words that say which one (a short field: "Apache 2.0",
// "BSD 3-Clause", "New BSD"), checked in order.
var classifierFamilies = map[string][]struct {
	says *lazyregexp.Regexp
	id   string
}{
	"Apache Software License": {
		{lazyregexp.New(`(?i)^apache(?:[\s,-]+(?:software\s+)?licen[sc]e)?[\s,-]*(?:v|version\s*)?2(?:\.0)?$`), "Apache-2.0"},
	},
	"BSD License": {
		{lazyregexp.New(`(?i)^(?:(?:the\s+)?(?:new|modified|revised|3[\s-]*clause)\s+bsd|bsd[\s-]*(?:\(?3[\s-]*clause\)?|3|new|revised))(?:\s+licen[sc]e)?$`), "BSD-3-Clause"},
		{lazyregexp.New(`(?i)^(?:(?:the\s+)?(?:simplified|freebsd|2[\s-]*clause)\s+bsd|bsd[\s-]*(?:\(?2[\s-]*clause\)?|2|simplified))(?:\s+licen[sc]e)?$`), "BSD-2-Clause"},
	},
}

// classifierLicense maps one classifier (its last part) to an SPDX
// identifier, with the License field to tell a family's licenses apart.
func classifierLicense(name, license string) string {
	if id, ok := classifierIDs[name]; ok {
		return id
	}
	license = strings.TrimSpace(license)
	for _, f := range classifierFamilies[name] {
		if f.says.MatchString(license) {
			return f.id
		}
	}
	return ""
}
