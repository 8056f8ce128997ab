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
	profiles, templates, touched := n.pamInputs()
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
		pt := newPamType(typ, enabled)
		conf, err := pt.fromTemplate(tmpl)
		if err != nil {
			return err
		}
		n.b.putFile("etc/pam.d/common-"+typ, 0o644, 0, conf)
		n.b.putFile("var/lib/pam/"+typ, 0o644, 0, pt.state())
	}
	return nil
}

// pamInputs collects the profiles in /usr/share/pam-configs and the
// templates in /usr/share/pam; touched says whether a package of this
// layer brought any of them.
func (n *nativeEnv) pamInputs() (profiles []*pamProfile, templates map[string]string, touched bool) {
	templates = map[string]string{}
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
	return profiles, templates, touched
}

// pamType is one PAM management group (auth, account, ...) with the
// enabled profiles, in order.
type pamType struct {
	typ     string
	uc      string // the profile field name: Auth, Session-noninteractive, ...
	short   string // the PAM type in the config lines
	enabled []*pamProfile
}

func newPamType(typ string, enabled []*pamProfile) *pamType {
	return &pamType{typ: typ, uc: strings.ToUpper(typ[:1]) + typ[1:], short: strings.TrimSuffix(typ, "-noninteractive"), enabled: enabled}
}

// lines is a profile's module lines; the first of a block may have its own.
func (t *pamType) lines(p *pamProfile, pos int) string {
	if pos == 0 && p.fields[t.uc+"-Initial"] != "" {
		return p.fields[t.uc+"-Initial"]
	}
	return p.fields[t.uc]
}

// block is the module lines of the enabled profiles of one kind (Primary
// or Additional).
func (t *pamType) block(kind string) []string {
	var out []string
	i := 0
	for _, p := range t.enabled {
		if p.fields[t.uc+"-Type"] != kind {
			continue
		}
		out = append(out, t.lines(p, i))
		i++
	}
	return out
}

// fromTemplate is create_from_template: the template with its Primary and
// Additional blocks (between pam-auth-update's markers) replaced.
func (t *pamType) fromTemplate(tmpl string) ([]byte, error) {
	var out bytes.Buffer
	state := 0
	for _, line := range strings.SplitAfter(tmpl, "\n") {
		if line == "" {
			continue
		}
		if state == 1 || state == 3 {
			// Inside a block: skip the template's lines up to its end marker.
			end := "# here's the fallback if no module succeeds"
			if state == 3 {
				end = "# end of pam-auth-update config"
			}
			if strings.HasPrefix(line, end) {
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
		t.writeBlock(&out, kind)
		state++
	}
	if state < 4 {
		return nil, fmt.Errorf("libpam-runtime: template common-%s lacks pam-auth-update's markers", t.typ)
	}
	return out.Bytes(), nil
}

// writeBlock writes a block's module lines, their "end" jumps counted down
// to the block's end; an empty Primary block falls through to pam_permit.
func (t *pamType) writeBlock(out *bytes.Buffer, kind string) {
	var modLines []string
	for _, text := range t.block(kind) {
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
		out.WriteString(t.short + "\t[default=1]\t\t\tpam_permit.so\n")
	}
	for _, l := range modLines {
		out.WriteString(t.short + "\t" + pamMergeLine(l, count))
		count--
	}
}

// state is write_profiles' /var/lib/pam/<type>: the Primary modules (or
// the null module), then the Additional ones.
func (t *pamType) state() []byte {
	var save bytes.Buffer
	// As write_profiles, each pass skips the untyped profiles and the other
	// block's (a profile of an unknown type is written in both).
	for _, pass := range []struct{ kind, other string }{{"Primary", "Additional"}, {"Additional", "Primary"}} {
		kind := pass.kind
		i := 0
		for _, p := range t.enabled {
			if pt := p.fields[t.uc+"-Type"]; pt == "" || pt == pass.other {
				continue
			}
			if text := t.lines(p, i); text != "" {
				save.WriteString("Module: " + p.name + "\n" + text + "\n")
			}
			i++
		}
		if kind == "Primary" && i == 0 {
			save.WriteString("Module: null\n[default=1]\t\t\tpam_permit.so\n")
		}
	}
	return save.Bytes()
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
