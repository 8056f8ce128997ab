package git

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// StatOf takes the stat data git's index records from os.Lstat's FileInfo
// (a *syscall.Stat_t) or from one over fstatat's (a *unix.Stat_t).
func StatOf(fi fs.FileInfo) (FileStat, bool) {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return FileStat{
			MTimeSec: int64(st.Mtim.Sec), MTimeNsec: uint32(st.Mtim.Nsec), CTimeSec: uint32(st.Ctim.Sec), CTimeNsec: uint32(st.Ctim.Nsec),
			Ino: uint32(st.Ino), UID: st.Uid, GID: st.Gid, Size: uint32(st.Size), Regular: fi.Mode().IsRegular(),
		}, true
	case *unix.Stat_t:
		s := statOfUnix(st)
		s.Regular = fi.Mode().IsRegular()
		return s, true
	}
	return FileStat{}, false
}

// statOfUnix is StatOf for fstatat's stat data.
func statOfUnix(st *unix.Stat_t) FileStat {
	return FileStat{
		MTimeSec: int64(st.Mtim.Sec), MTimeNsec: uint32(st.Mtim.Nsec), CTimeSec: uint32(st.Ctim.Sec), CTimeNsec: uint32(st.Ctim.Nsec),
		Ino: uint32(st.Ino), UID: st.Uid, GID: st.Gid, Size: uint32(st.Size), Regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
	}
}
