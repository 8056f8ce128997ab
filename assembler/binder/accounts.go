package binder

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/assembler/plan"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// gidShadow is base-passwd's fixed "shadow" group, which owns /etc/shadow.
const gidShadow = 42

// Debian's base-passwd masters (bookworm), which a deb: base's /etc/passwd
// and /etc/group are made from. They are used when planning has no builder
// to read the base (`assemble plan`).
const debianPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`

const debianGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:
fax:x:21:
voice:x:22:
cdrom:x:24:
floppy:x:25:
tape:x:26:
sudo:x:27:
audio:x:29:
dip:x:30:
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
shadow:x:42:
utmp:x:43:
video:x:44:
sasl:x:45:
plugdev:x:46:
staff:x:50:
games:x:60:
users:x:100:
nogroup:x:65534:
`

// debianShadow and debianGShadow derive the shadow files from the masters
// as pwconv and grpconv do (the deb layer leaves the last-change field empty).
func debianShadow() string {
	var b strings.Builder
	for _, l := range lines(debianPasswd) {
		fmt.Fprintf(&b, "%s:*::0:99999:7:::\n", strings.SplitN(l, ":", 2)[0])
	}
	return b.String()
}

func debianGShadow() string {
	var b strings.Builder
	for _, l := range lines(debianGroup) {
		f := strings.Split(l, ":")
		fmt.Fprintf(&b, "%s:*::%s\n", f[0], f[3])
	}
	return b.String()
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// userNameRE is what useradd accepts by default (Debian's NAME_REGEX).
var userNameRE = lazyregexp.New(`^[a-z_][a-z0-9_-]*\$?$`)

// ValidateUser checks a notebook user as repo2docker does: a valid name, and
// never root ("Root as the primary user in the image is not permitted").
func ValidateUser(name string, uid int) error {
	if !userNameRE.MatchString(name) || len(name) > 32 {
		return fmt.Errorf("user name %q is not a valid login name (lower-case letters, digits, '_', '-'; at most 32; e.g. jovyan)", name)
	}
	if uid == 0 {
		return errors.New("user id 0: root as the primary user in the image is not permitted (repo2docker refuses it too): use an unprivileged id such as 1000")
	}
	if uid < 0 || uid > 1<<31-2 {
		return fmt.Errorf("user id %d is out of range (1 to 2147483646)", uid)
	}
	return nil
}

// accountFiles is the base's account database, as read from its image.
type accountFiles struct {
	passwd, group, shadow, gshadow string
	// hasShadow: the base keeps /etc/shadow (write one only if it does).
	hasShadow, hasGShadow bool
	// skel are /etc/skel's regular files, by path relative to /etc/skel.
	skel map[string]skelFile
}

type skelFile struct {
	content []byte
	mode    fs.FileMode
}

// debianAccounts is a deb: base's database, without reading it.
func debianAccounts() *accountFiles {
	return &accountFiles{passwd: debianPasswd, group: debianGroup, shadow: debianShadow(), gshadow: debianGShadow(), hasShadow: true, hasGShadow: true}
}

// readAccounts reads the account files and /etc/skel of an image's file system.
func readAccounts(fsys fs.FS) (*accountFiles, error) {
	a := &accountFiles{skel: map[string]skelFile{}}
	read := func(p string, dst *string, found *bool) error {
		b, err := fs.ReadFile(fsys, p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the base's /%s: %w", p, err)
		}
		*dst = string(b)
		if found != nil {
			*found = true
		}
		return nil
	}
	if err := read("etc/passwd", &a.passwd, nil); err != nil {
		return nil, err
	}
	if err := read("etc/group", &a.group, nil); err != nil {
		return nil, err
	}
	if err := read("etc/shadow", &a.shadow, &a.hasShadow); err != nil {
		return nil, err
	}
	if err := read("etc/gshadow", &a.gshadow, &a.hasGShadow); err != nil {
		return nil, err
	}
	err := fs.WalkDir(fsys, "etc/skel", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() && p != "etc/skel" {
			return fs.SkipDir // a subdirectory's parents would be root's in the layer
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		a.skel[strings.TrimPrefix(p, "etc/skel/")] = skelFile{content: b, mode: info.Mode().Perm()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the base's /etc/skel: %w", err)
	}
	return a, nil
}

// userLayer makes the files useradd and groupadd would write for the
// notebook user: a group with gid = uid, the user with home and bash, as
// repo2docker does (an existing user or group with that id or name is
// replaced, as its usermod/groupmod renaming does), and /etc/skel copied
// into the home directory.
func userLayer(a *accountFiles, name string, uid int, home string, withHomeDir bool) (*plan.GeneratedLayer, error) {
	ids := strconv.Itoa(uid)
	keep := func(db string, idField int, what string) ([]string, error) {
		var out []string
		for i, l := range lines(db) {
			if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
				out = append(out, l)
				continue
			}
			f := strings.Split(l, ":")
			if len(f) <= idField {
				return nil, fmt.Errorf("the base's /etc/%s line %d is malformed: %q", what, i+1, l)
			}
			if f[0] == name || f[idField] == ids {
				continue
			}
			out = append(out, l)
		}
		return out, nil
	}
	pw, err := keep(a.passwd, 2, "passwd")
	if err != nil {
		return nil, err
	}
	gr, err := keep(a.group, 2, "group")
	if err != nil {
		return nil, err
	}
	// Names replaced in passwd/group are dropped from the shadow files too.
	removed := map[string]bool{name: true}
	for _, db := range []string{a.passwd, a.group} {
		for _, l := range lines(db) {
			f := strings.Split(l, ":")
			if len(f) > 2 && f[2] == ids {
				removed[f[0]] = true
			}
		}
	}
	shadowKeep := func(db string) []string {
		var out []string
		for _, l := range lines(db) {
			if removed[strings.SplitN(l, ":", 2)[0]] {
				continue
			}
			out = append(out, l)
		}
		return out
	}
	pw = append(pw, fmt.Sprintf("%s:x:%d:%d::%s:/bin/bash", name, uid, uid, home))
	gr = append(gr, fmt.Sprintf("%s:x:%d:", name, uid))
	join := func(l []string) []byte { return []byte(strings.Join(l, "\n") + "\n") }
	g := &plan.GeneratedLayer{Files: []plan.GeneratedFile{
		{Path: "/etc/passwd", Content: join(pw), Mode: 0o644},
		{Path: "/etc/group", Content: join(gr), Mode: 0o644},
	}}
	if a.hasShadow {
		sh := append(shadowKeep(a.shadow), name+":!::0:99999:7:::")
		g.Files = append(g.Files, plan.GeneratedFile{Path: "/etc/shadow", Content: join(sh), Mode: 0o640, GID: gidShadow})
	}
	if a.hasGShadow {
		gs := append(shadowKeep(a.gshadow), name+":!::")
		g.Files = append(g.Files, plan.GeneratedFile{Path: "/etc/gshadow", Content: join(gs), Mode: 0o640, GID: gidShadow})
	}
	for _, p := range slices.Sorted(maps.Keys(a.skel)) {
		f := a.skel[p]
		g.Files = append(g.Files, plan.GeneratedFile{Path: path.Join(home, p), Content: f.content, Mode: uint32(f.mode), UID: uid, GID: uid})
	}
	if withHomeDir {
		// The home directory itself, owned by the user (useradd --create-home).
		g.Files = append(g.Files, plan.GeneratedFile{Path: home, Mode: uint32(fs.ModeDir | 0o755), UID: uid, GID: uid})
	}
	return g, nil
}
