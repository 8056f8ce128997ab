package layers

import (
	"archive/tar"
	"fmt"
	"io/fs"
)

// ModeBits are the mode bits a layer entry keeps: permissions plus setuid,
// setgid and sticky. fs.FileMode holds the last three in bits of its own,
// far from where Unix (tar headers, st_mode, chmod) puts them.
const ModeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// The Unix places of the special bits.
const (
	unixSetuid = 0o4000
	unixSetgid = 0o2000
	unixSticky = 0o1000
)

// ModeFromUnix turns Unix mode bits (a tar header's Mode, st_mode, an octal
// chmod) into an fs.FileMode's permission, setuid, setgid and sticky bits;
// type bits are dropped.
func ModeFromUnix(v int64) fs.FileMode {
	m := fs.FileMode(v) & fs.ModePerm
	if v&unixSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if v&unixSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if v&unixSticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// UnixMode is the inverse of ModeFromUnix: m's permission, setuid, setgid
// and sticky bits where Unix and tar headers keep them.
func UnixMode(m fs.FileMode) int64 {
	v := int64(m & fs.ModePerm)
	if m&fs.ModeSetuid != 0 {
		v |= unixSetuid
	}
	if m&fs.ModeSetgid != 0 {
		v |= unixSetgid
	}
	if m&fs.ModeSticky != 0 {
		v |= unixSticky
	}
	return v
}

// HostFileMode is the mode a layer gives a regular file read from a
// checkout: 0755 when any execute bit is set, else 0644. It is all git
// records of a file's mode, so two checkouts made under different umasks
// (002, 077) give the same layer.
func HostFileMode(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// TarTypeName names a tar entry type a package may not hold, for messages.
func TarTypeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}
