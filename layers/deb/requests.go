package deb

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseAptTxt reads an apt.txt (repo2docker's convention): one package a
// line, "#" starts a comment, blank lines are ignored. Each request carries
// "FILE:LINE". A line may name several packages separated by spaces (as
// "apt-get install $(cat apt.txt)" would accept).
func ParseAptTxt(path string) ([]Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading apt.txt: %w", err)
	}
	defer f.Close()
	return ReadAptTxt(f, path)
}

// ReadAptTxt is ParseAptTxt on a reader; name is used in messages.
func ReadAptTxt(r io.Reader, name string) ([]Request, error) {
	var out []Request
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		for _, tok := range strings.Fields(text) {
			where := fmt.Sprintf("%s:%d", name, line)
			if _, _, _, err := parseRequestName(tok); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, Request{Name: tok, Where: where})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// BaseRequest is the minimal Debian root: every package of Priority
// required in the index, plus ca-certificates, netbase and tzdata (so TLS,
// /etc/services and time zones work) and usr-is-merged (the layers are
// merged-/usr; without it init-system-helpers would pull in usrmerge and
// perl). It is nil when the index cannot be read (Resolve says why).
func (ix *Index) BaseRequest() []Request {
	s := ix.getSummary()
	if s == nil {
		return nil
	}
	out := make([]Request, 0, len(s.Required)+len(s.Extras))
	for _, n := range s.Required {
		out = append(out, Request{Name: n, Where: "base (Priority: required)"})
	}
	for _, n := range s.Extras {
		out = append(out, Request{Name: n, Where: "base"})
	}
	return out
}

// EssentialRequest is every package marked Essential: yes in the index
// (mmdebstrap's "essential" variant). It is nil when the index cannot be
// read (Resolve says why).
func (ix *Index) EssentialRequest() []Request {
	s := ix.getSummary()
	if s == nil {
		return nil
	}
	out := make([]Request, 0, len(s.Essential))
	for _, n := range s.Essential {
		out = append(out, Request{Name: n, Where: "essential"})
	}
	return out
}

// ParseStatus reads a dpkg status file (a base image's
// /var/lib/dpkg/status) and returns the installed packages as
// "name" -> version and "name:arch" -> version. Packages not fully
// installed (removed, config-files only, half-installed) are left out.
func ParseStatus(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	err := readParagraphs(r, "dpkg status", func(p *paragraph) error {
		name, ver := p.get("Package"), p.get("Version")
		if name == "" {
			return fmt.Errorf("dpkg status line %d: paragraph without Package", p.Line)
		}
		st := strings.Fields(p.get("Status"))
		if len(st) != 3 || st[2] != "installed" {
			return nil
		}
		out[name] = ver
		if a := p.get("Architecture"); a != "" {
			out[name+":"+a] = ver
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
