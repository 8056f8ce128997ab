package wheel

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// localDigest is the digest to ask the download store for: want, else a
// wheelhouse file's own. Known beforehand, a file the store already holds
// is taken as it is; with none, Download copies the file in again (a
// temporary file, a rename and a verification stamp) on every build.
func localDigest(want, local string) string {
	if want != "" || local == "" {
		return want
	}
	f, err := os.Open(local)
	if err != nil {
		return "" // fetch says why
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
