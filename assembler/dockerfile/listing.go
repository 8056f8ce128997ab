package dockerfile

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
)

// listingExt names a layer's listing in the listing cache (diffID + ext).
// The listing is read on every build of a stage over the layer, so it is
// kept in a compact binary form rather than JSON, whose decoding was most
// of the time a no-op rebuild spent reading a Debian base's tree.
const listingExt = ".lst"

// listingMagic starts an encoded listing; a new layout gets a new one.
const listingMagic = "assemble-listing 1\n"

// encodeListing writes the entries: a count, then each entry's name,
// type, mode, owner, link target and kept content, integers as varints
// and strings length-prefixed.
func encodeListing(ls []listed) []byte {
	b := append([]byte(nil), listingMagic...)
	b = binary.AppendUvarint(b, uint64(len(ls)))
	str := func(s []byte) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	for _, e := range ls {
		str([]byte(e.Name))
		b = append(b, e.Type)
		b = binary.AppendVarint(b, e.Mode)
		b = binary.AppendVarint(b, int64(e.UID))
		b = binary.AppendVarint(b, int64(e.GID))
		str([]byte(e.Link))
		str(e.Content)
	}
	return b
}

var errListing = errors.New("malformed listing")

// decodeListing reads what encodeListing wrote as tar headers (with the
// kept contents); any damage is an error, and the caller reads the layer.
func decodeListing(b []byte) (hdrs []*tar.Header, contents [][]byte, err error) {
	rest, ok := bytes.CutPrefix(b, []byte(listingMagic))
	if !ok {
		return nil, nil, errListing
	}
	uv := func() uint64 {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			err = errListing
			return 0
		}
		rest = rest[n:]
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(rest)
		if n <= 0 {
			err = errListing
			return 0
		}
		rest = rest[n:]
		return v
	}
	str := func() []byte {
		n := uv()
		if err != nil || n > uint64(len(rest)) {
			err = errListing
			return nil
		}
		s := rest[:n:n]
		rest = rest[n:]
		return s
	}
	count := uv()
	if err != nil || count > uint64(len(rest)) { // an entry takes bytes
		return nil, nil, errListing
	}
	hdrs, contents = make([]*tar.Header, 0, count), make([][]byte, 0, count)
	for range count {
		h := &tar.Header{Name: string(str())}
		if err == nil && len(rest) == 0 {
			err = errListing
		}
		if err != nil {
			return nil, nil, err
		}
		h.Typeflag, rest = rest[0], rest[1:]
		h.Mode, h.Uid, h.Gid = sv(), int(sv()), int(sv())
		h.Linkname = string(str())
		c := str()
		if err != nil {
			return nil, nil, err
		}
		if len(c) == 0 {
			c = nil
		}
		hdrs, contents = append(hdrs, h), append(contents, c)
	}
	if len(rest) != 0 {
		return nil, nil, errListing
	}
	return hdrs, contents, nil
}
