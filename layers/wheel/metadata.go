package wheel

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Metadata is the part of a distribution's core metadata (METADATA or
// PKG-INFO) that resolving needs.
type Metadata struct {
	Name           string
	Version        string
	RequiresPython string
	RequiresDist   []string
	ProvidesExtra  []string
	// The license fields, for an SBOM: License-Expression (PEP 639, an
	// SPDX expression), License (free text, often a name) and the
	// "License :: ..." classifiers, as written.
	LicenseExpression  string
	License            string
	LicenseClassifiers []string
}

// parseHeaders reads RFC 822 style headers up to the first blank line.
func parseHeaders(b []byte) (map[string][]string, error) {
	h := map[string][]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 16*1024*1024) // grows for a long header line
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation line before any header", n)
			}
			vs := h[last]
			vs[len(vs)-1] += "\n" + line
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: %q is not a \"Header: value\" line", n, line)
		}
		last = strings.ToLower(k)
		h[last] = append(h[last], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// ParseMetadata parses core metadata and checks the fields assemble relies on.
func ParseMetadata(b []byte) (*Metadata, error) {
	h, err := parseHeaders(b)
	if err != nil {
		return nil, fmt.Errorf("malformed metadata: %w", err)
	}
	one := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	m := &Metadata{Name: one("name"), Version: one("version"), RequiresPython: one("requires-python")}
	if one("metadata-version") == "" {
		return nil, fmt.Errorf("malformed metadata: no Metadata-Version field")
	}
	if m.Name == "" || nameRE.FindString(m.Name) != m.Name {
		return nil, fmt.Errorf("malformed metadata: Name %q is missing or invalid", m.Name)
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return nil, fmt.Errorf("malformed metadata for %s: Version: %w", m.Name, err)
	}
	if m.RequiresPython != "" {
		if _, err := ParseSpecifiers(m.RequiresPython); err != nil {
			return nil, fmt.Errorf("malformed metadata for %s: Requires-Python: %w", m.Name, err)
		}
	}
	for _, r := range h["requires-dist"] {
		if _, err := ParseRequirement(r); err != nil {
			return nil, fmt.Errorf("malformed metadata for %s %s: Requires-Dist: %w", m.Name, m.Version, err)
		}
		m.RequiresDist = append(m.RequiresDist, r)
	}
	for _, e := range h["provides-extra"] {
		m.ProvidesExtra = append(m.ProvidesExtra, NormalizeName(e))
	}
	m.LicenseExpression, m.License = one("license-expression"), one("license")
	for _, c := range h["classifier"] {
		if strings.HasPrefix(c, "License ::") {
			m.LicenseClassifiers = append(m.LicenseClassifiers, c)
		}
	}
	return m, nil
}
