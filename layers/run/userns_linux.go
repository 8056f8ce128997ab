//go:build linux

package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// idRange is where the sandbox's ids 0..Size-1 live on the host when the
// build runs as root: container root is host UID (and GID), never host root.
type idRange struct {
	UID, GID, Size uint32
	Source         string // where the range came from, for messages
}

// The range a root build gives its sandbox when /etc/subuid and /etc/subgid
// hold none for subIDUser. 0x70000000 starts right after systemd-nspawn's
// container ids (0x00080000-0x6FFFFFFF) and ends below systemd's foreign
// range (0x7FFE0000) and the 2^31 ids some tools read as negative; useradd
// hands out subordinate ids far below it (up to 600100000 by default). Its
// 2^27 ids cover the owners real images use; an image owner beyond them is
// recorded, as rootless does, rather than set on disk.
const (
	subIDUser   = "containers" // podman's --userns=auto looks for the same user
	defaultBase = 0x70000000
	defaultSize = 1 << 27
)

// Where the range is read from; variables so tests can point elsewhere.
var (
	subUIDFile = "/etc/subuid"
	subGIDFile = "/etc/subgid"
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
)

// rootIDRange picks the host ids for a root build's sandbox: the first
// subordinate range of user "containers" in /etc/subuid and /etc/subgid
// (as podman's --userns=auto does), else the fixed range above, refused if
// a login user, a group or another user's subordinate range lies in it.
func rootIDRange() (idRange, error) {
	uids, err := readSubIDs(subUIDFile)
	if err != nil {
		return idRange{}, err
	}
	gids, err := readSubIDs(subGIDFile)
	if err != nil {
		return idRange{}, err
	}
	u, uok := uids[subIDUser]
	g, gok := gids[subIDUser]
	if uok != gok {
		return idRange{}, fmt.Errorf("RUN sandbox: %s has an entry for %q in only one of %s and %s; add the other", subIDUser, subIDUser, subUIDFile, subGIDFile)
	}
	if uok {
		if u[0] == 0 || g[0] == 0 {
			return idRange{}, fmt.Errorf("RUN sandbox: the subordinate range of %q in %s or %s starts at 0 (host root); give it a range of unprivileged ids", subIDUser, subUIDFile, subGIDFile)
		}
		return idRange{UID: u[0], GID: g[0], Size: min(u[1], g[1]), Source: subUIDFile + " and " + subGIDFile + " (user " + subIDUser + ")"}, nil
	}
	r := idRange{UID: defaultBase, GID: defaultBase, Size: defaultSize, Source: "the default range"}
	if err := checkFree(r, uids, gids); err != nil {
		return idRange{}, err
	}
	return r, nil
}

// checkFree refuses the default range when the host already uses part of it.
func checkFree(r idRange, uids, gids map[string][2]uint32) error {
	inside := func(start, count uint32) bool {
		return uint64(start) < uint64(r.UID)+uint64(r.Size) && uint64(start)+uint64(count) > uint64(r.UID)
	}
	fix := fmt.Sprintf("give the sandbox a range of its own with a line %q in both %s and %s", subIDUser+":START:COUNT", subUIDFile, subGIDFile)
	for _, m := range []map[string][2]uint32{uids, gids} {
		for name, e := range m {
			if inside(e[0], e[1]) {
				return fmt.Errorf("RUN sandbox: the default id range %d-%d overlaps the subordinate ids of %q; %s", r.UID, r.UID+r.Size-1, name, fix)
			}
		}
	}
	for _, f := range []string{passwdFile, groupFile} {
		ids, err := fileIDs(f)
		if err != nil {
			return err
		}
		for name, id := range ids {
			if inside(id, 1) {
				return fmt.Errorf("RUN sandbox: the default id range %d-%d holds %q (id %d) of %s; %s", r.UID, r.UID+r.Size-1, name, id, f, fix)
			}
		}
	}
	return nil
}

// readSubIDs reads NAME:START:COUNT lines, keeping each name's first range.
// A missing file holds none.
func readSubIDs(file string) (map[string][2]uint32, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("RUN sandbox: %w", err)
	}
	out := map[string][2]uint32{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("RUN sandbox: %s line %d: want NAME:START:COUNT, got %q", file, n, line)
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 {
			return nil, fmt.Errorf("RUN sandbox: %s line %d: bad range %q", file, n, line)
		}
		if _, ok := out[f[0]]; !ok {
			out[f[0]] = [2]uint32{uint32(start), uint32(count)}
		}
	}
	return out, nil
}

// fileIDs returns the ids (third field) of a passwd or group file by name.
func fileIDs(file string) (map[string]uint32, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("RUN sandbox: %w", err)
	}
	out := map[string]uint32{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			out[f[0]] = uint32(id)
		}
	}
	return out, nil
}

// ownWorkDir gives the work directory and what it holds so far (rootfs,
// resolv.conf, hosts, ssh sockets) to the sandbox's root.
func ownWorkDir(dir string, ids idRange) error {
	names, err := readDirNames(dir)
	if err != nil {
		return fmt.Errorf("RUN: %w", err)
	}
	for _, p := range append([]string{dir}, names...) {
		if p != dir {
			p = dir + "/" + p
		}
		if err := os.Lchown(p, int(ids.UID), int(ids.GID)); err != nil {
			return fmt.Errorf("RUN: %w", err)
		}
	}
	return nil
}

// workDirFile opens the work directory for the sandbox (descriptor fdDir).
// A root build's sandbox runs as an unprivileged host id that may not
// search the directories above the work directory (a private TMPDIR), and
// a descriptor opened here would lead to this mount namespace, where the
// sandbox may not mount from: it gets a detached copy of the directory's
// mount instead (open_tree), which it attaches in its own namespace. Rootless
// (open_tree needs privilege) and before Linux 5.2 the sandbox goes by path.
func workDirFile(cfg *childConfig) (*os.File, error) {
	if !cfg.Rootless {
		fd, err := unix.OpenTree(unix.AT_FDCWD, cfg.Dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err == nil {
			cfg.DirTree = true
			return os.NewFile(uintptr(fd), cfg.Dir), nil
		}
		if !errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("RUN sandbox: cloning the mount of %s: %w", cfg.Dir, err)
		}
	}
	return os.Open(cfg.Dir)
}

// attachWorkDir mounts the work directory's tree (descriptor fdDir) over a
// directory of the host's tree every process may search, in the sandbox's
// own mount namespace (the host's directory is untouched), and returns
// where.
func attachWorkDir() (string, error) {
	for _, dir := range []string{"/tmp", "/mnt", "/run", "/var/tmp", "/media"} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		if err := unix.MoveMount(fdDir, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return "", fmt.Errorf("attaching the work directory at %s: %w", dir, err)
		}
		return dir, nil
	}
	return "", errors.New("attaching the work directory: the host has none of /tmp, /mnt, /run, /var/tmp, /media to mount it over")
}
