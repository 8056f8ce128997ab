package deb

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// nativeVersion changes whenever a native action's output changes; it is
// part of every layer key.
const nativeVersion = "native-v1"

// Group IDs fixed by base-passwd, used for the files maintainer scripts
// would create with these groups.
const (
	gidMail   = 8
	gidShadow = 42
	gidUtmp   = 43
)

// nativeEnv is what native actions see: the layer being built and every
// package at or below it.
type nativeEnv struct {
	arch    string
	hasBase bool
	all     []metaOf
	b       *layerBuilder
}

// own reports whether the named package is in the layer being built.
func (n *nativeEnv) own(name string) bool {
	for _, m := range n.all {
		if m.pkg.Name == name {
			return m.own
		}
	}
	return false
}

// installed reports whether the named package is in this layer or below.
func (n *nativeEnv) installed(name string) bool {
	for _, m := range n.all {
		if m.pkg.Name == name {
			return true
		}
	}
	return false
}

// metaFile returns a small file kept in a package's meta (see metaFiles).
func (n *nativeEnv) metaFile(pkg, p string) (string, bool) {
	for _, m := range n.all {
		if m.pkg.Name == pkg {
			s, ok := m.meta.Files[p]
			return s, ok
		}
	}
	return "", false
}

// run does, natively and deterministically, what maintainer scripts would
// do that an image needs. The full list of what is done and what is not is
// in NOT-DONE.md and the package documentation.
func (n *nativeEnv) run() error {
	if !n.hasBase {
		if err := n.accounts(); err != nil {
			return err
		}
		n.shells()
		n.diversions()
	}
	if n.own("base-files") {
		n.baseFiles()
	}
	if n.own("netbase") {
		n.netbase()
	}
	if n.own("tzdata") {
		n.tzdata()
	}
	n.copyDefaults()
	if n.own("libpam-modules") {
		n.b.putFile("etc/environment", 0o644, 0, nil)
		n.b.putFile("etc/security/opasswd", 0o600, 0, nil)
	}
	if n.own("login") {
		n.b.putFile("etc/subuid", 0o644, 0, nil)
		n.b.putFile("etc/subgid", 0o644, 0, nil)
		n.b.putFile("var/log/faillog", 0o644, 0, nil)
	}
	if n.own("python3") && !n.b.has("etc/python3/debian_config") {
		n.b.putFile("etc/python3/debian_config", 0o644, 0, []byte("[DEFAULT]\n# how to byte-compile (comma separated: standard, optimize)\nbyte-compile = standard\n"))
	}
	for _, m := range n.all {
		// python3.X-minimal's postinst makes the local site directory.
		if v, ok := strings.CutSuffix(m.pkg.Name, "-minimal"); ok && m.own && strings.HasPrefix(v, "python3.") {
			n.b.putDir("usr/local/lib/"+v, 0o755)
			n.b.putDir("usr/local/lib/"+v+"/dist-packages", 0o755)
			n.b.putFile("var/lib/python/"+v+"_installed", 0o644, 0, nil)
		}
	}
	if n.own("ca-certificates") {
		n.b.putDir("usr/local/share/ca-certificates", 0o755)
	}
	n.alternatives()
	n.triggers()
	if err := n.pamAuthUpdate(); err != nil {
		return err
	}
	if n.own("ca-certificates") {
		if err := n.caCertificates(); err != nil {
			return err
		}
	}
	return nil
}

// accounts writes /etc/passwd, /etc/group (base-passwd's postinst copies its
// masters) and /etc/shadow, /etc/gshadow (passwd's postinst runs pwconv and
// grpconv). The last-change field of /etc/shadow is left empty: a date would
// make the layer depend on the build day.
func (n *nativeEnv) accounts() error {
	if !n.own("base-passwd") {
		return nil
	}
	passwd, ok1 := n.metaFile("base-passwd", "usr/share/base-passwd/passwd.master")
	group, ok2 := n.metaFile("base-passwd", "usr/share/base-passwd/group.master")
	if !ok1 || !ok2 {
		return fmt.Errorf("base-passwd has no passwd.master/group.master; cannot write /etc/passwd")
	}
	var pw, sh, gr, gs bytes.Buffer
	err := shadowLines(passwd, 7, "passwd.master", func(f []string, hash string) {
		pw.WriteString(strings.Join(f, ":") + "\n")
		fmt.Fprintf(&sh, "%s:%s::0:99999:7:::\n", f[0], hash)
	})
	if err != nil {
		return err
	}
	err = shadowLines(group, 4, "group.master", func(f []string, hash string) {
		gr.WriteString(strings.Join(f, ":") + "\n")
		fmt.Fprintf(&gs, "%s:%s::%s\n", f[0], hash, f[3])
	})
	if err != nil {
		return err
	}
	n.b.putFile("etc/passwd", 0o644, 0, pw.Bytes())
	n.b.putFile("etc/group", 0o644, 0, gr.Bytes())
	n.b.putFile("etc/shadow", 0o640, gidShadow, sh.Bytes())
	n.b.putFile("etc/gshadow", 0o640, gidShadow, gs.Bytes())
	return nil
}

// shadowLines splits each line of a base-passwd master file (name) into
// its n fields and calls fn with them, the password field replaced by "x",
// and with the password hash, which belongs in the shadow file.
func shadowLines(master string, n int, name string, fn func(f []string, hash string)) error {
	for _, line := range strings.Split(strings.TrimRight(master, "\n"), "\n") {
		f := strings.Split(line, ":")
		if len(f) != n {
			return fmt.Errorf("base-passwd: bad %s line %q", name, line)
		}
		hash := f[1]
		f[1] = "x"
		fn(f, hash)
	}
	return nil
}

// shells writes /etc/shells as debianutils' update-shells does: its template,
// then every shell from /usr/share/debianutils/shells.d, each followed by
// its /usr-merged path.
func (n *nativeEnv) shells() {
	changed := n.own("debianutils")
	for _, m := range n.all {
		if !m.own {
			continue
		}
		for p := range m.meta.Files {
			if strings.HasPrefix(p, "usr/share/debianutils/shells.d/") {
				changed = true
			}
		}
	}
	if !changed || !n.installed("debianutils") {
		return
	}
	tmpl, _ := n.metaFile("debianutils", "usr/share/debianutils/shells")
	type src struct{ name, text string }
	var srcs []src
	for _, m := range n.all {
		for p, t := range m.meta.Files {
			if strings.HasPrefix(p, "usr/share/debianutils/shells.d/") {
				srcs = append(srcs, src{path.Base(p), t})
			}
		}
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].name < srcs[j].name })
	var pkgShells []string
	seen := map[string]bool{}
	addShell := func(s string) {
		if !seen[s] {
			seen[s] = true
			pkgShells = append(pkgShells, s)
		}
	}
	for _, text := range append([]string{tmpl}, func() []string {
		var t []string
		for _, s := range srcs {
			t = append(t, s.text)
		}
		return t
	}()...) {
		for _, line := range strings.Split(text, "\n") {
			line, _, _ = strings.Cut(line, "#")
			if line == "" {
				continue
			}
			addShell(line)
			if real := realShellPath(line); real != line {
				addShell(real)
			}
		}
	}
	var etc bytes.Buffer
	inEtc := map[string]bool{}
	for _, line := range strings.Split(strings.TrimRight(tmpl, "\n"), "\n") {
		shell, _, _ := strings.Cut(line, "#")
		if shell != "" && inEtc[shell] {
			continue
		}
		etc.WriteString(line + "\n")
		inEtc[shell] = true
	}
	var state bytes.Buffer
	for _, s := range pkgShells {
		state.WriteString(s + "\n")
		if !inEtc[s] {
			etc.WriteString(s + "\n")
			inEtc[s] = true
		}
	}
	n.b.putFile("etc/shells", 0o644, 0, etc.Bytes())
	n.b.putFile("var/lib/shells.state", 0o644, 0, state.Bytes())
}

// realShellPath is dpkg-realpath of the shell's directory on merged /usr.
func realShellPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return p
	}
	dir, base := path.Split(p)
	d := strings.Trim(dir, "/")
	top, _, _ := strings.Cut(d, "/")
	if usrMerged[top] {
		return "/usr/" + d + "/" + base
	}
	return p
}

// diversions are the dpkg-divert calls of maintainer scripts in the
// essential set (dash's preinst diverts /bin/sh to keep it its own).
var diversions = map[string][][3]string{
	"dash": {
		{"/usr/share/man/man1/sh.1.gz", "/usr/share/man/man1/sh.distrib.1.gz", "dash"},
		{"/bin/sh", "/bin/sh.distrib", "dash"},
	},
}

func (n *nativeEnv) diversions() {
	changed := false
	var b bytes.Buffer
	for _, m := range n.all {
		d, ok := diversions[m.pkg.Name]
		if !ok {
			continue
		}
		changed = changed || m.own
		for _, e := range d {
			b.WriteString(e[0] + "\n" + e[1] + "\n" + e[2] + "\n")
		}
	}
	if changed {
		n.b.putFile("var/lib/dpkg/diversions", 0o644, 0, b.Bytes())
	}
}

// baseFiles does base-files' postinst for a first install.
func (n *nativeEnv) baseFiles() {
	b := n.b
	for _, c := range [][2]string{{"dot.profile", "root/.profile"}, {"dot.bashrc", "root/.bashrc"}, {"profile", "etc/profile"}, {"motd", "etc/motd"}} {
		if data, ok := b.read("usr/share/base-files/" + c[0]); ok && !b.has(c[1]) {
			b.putFile(c[1], 0o644, 0, data)
		}
	}
	if b.has("etc/dpkg/origins/debian") && !b.has("etc/dpkg/origins/default") {
		b.putLink("etc/dpkg/origins/default", "debian")
	}
	if n.hasBase {
		return
	}
	for _, d := range []string{"mnt", "srv", "opt", "etc/opt", "var/opt", "media"} {
		b.putDir(d, 0o755)
	}
	b.put(layers.Entry{Path: "var/mail", Type: layers.TypeDir, Mode: 0o775 | fs.ModeSetgid, GID: gidMail}, nil)
	b.putLink("var/spool/mail", "../mail")
	b.put(layers.Entry{Path: "run/lock", Type: layers.TypeDir, Mode: 0o777 | fs.ModeSticky}, nil)
	b.putLink("var/run", "/run")
	b.putLink("var/lock", "/run/lock")
	for _, d := range []string{"usr/local", "usr/local/share", "usr/local/share/man", "usr/local/bin", "usr/local/games",
		"usr/local/lib", "usr/local/include", "usr/local/sbin", "usr/local/src", "usr/local/etc"} {
		b.putDir(d, 0o755)
	}
	b.putLink("usr/local/man", "share/man")
	b.put(layers.Entry{Path: "var/log/wtmp", Type: layers.TypeFile, Mode: 0o664, GID: gidUtmp}, nil)
	b.put(layers.Entry{Path: "var/log/btmp", Type: layers.TypeFile, Mode: 0o660, GID: gidUtmp}, nil)
	b.put(layers.Entry{Path: "var/log/lastlog", Type: layers.TypeFile, Mode: 0o664, GID: gidUtmp}, nil)
	if data, ok := b.read("usr/share/base-files/info.dir"); ok && b.has("usr/share/info") && !b.has("usr/share/info/dir") {
		b.putFile("usr/share/info/dir", 0o644, 0, data)
	}
}

// netbase writes the /etc/hosts and /etc/networks its postinst creates.
func (n *nativeEnv) netbase() {
	if !n.b.has("etc/hosts") {
		n.b.putFile("etc/hosts", 0o644, 0, []byte("127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n"))
	}
	if !n.b.has("etc/networks") {
		n.b.putFile("etc/networks", 0o644, 0, []byte("default\t\t0.0.0.0\nloopback\t127.0.0.0\nlink-local\t169.254.0.0\n\n"))
	}
}

// tzdata sets the time zone its postinst sets by default: Etc/UTC.
func (n *nativeEnv) tzdata() {
	n.b.putLink("etc/localtime", "/usr/share/zoneinfo/Etc/UTC")
	n.b.putFile("etc/timezone", 0o644, 0, []byte("Etc/UTC\n"))
}

// alternatives makes the links "update-alternatives --install" would, in
// automatic mode (highest priority wins), for every alternative a package
// of this layer takes part in, and writes its state file in
// var/lib/dpkg/alternatives.
func (n *nativeEnv) alternatives() {
	byName := map[string][]alternative{}
	touched := map[string]bool{}
	for _, m := range n.all {
		for _, a := range m.meta.Alternatives {
			a.Package = m.pkg.Name
			byName[a.Name] = append(byName[a.Name], a)
			if m.own {
				touched[a.Name] = true
			}
		}
	}
	names := make([]string, 0, len(touched))
	for name := range touched {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		choices := byName[name]
		sort.SliceStable(choices, func(i, j int) bool { return choices[i].Path < choices[j].Path })
		best := choices[0]
		for _, c := range choices[1:] {
			if c.Priority > best.Priority {
				best = c
			}
		}
		// The slave names of all choices, as update-alternatives keeps them.
		slaveLinks := map[string]string{}
		for _, c := range choices {
			for _, s := range c.Slaves {
				if _, ok := slaveLinks[s.Name]; !ok {
					slaveLinks[s.Name] = s.Link
				}
			}
		}
		slaveNames := make([]string, 0, len(slaveLinks))
		for s := range slaveLinks {
			slaveNames = append(slaveNames, s)
		}
		sort.Strings(slaveNames)

		var st bytes.Buffer
		st.WriteString("auto\n" + best.Link + "\n")
		for _, s := range slaveNames {
			st.WriteString(s + "\n" + slaveLinks[s] + "\n")
		}
		st.WriteString("\n")
		for _, c := range choices {
			fmt.Fprintf(&st, "%s\n%d\n", c.Path, c.Priority)
			for _, s := range slaveNames {
				p := ""
				for _, cs := range c.Slaves {
					if cs.Name == s {
						p = cs.Path
					}
				}
				st.WriteString(p + "\n")
			}
		}
		st.WriteString("\n")
		n.b.putFile("var/lib/dpkg/alternatives/"+name, 0o644, 0, st.Bytes())

		n.altLink(best.Link, name, best.Path)
		for _, s := range best.Slaves {
			if s.Exists {
				n.altLink(s.Link, s.Name, s.Path)
			}
		}
	}
}

func (n *nativeEnv) altLink(link, name, target string) {
	lp := imagePath(link)
	if e, ok := n.b.entries[lp]; ok && e.entry.Type != layers.TypeSymlink {
		return // update-alternatives leaves a real file alone
	}
	n.b.putLink(lp, "/etc/alternatives/"+name)
	n.b.putLink("etc/alternatives/"+name, target)
}

// copyDefaults copies the default configuration files postinsts install
// when they are missing: "package: from -> to".
func (n *nativeEnv) copyDefaults() {
	for _, c := range []struct{ pkg, from, to string }{
		{"libc-bin", "usr/share/libc-bin/nsswitch.conf", "etc/nsswitch.conf"},
		{"readline-common", "usr/share/readline/inputrc", "etc/inputrc"},
	} {
		if !n.own(c.pkg) || n.b.has(c.to) {
			continue
		}
		if data, ok := n.b.read(c.from); ok {
			n.b.putFile(c.to, 0o644, 0, data)
		}
	}
}

// triggers writes dpkg's trigger interest database (var/lib/dpkg/triggers:
// File for file triggers, one file per named trigger), so a dpkg run later
// in the image (apt-get install in a RUN step) activates them.
func (n *nativeEnv) triggers() {
	touched := false
	files := map[string][]string{}
	named := map[string][]string{}
	for _, m := range n.all {
		for _, line := range strings.Split(m.meta.Triggers, "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || strings.HasPrefix(f[0], "#") {
				continue
			}
			who := m.pkg.dpkgName()
			switch f[0] {
			case "interest", "interest-await":
			case "interest-noawait":
				who += "/noawait"
			default:
				continue
			}
			touched = touched || m.own
			if strings.HasPrefix(f[1], "/") {
				files[f[1]] = append(files[f[1]], f[1]+" "+who)
			} else {
				named[f[1]] = append(named[f[1]], who)
			}
		}
	}
	if !touched {
		return
	}
	var fileLines []string
	for _, l := range files {
		fileLines = append(fileLines, l...)
	}
	sort.Strings(fileLines)
	var b bytes.Buffer
	for _, l := range fileLines {
		b.WriteString(l + "\n")
	}
	n.b.putDir("var/lib/dpkg/triggers", 0o755)
	n.b.putFile("var/lib/dpkg/triggers/File", 0o644, 0, b.Bytes())
	n.b.putFile("var/lib/dpkg/triggers/Unincorp", 0o644, 0, nil)
	for name, who := range named {
		sort.Strings(who)
		n.b.putFile("var/lib/dpkg/triggers/"+name, 0o644, 0, []byte(strings.Join(who, "\n")+"\n"))
	}
}
