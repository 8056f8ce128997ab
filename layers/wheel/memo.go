package wheel

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"

	"github.com/assemble-build/assemble/layers"
)

// The resolver keeps two memos in the cache, both derived from content and
// recomputed when missing or unreadable: the digest of each wheelhouse file
// (see localDigest) and the METADATA of each wheel it read.

// metadataNamespace keeps a wheel's METADATA under its digest and file
// name: resolving again reads one small file instead of the wheel's central
// directory (pip's lists over 800 members).
const metadataNamespace = "wheel-metadata"

// putMemo stores derived data under key without syncing it to disk (a
// temporary file renamed into place): a cold build reads dozens of wheels,
// and an fsync each would cost more than the memo saves. After a crash an
// entry may be torn; readers check what they read (getMemo) and compute
// it again.
func putMemo(cache *layers.Cache, ns *layers.Namespace, key string, data []byte) {
	f, err := cache.TempFile("memo-*")
	if err != nil {
		return
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = ns.PutFile(key, f.Name())
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// putChecked stores data after a line with its sha256, for getChecked.
func putChecked(cache *layers.Cache, ns *layers.Namespace, key string, data []byte) {
	sum := sha256.Sum256(data)
	putMemo(cache, ns, key, append([]byte(hex.EncodeToString(sum[:])+"\n"), data...))
}

// getChecked returns what putChecked stored, if it is there and intact.
func getChecked(ns *layers.Namespace, key string) ([]byte, bool) {
	b, ok, err := ns.Get(key)
	if err != nil || !ok {
		return nil, false
	}
	want, data, cut := strings.Cut(string(b), "\n")
	sum := sha256.Sum256([]byte(data))
	if !cut || want != hex.EncodeToString(sum[:]) {
		return nil, false
	}
	return []byte(data), true
}

// wheelMetadata is readWheelMetadata of the wheel at p (digest hexd, named
// filename), kept in the metadata memo.
func (c *client) wheelMetadata(p, hexd, filename string) ([]byte, error) {
	sum := sha256.Sum256([]byte(hexd + "\x00" + filename))
	key := hex.EncodeToString(sum[:])
	ns := c.cache.Namespace(metadataNamespace)
	if b, ok := getChecked(ns, key); ok {
		return b, nil
	}
	b, err := readWheelMetadata(p, filename)
	if err != nil {
		return nil, err
	}
	putChecked(c.cache, ns, key, b)
	return b, nil
}
