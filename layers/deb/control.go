package deb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// field is one field of a deb822 paragraph. Value keeps the text exactly as
// written (first line trimmed, continuation lines verbatim, joined by "\n"),
// so a paragraph can be written back byte for byte, as dpkg does with a
// package's control file when it records it in the status database.
type field struct {
	Name  string
	Value string
}

// paragraph is a deb822 paragraph (a package's control file, one stanza of
// a Packages index or of dpkg's status file). pault.ag/go/debian/control
// normalises continuation lines, which loses what dpkg would write, so this
// small reader keeps the raw text instead.
type paragraph struct {
	Fields []field
	Line   int // line of the paragraph's first field, for messages
}

// get returns a field's value ("" when absent): trimmed when it is one
// line, raw otherwise. Field names are case-insensitive.
func (p *paragraph) get(name string) string {
	for _, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			if !strings.Contains(f.Value, "\n") {
				return strings.TrimSpace(f.Value)
			}
			return f.Value
		}
	}
	return ""
}

// folded returns a field's value with its lines joined by spaces, the form
// relation fields (Depends, Provides, ...) are parsed in.
func (p *paragraph) folded(name string) string {
	v := p.get(name)
	if !strings.Contains(v, "\n") {
		return strings.TrimSpace(v)
	}
	return strings.Join(strings.Fields(v), " ")
}

// set replaces a field's value or appends the field.
func (p *paragraph) set(name, value string) {
	for i, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			p.Fields[i].Value = value
			return
		}
	}
	p.Fields = append(p.Fields, field{Name: name, Value: value})
}

// del removes a field.
func (p *paragraph) del(name string) {
	out := p.Fields[:0]
	for _, f := range p.Fields {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	p.Fields = out
}

// writeTo writes the paragraph in deb822 form, without the blank line that
// separates paragraphs.
func (p *paragraph) writeTo(b *bytes.Buffer) {
	for _, f := range p.Fields {
		b.WriteString(f.Name)
		b.WriteByte(':')
		if f.Value != "" && !strings.HasPrefix(f.Value, "\n") {
			b.WriteByte(' ')
		}
		b.WriteString(f.Value)
		b.WriteByte('\n')
	}
}

// readParagraphs calls fn for every paragraph in r. name is used in
// errors ("Packages line 12: ..."). A PGP armour line or a line that is
// neither a field nor a continuation is an error.
func readParagraphs(r io.Reader, name string, fn func(*paragraph) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	var cur *paragraph
	line := 0
	// Continuation lines of the last field, joined when it is complete
	// (appending to the value line by line is quadratic, and a Release's
	// SHA256 field has hundreds of lines).
	var cont []string
	endField := func() {
		if len(cont) > 0 {
			f := &cur.Fields[len(cur.Fields)-1]
			f.Value += "\n" + strings.Join(cont, "\n")
			cont = cont[:0]
		}
	}
	flush := func() error {
		if cur == nil {
			return nil
		}
		endField()
		p := cur
		cur = nil
		return fn(p)
	}
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if text[0] == '#' && cur == nil {
			continue // comments are allowed between paragraphs (control files)
		}
		if text[0] == ' ' || text[0] == '\t' {
			if cur == nil || len(cur.Fields) == 0 {
				return fmt.Errorf("%s line %d: continuation line without a field", name, line)
			}
			cont = append(cont, text)
			continue
		}
		colon := strings.IndexByte(text, ':')
		if colon <= 0 {
			return fmt.Errorf("%s line %d: expected \"Field: value\", got %q", name, line, truncate(text, 60))
		}
		fname := text[:colon]
		if strings.ContainsAny(fname, " \t") {
			return fmt.Errorf("%s line %d: bad field name %q", name, line, truncate(fname, 60))
		}
		if cur == nil {
			cur = &paragraph{Line: line}
		}
		endField()
		// dpkg keeps trailing blanks of a value; only the leading ones go.
		cur.Fields = append(cur.Fields, field{Name: fname, Value: strings.TrimLeft(text[colon+1:], " \t")})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// dpkgFieldOrder is the order in which dpkg writes known fields to its status
// file (lib/dpkg/parse.c, fieldinfos[]); other fields follow in the order of
// the package's control file.
var dpkgFieldOrder = []string{
	"Package", "Essential", "Protected", "Status", "Priority", "Section",
	"Installed-Size", "Origin", "Maintainer", "Bugs", "Architecture",
	"Multi-Arch", "Source", "Version", "Config-Version", "Replaces",
	"Provides", "Depends", "Pre-Depends", "Recommends", "Suggests", "Breaks",
	"Conflicts", "Enhances", "Conffiles", "Filename", "Size", "MD5sum",
	"MSDOS-Filename", "Description", "Triggers-Pending", "Triggers-Awaited",
}

// dpkgOrder returns a copy of p with its fields in dpkg's status order.
func dpkgOrder(p *paragraph) *paragraph {
	out := &paragraph{Line: p.Line}
	used := make([]bool, len(p.Fields))
	for _, name := range dpkgFieldOrder {
		for i, f := range p.Fields {
			if !used[i] && strings.EqualFold(f.Name, name) {
				out.Fields = append(out.Fields, field{Name: name, Value: f.Value})
				used[i] = true
			}
		}
	}
	for i, f := range p.Fields {
		if !used[i] {
			out.Fields = append(out.Fields, f)
		}
	}
	return out
}
