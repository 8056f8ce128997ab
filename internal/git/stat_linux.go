package git

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// stat is the part of a file's stat data a git index records.
type stat struct {
	mtimeSec, mtimeNsec, ctimeSec, ctimeNsec int64
	ino                                      uint64
	uid, gid                                 uint32
}

// statOf takes the stat data from os.Lstat's FileInfo (a *syscall.Stat_t)
// or from one over fstatat's (a *unix.Stat_t).
func statOf(fi fs.FileInfo) (stat, bool) {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return stat{
			mtimeSec: st.Mtim.Sec, mtimeNsec: st.Mtim.Nsec,
			ctimeSec: st.Ctim.Sec, ctimeNsec: st.Ctim.Nsec,
			ino: st.Ino, uid: st.Uid, gid: st.Gid,
		}, true
	case *unix.Stat_t:
		return stat{
			mtimeSec: st.Mtim.Sec, mtimeNsec: st.Mtim.Nsec,
			ctimeSec: st.Ctim.Sec, ctimeNsec: st.Ctim.Nsec,
			ino: st.Ino, uid: st.Uid, gid: st.Gid,
		}, true
	}
	return stat{}, false
}
