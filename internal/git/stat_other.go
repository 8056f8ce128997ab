//go:build !linux

package git

import "io/fs"

// stat is the part of a file's stat data a git index records.
type stat struct {
	mtimeSec, mtimeNsec, ctimeSec, ctimeNsec int64
	ino                                      uint64
	uid, gid                                 uint32
}

// statOf has no stat data to offer off Linux: every file is read there.
func statOf(fs.FileInfo) (stat, bool) { return stat{}, false }
