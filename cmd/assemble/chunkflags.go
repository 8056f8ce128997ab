package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/internal/remote"
	"github.com/assemble-build/assemble/layers/remotecache"
	"github.com/assemble-build/assemble/oci/sink"
	"github.com/assemble-build/assemble/oci/sync"
)

// chunkFlags are --chunk-threshold and --chunk-size, for every command
// that uploads blobs to registries (build --push and its --cache-to, copy,
// sync): one policy handed down as each package's WithChunkedUpload.
type chunkFlags struct {
	threshold byteSize
	size      byteSize
}

func (c *chunkFlags) add(fl *pflag.FlagSet) {
	c.threshold = byteSize{n: remote.DefaultChunkThreshold, off: true}
	c.size = byteSize{n: remote.DefaultChunkSize}
	fl.Var(&c.threshold, "chunk-threshold", "upload blobs of at least this `SIZE` to registries in chunks (PATCHes resumed after a dropped connection): 1GiB, 500MB, 0 for every blob, off for none")
	fl.Var(&c.size, "chunk-size", "bytes per chunk of a chunked upload (`SIZE`: 64MiB, 100MB; a registry's minimum raises it)")
}

// values are the threshold and size as the packages take them: a negative
// threshold for off, 1 byte for 0 (their 0 is "the default").
func (c *chunkFlags) values() (threshold, size int64) {
	switch {
	case c.threshold.isOff:
		return -1, c.size.n
	case c.threshold.n == 0:
		return 1, c.size.n
	}
	return c.threshold.n, c.size.n
}

func (c *chunkFlags) sinkOption() sink.Option { return sink.WithChunkedUpload(c.values()) }
func (c *chunkFlags) syncOption() sync.Option { return sync.WithChunkedUpload(c.values()) }
func (c *chunkFlags) cacheOption() remotecache.Option {
	return remotecache.WithChunkedUpload(c.values())
}

// byteSize is a flag value in bytes: a number with an optional unit,
// binary (KiB, MiB, GiB, TiB; also K, M, G, T) or decimal (KB, MB, GB,
// TB), any case; with off set, also "off".
type byteSize struct {
	n     int64
	off   bool // "off" is accepted
	isOff bool
}

var sizeRE = lazyregexp.New(`^(?i)(\d+)\s*([kmgt]?)(i?)(b?)$`)

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	if b.off && strings.EqualFold(s, "off") {
		b.isOff = true
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n == 0 && !b.off {
		return errors.New("give a size over 0, such as 64MiB")
	}
	b.n, b.isOff = n, false
	return nil
}

func (b *byteSize) String() string {
	if b.isOff {
		return "off"
	}
	for _, u := range []struct {
		unit  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if b.n > 0 && b.n%(1<<u.shift) == 0 {
			return strconv.FormatInt(b.n>>u.shift, 10) + u.unit
		}
	}
	return strconv.FormatInt(b.n, 10)
}

func (b *byteSize) Type() string { return "size" }

// parseSize reads "64MiB", "1GiB", "100MB", "1048576".
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil || (m[3] != "" && m[2] == "") {
		return 0, fmt.Errorf("%q is not a size: give bytes with an optional unit, such as 64MiB, 1GiB or 500MB", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	exp := 0
	if m[2] != "" {
		exp = strings.Index("kmgt", strings.ToLower(m[2])) + 1
	}
	base := int64(1024)
	if m[3] == "" && m[4] != "" && m[2] != "" {
		base = 1000 // KB, MB: decimal
	}
	for range exp {
		if n > math.MaxInt64/base {
			return 0, fmt.Errorf("%q is too large", s)
		}
		n *= base
	}
	return n, nil
}
