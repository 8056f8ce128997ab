package git

import (
	"io/fs"
	"syscall"
)

// stat is the part of a file's stat data a git index records.
type stat struct {
	mtimeSec, mtimeNsec, ctimeSec, ctimeNsec int64
	ino                                      uint64
	uid, gid                                 uint32
}

func statOf(fi fs.FileInfo) (stat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stat{}, false
	}
	return stat{
		mtimeSec: st.Mtim.Sec, mtimeNsec: st.Mtim.Nsec,
		ctimeSec: st.Ctim.Sec, ctimeNsec: st.Ctim.Nsec,
		ino: st.Ino, uid: st.Uid, gid: st.Gid,
	}, true
}
