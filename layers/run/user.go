package run

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// execUser is who the command runs as.
type execUser struct {
	UID, GID int
	Groups   []int // supplementary groups
	Home     string
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// lookupUser resolves a Dockerfile USER ("name", "uid", "name:group",
// "uid:gid", ...) against the image's passwd and group files, as Docker
// does: a name must exist, a number need not; the primary group defaults to
// the passwd entry's (0 without one); supplementary groups are those listing
// the user, unless a group was given.
func lookupUser(spec string, passwd, group []byte) (execUser, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	users := parsePasswd(passwd)
	groups := parseGroup(group)
	u := execUser{Home: "/"}
	var found *passwdEntry
	if id, err := parseID(userPart); err == nil {
		u.UID = id
		for i := range users {
			if users[i].uid == id {
				found = &users[i]
				break
			}
		}
	} else {
		for i := range users {
			if users[i].name == userPart {
				found = &users[i]
				break
			}
		}
		if found == nil {
			return u, fmt.Errorf("user %q: no such user in the image's /etc/passwd (use a numeric uid, or add the user in an earlier step)", userPart)
		}
		u.UID = found.uid
	}
	if found != nil {
		u.GID = found.gid
		if found.home != "" {
			u.Home = found.home
		}
	}
	if hasGroup {
		if id, err := parseID(groupPart); err == nil {
			u.GID = id
		} else {
			ok := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, ok = g.gid, true
					break
				}
			}
			if !ok {
				return u, fmt.Errorf("group %q: no such group in the image's /etc/group (use a numeric gid)", groupPart)
			}
		}
		return u, nil
	}
	if found != nil {
		seen := map[int]bool{u.GID: true}
		for _, g := range groups {
			for _, m := range g.members {
				if m == found.name && !seen[g.gid] {
					seen[g.gid] = true
					u.Groups = append(u.Groups, g.gid)
				}
			}
		}
	}
	return u, nil
}

func parseID(s string) (int, error) {
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return int(id), nil
}

func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out
}

func parseGroup(b []byte) []groupEntry {
	var out []groupEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := parseID(f[2])
		if err != nil {
			continue
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out
}
