package dockerfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// owner is a numeric uid:gid.
type owner struct{ uid, gid int }

// resolveOwner reads "user[:group]" as --chown and USER do: a numeric user
// without a group uses the same number as group, a named one its primary
// group; names come from the image's /etc/passwd and /etc/group. With
// strict, an unknown name is an error (as buildah); without, it is root (as
// BuildKit).
func resolveOwner(spec string, t *tree, strict bool) (owner, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	var o owner
	if u == "" && !hasGroup {
		return o, fmt.Errorf("empty user")
	}
	if u != "" {
		if id, err := strconv.Atoi(u); err == nil {
			if id < 0 {
				return o, fmt.Errorf("user %q: negative id", u)
			}
			o.uid, o.gid = id, id
		} else {
			var passwd []byte
			if t != nil {
				passwd = t.userFile("etc/passwd")
			}
			uid, gid, ok := lookupPasswd(passwd, u)
			if !ok {
				if strict {
					return o, fmt.Errorf("user %q is not in the image's /etc/passwd (use a numeric uid, or create the user first)", u)
				}
			}
			o.uid, o.gid = uid, gid
		}
	}
	if hasGroup {
		if g == "" {
			return o, fmt.Errorf("%q: empty group", spec)
		}
		if id, err := strconv.Atoi(g); err == nil {
			if id < 0 {
				return o, fmt.Errorf("group %q: negative id", g)
			}
			o.gid = id
		} else {
			var group []byte
			if t != nil {
				group = t.userFile("etc/group")
			}
			gid, ok := lookupGroup(group, g)
			if !ok && strict {
				return o, fmt.Errorf("group %q is not in the image's /etc/group (use a numeric gid, or create the group first)", g)
			}
			if ok {
				o.gid = gid
			}
		}
	}
	return o, nil
}

// isNumericOwner reports whether spec names ids only (--link needs them).
func isNumericOwner(spec string) bool {
	u, g, hasGroup := strings.Cut(spec, ":")
	if _, err := strconv.Atoi(u); u != "" && err != nil {
		return false
	}
	if _, err := strconv.Atoi(g); hasGroup && err != nil {
		return false
	}
	return true
}

func lookupPasswd(data []byte, name string) (uid, gid int, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || f[0] != name {
			continue
		}
		u, err1 := strconv.Atoi(f[2])
		g, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			return u, g, true
		}
	}
	return 0, 0, false
}

func lookupGroup(data []byte, name string) (gid int, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || f[0] != name {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil {
			return g, true
		}
	}
	return 0, false
}

// chmod is a --chmod value: octal, or symbolic as chmod(1) ("u+x,go-w", "a=rX").
type chmod struct {
	octal   fs.FileMode
	isOctal bool
	clauses []chmodClause
}

type chmodClause struct {
	who  fs.FileMode // mask of the bits the clause may touch
	op   byte
	perm fs.FileMode
	bigX bool
}

func parseChmod(s string) (*chmod, error) {
	if s == "" {
		return nil, nil
	}
	if v, err := strconv.ParseUint(s, 8, 32); err == nil {
		if v > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: an octal mode is at most 7777", s)
		}
		return &chmod{octal: layers.ModeFromUnix(int64(v)), isOctal: true}, nil
	}
	c := &chmod{}
	for _, part := range strings.Split(s, ",") {
		i := 0
		var who fs.FileMode
		for i < len(part) && strings.IndexByte("ugoa", part[i]) >= 0 {
			switch part[i] {
			case 'u':
				who |= 0o4700
			case 'g':
				who |= 0o2070
			case 'o':
				who |= 0o1007
			case 'a':
				who |= 0o7777
			}
			i++
		}
		if who == 0 {
			who = 0o7777
		}
		if i >= len(part) || strings.IndexByte("+-=", part[i]) < 0 {
			return nil, fmt.Errorf("--chmod=%s: use an octal mode (0755) or chmod's symbolic form (u+x,go-w)", s)
		}
		cl := chmodClause{who: who, op: part[i]}
		for _, r := range part[i+1:] {
			switch r {
			case 'r':
				cl.perm |= 0o444
			case 'w':
				cl.perm |= 0o222
			case 'x':
				cl.perm |= 0o111
			case 'X':
				cl.bigX = true
			case 's':
				cl.perm |= 0o6000
			case 't':
				cl.perm |= 0o1000
			default:
				return nil, fmt.Errorf("--chmod=%s: unknown permission %q", s, r)
			}
		}
		c.clauses = append(c.clauses, cl)
	}
	return c, nil
}

// newDir is the mode of a directory COPY creates (a missing parent, a new
// destination): an octal --chmod's permission bits, else 0755, as
// BuildKit's copy passes the octal mode, and only it, to MkdirAll.
func (c *chmod) newDir() fs.FileMode {
	if c == nil || !c.isOctal {
		return 0o755
	}
	return c.octal & fs.ModePerm
}

// apply returns the mode a file of mode m gets.
func (c *chmod) apply(m fs.FileMode, dir bool) fs.FileMode {
	if c == nil {
		return m
	}
	if c.isOctal {
		return c.octal
	}
	v := layers.UnixMode(m)
	for _, cl := range c.clauses {
		perm := int64(cl.perm)
		if cl.bigX && (dir || v&0o111 != 0) {
			perm |= 0o111
		}
		bits := perm & int64(cl.who)
		switch cl.op {
		case '+':
			v |= bits
		case '-':
			v &^= bits
		case '=':
			v = v&^(int64(cl.who)&0o7777) | bits
		}
	}
	return layers.ModeFromUnix(v)
}
