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
func wheelMetadata(cache *layers.Cache, p, hexd, filename string) ([]byte, error) {
	if b, ok := KnownMetadata(cache, hexd, filename); ok {
		return b, nil
	}
	b, err := readWheelMetadata(p, filename)
	if err != nil {
		return nil, err
	}
	putChecked(cache, cache.Namespace(metadataNamespace), metadataKey(hexd, filename), b)
	return b, nil
}

// KnownMetadata returns the METADATA of the wheel with this sha256 (hex)
// and file name when the cache has read it from the wheel itself (to
// resolve from a wheelhouse, or to install it; never from an index's
// PEP 658 metadata file). An installed distribution's .dist-info/METADATA
// is a copy of it: the SBOM takes licenses from here instead of
// decompressing the image to read them.
func KnownMetadata(cache *layers.Cache, sha256hex, filename string) ([]byte, bool) {
	if sha256hex == "" || filename == "" {
		return nil, false
	}
	return getChecked(cache.Namespace(metadataNamespace), metadataKey(sha256hex, filename))
}

func metadataKey(hexd, filename string) string {
	sum := sha256.Sum256([]byte(hexd + "\x00" + filename))
	return hex.EncodeToString(sum[:])
}
