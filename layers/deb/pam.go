package deb

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
)

// pamProfile is a /usr/share/pam-configs profile as pam-auth-update reads it.
type pamProfile struct {
	name     string
	fields   map[string]string
	priority int
}

// pamAuthUpdate does what libpam-runtime's postinst does with
// pam-auth-update --package: enable every profile with "Default: yes" and
// write /etc/pam.d/common-* from the templates in /usr/share/pam, and the
// state in /var/lib/pam, as pam-auth-update's create_from_template and
// write_profiles do.
func (n *nativeEnv) pamAuthUpdate() error {
	if n.hasBase || !n.installed("libpam-runtime") {
		return nil
	}
	touched := false
	var profiles []*pamProfile
	templates := map[string]string{}
	for _, m := range n.all {
		for p, text := range m.meta.Files {
			switch {
			case strings.HasPrefix(p, "usr/share/pam-configs/"):
				profiles = append(profiles, parsePamProfile(path.Base(p), text))
				touched = touched || m.own
			case strings.HasPrefix(p, "usr/share/pam/common-") && !strings.HasSuffix(p, ".md5sums"):
				templates[path.Base(p)] = text
				touched = touched || m.own
			}
		}
	}
	if !touched || len(templates) == 0 {
		return nil
	}
	sort.Slice(profiles, func(i, j int) bool {
		if profiles[i].priority != profiles[j].priority {
			return profiles[i].priority > profiles[j].priority
		}
		return profiles[i].name > profiles[j].name
	})
	var enabled []*pamProfile
	var seen bytes.Buffer
	for _, p := range profiles {
		seen.WriteString(p.name + "\n")
		if p.fields["Default"] == "yes" {
			enabled = append(enabled, p)
		}
	}
	n.b.putDir("var/lib/pam", 0o755)
	n.b.putFile("var/lib/pam/seen", 0o644, 0, seen.Bytes())
	for _, typ := range []string{"auth", "account", "password", "session", "session-noninteractive"} {
		tmpl, ok := templates["common-"+typ]
		if !ok {
			return fmt.Errorf("libpam-runtime: no template /usr/share/pam/common-%s", typ)
		}
		uc := strings.ToUpper(typ[:1]) + typ[1:]
		short := strings.TrimSuffix(typ, "-noninteractive")
		lines := func(p *pamProfile, pos int) string {
			if pos == 0 && p.fields[uc+"-Initial"] != "" {
				return p.fields[uc+"-Initial"]
			}
			return p.fields[uc]
		}
		block := func(kind string) []string {
			var out []string
			i := 0
			for _, p := range enabled {
				if p.fields[uc+"-Type"] != kind {
					continue
				}
				out = append(out, lines(p, i))
				i++
			}
			return out
		}
		var out bytes.Buffer
		state := 0
		for _, line := range strings.SplitAfter(tmpl, "\n") {
			if line == "" {
				continue
			}
			if state == 1 {
				if strings.HasPrefix(line, "# here's the fallback if no module succeeds") {
					out.WriteString(line)
					state++
				}
				continue
			}
			if state == 3 {
				if strings.HasPrefix(line, "# end of pam-auth-update config") {
					out.WriteString(line)
					state++
				}
				continue
			}
			out.WriteString(line)
			kind := ""
			switch {
			case state == 0 && strings.HasPrefix(line, `# here are the per-package modules (the "Primary" block)`):
				kind = "Primary"
			case state == 2 && strings.HasPrefix(line, `# and here are more per-package modules (the "Additional" block)`):
				kind = "Additional"
			default:
				continue
			}
			var modLines []string
			for _, text := range block(kind) {
				for _, l := range strings.Split(text, "\n") {
					if l != "" {
						modLines = append(modLines, l)
					}
				}
			}
			count := len(modLines)
			if kind == "Additional" {
				count--
			}
			if kind == "Primary" && count == 0 {
				out.WriteString(short + "\t[default=1]\t\t\tpam_permit.so\n")
			}
			for _, l := range modLines {
				out.WriteString(short + "\t" + pamMergeLine(l, count))
				count--
			}
			state++
		}
		if state < 4 {
			return fmt.Errorf("libpam-runtime: template common-%s lacks pam-auth-update's markers", typ)
		}
		n.b.putFile("etc/pam.d/common-"+typ, 0o644, 0, out.Bytes())

		var save bytes.Buffer
		i := 0
		for _, p := range enabled {
			if t := p.fields[uc+"-Type"]; t == "" || t == "Additional" {
				continue
			}
			if text := lines(p, i); text != "" {
				save.WriteString("Module: " + p.name + "\n" + text + "\n")
			}
			i++
		}
		if i == 0 {
			save.WriteString("Module: null\n[default=1]\t\t\tpam_permit.so\n")
		}
		i = 0
		for _, p := range enabled {
			if t := p.fields[uc+"-Type"]; t == "" || t == "Primary" {
				continue
			}
			if text := lines(p, i); text != "" {
				save.WriteString("Module: " + p.name + "\n" + text + "\n")
			}
			i++
		}
		n.b.putFile("var/lib/pam/"+typ, 0o644, 0, save.Bytes())
	}
	return nil
}

// pamMergeLine is pam-auth-update's merge_one_line without local changes:
// "control module" with "end" jumps made relative, then the options.
func pamMergeLine(line string, count int) string {
	rest := line
	var control string
	if strings.HasPrefix(rest, "[") {
		i := strings.IndexByte(rest, ']')
		if i < 0 {
			return line + "\n"
		}
		control, rest = rest[:i+1], rest[i+1:]
	} else {
		f := strings.Fields(rest)
		if len(f) == 0 {
			return "\n"
		}
		control = f[0]
		rest = strings.TrimPrefix(strings.TrimLeft(rest, " \t"), control)
	}
	sep := rest[:len(rest)-len(strings.TrimLeft(rest, " \t"))]
	f := strings.Fields(rest)
	if len(f) == 0 {
		return control + sep + "\n"
	}
	modline := strings.ReplaceAll(control+sep+f[0], "end", fmt.Sprint(count))
	return modline + " " + strings.Join(f[1:], " ") + "\n"
}

// parsePamProfile reads a pam-configs profile as pam-auth-update's
// parse_pam_profile does: continuation lines trimmed and joined by newlines.
func parsePamProfile(name, text string) *pamProfile {
	p := &pamProfile{name: name, fields: map[string]string{}}
	field := ""
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, ":"); i > 0 && !strings.ContainsAny(line[:i], " \t") && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t') {
			field = strings.TrimSuffix(line[:i], "-Final")
			p.fields[field] = strings.TrimSpace(line[i+1:])
			continue
		}
		if t := strings.TrimSpace(line); t != "" && field != "" {
			if p.fields[field] == "" {
				p.fields[field] = t
			} else {
				p.fields[field] += "\n" + t
			}
		}
	}
	if _, ok := p.fields["Session-Interactive-Only"]; !ok {
		p.fields["Session-noninteractive-Type"] = p.fields["Session-Type"]
		p.fields["Session-noninteractive"] = p.fields["Session"]
		p.fields["Session-noninteractive-Initial"] = p.fields["Session-Initial"]
	}
	fmt.Sscanf(p.fields["Priority"], "%d", &p.priority)
	return p
}
