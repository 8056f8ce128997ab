package layers

import (
	"sort"
	"strings"
	"sync"
)

// InputLog records the inputs a build took from the download store: every
// download it read or wrote (by digest) and every ref it followed or set
// (name -> digest). `assemble bundle` builds once with a log and carries
// exactly those entries to a machine with no network, where they fill an
// empty cache and an offline build finds everything it looks up.
type InputLog struct {
	mu        sync.Mutex
	downloads map[string]bool   // "sha256:<hex>"
	refs      map[string]string // name -> "sha256:<hex>"
	derived   map[string]string // download -> the download it is made from
}

// LogInputs starts recording the download store's uses in the returned log
// (replacing any earlier log of this cache).
func (c *Cache) LogInputs() *InputLog {
	l := &InputLog{downloads: map[string]bool{}, refs: map[string]string{}, derived: map[string]string{}}
	c.mu.Lock()
	c.inputs = l
	c.mu.Unlock()
	return l
}

// LoggingInputs reports whether a log is recording the download store's
// uses: sources read from the host (local package directories) are then
// copied into the store too, so that the bundle can carry them.
func (c *Cache) LoggingInputs() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inputs != nil
}

// LogDerived records that the download d is made, offline too, from the
// download src and verified as it is made (an uncompressed Packages index
// from its .xz, checked against the signed Release), so a bundle that
// carries src leaves d out.
func (c *Cache) LogDerived(d, src string) {
	c.mu.Lock()
	l := c.inputs
	c.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	l.derived[d] = src
	l.downloads[src] = true
	l.mu.Unlock()
}

// DerivedFrom returns the download d is made from, if one was logged.
func (l *InputLog) DerivedFrom(d string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	src, ok := l.derived[d]
	return src, ok
}

func (c *Cache) logDownload(digest string) {
	c.mu.Lock()
	l := c.inputs
	c.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	l.downloads[digest] = true
	l.mu.Unlock()
}

func (c *Cache) logRef(name, digest string) {
	c.mu.Lock()
	l := c.inputs
	c.mu.Unlock()
	if l == nil {
		return
	}
	digest = strings.TrimSpace(digest)
	l.mu.Lock()
	l.refs[name] = digest
	l.downloads[digest] = true
	l.mu.Unlock()
}

// Downloads is every download recorded, sorted.
func (l *InputLog) Downloads() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.downloads))
	for d := range l.downloads {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Refs is every ref recorded (name -> digest).
func (l *InputLog) Refs() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.refs))
	for n, d := range l.refs {
		out[n] = d
	}
	return out
}
