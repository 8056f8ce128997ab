package wheel

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assemble-build/assemble/internal/git"
)

// digestsNamespace keeps, for each wheelhouse file read, its digest and the
// stat data it had then (size, mtime, ctime, inode), as git's index does
// for a tracked file: while the stat data is the same, a rebuild takes the
// digest from there instead of reading the whole wheel again. A file copied
// or checked out anew (a fresh CI machine) has other stat data and is read:
// the digest always comes from the content.
const digestsNamespace = "wheelhouse-digests"

// racyWindow: a file changed this recently could change again, within the
// file system's timestamp granularity, and keep the same stat data, so its
// digest is not remembered (git's "racily clean" entries are read too).
// Tests shorten it.
var racyWindow = 2 * time.Second

// localDigest is the digest to ask the download store for: want, else a
// wheelhouse file's own. Known beforehand, a file the store already holds
// is taken as it is; with none, Download copies the file in again (a
// temporary file, a rename and a verification stamp) on every build.
func (c *client) localDigest(want, local string) string {
	if want != "" || local == "" {
		return want
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return ""
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "" // fetch says why
	}
	stamp, ok := statStamp(fi)
	sum := sha256.Sum256([]byte(abs))
	key := hex.EncodeToString(sum[:])
	ns := c.cache.Namespace(digestsNamespace)
	if ok {
		if b, found := getChecked(ns, key); found {
			if s, d, cut := strings.Cut(string(b), "\n"); cut && s == stamp {
				return d
			}
		}
	}
	d := hashLocal(abs)
	if ok && d != "" && !racy(fi, time.Now()) {
		putChecked(c.cache, ns, key, []byte(stamp+"\n"+d))
	}
	return d
}

// statStamp is what a remembered digest is valid for; false off Linux,
// where there is no stat data to trust and every file is read.
func statStamp(fi os.FileInfo) (string, bool) {
	st, ok := git.StatOf(fi)
	if !ok || !fi.Mode().IsRegular() {
		return "", false
	}
	return fmt.Sprintf("%d %d.%09d %d.%09d %d", fi.Size(), st.MTimeSec, st.MTimeNsec, st.CTimeSec, st.CTimeNsec, st.Ino), true
}

// racy reports whether fi changed (content or metadata) within racyWindow of now.
func racy(fi os.FileInfo, now time.Time) bool {
	st, _ := git.StatOf(fi)
	ctime := time.Unix(int64(st.CTimeSec), int64(st.CTimeNsec))
	return now.Sub(fi.ModTime()) < racyWindow || now.Sub(ctime) < racyWindow
}

func hashLocal(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
