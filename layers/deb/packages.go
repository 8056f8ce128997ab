package deb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/assemble-build/assemble/layers"
	"pault.ag/go/debian/version"
)

// packagesFile is one component's Packages index of a verified Release.
type packagesFile struct {
	src  Source
	rel  *release
	comp string
	base string // "main/binary-amd64/Packages"
	// path is the uncompressed index when Client.Index already had to
	// fetch (and so verify) it; "" when it was found in the cache and is
	// verified when parsed.
	path string
}

// name is the index's URL, for messages.
func (pf *packagesFile) name() string { return pf.rel.url + pf.base }

// indexFiles returns the Release's entries for a component's index: the
// uncompressed one and the first compressed one listed (xz, else gz).
func (pf *packagesFile) indexFiles() (plain releaseFile, hasPlain bool, comprName string, compr releaseFile) {
	plain, hasPlain = pf.rel.sha256[pf.base]
	for _, ext := range []string{".xz", ".gz"} {
		if f, ok := pf.rel.sha256[pf.base+ext]; ok {
			return plain, hasPlain, pf.base + ext, f
		}
	}
	return plain, hasPlain, "", releaseFile{}
}

// preparePackages makes sure a component's index is in the cache without
// reading it: when the uncompressed index the Release names is there, that
// is all (it is verified when parsed); otherwise it is fetched and verified
// now, so a missing or tampered index fails Client.Index as it always did.
func (c *Client) preparePackages(ctx context.Context, src Source, rel *release, comp string) (*packagesFile, error) {
	pf := &packagesFile{src: src, rel: rel, comp: comp, base: comp + "/binary-" + src.Arch + "/Packages"}
	plain, hasPlain, comprName, compr := pf.indexFiles()
	if comprName == "" && !hasPlain {
		return nil, fmt.Errorf("%sInRelease lists no %s index", rel.url, pf.base)
	}
	if hasPlain && comprName != "" {
		// A bundle carries the compressed index alone: offline, it is
		// decompressed and checked against the signed Release again.
		c.cache.LogDerived("sha256:"+plain.hex, "sha256:"+compr.hex)
	}
	if hasPlain {
		if fi, err := os.Stat(c.downloadPathOf("sha256:" + plain.hex)); err == nil && fi.Mode().IsRegular() && fi.Size() == plain.size {
			return pf, nil
		}
	}
	p, err := c.packagesPath(ctx, pf)
	if err != nil {
		return nil, err
	}
	pf.path = p
	return pf, nil
}

// packagesPath returns the verified, uncompressed index in the cache,
// fetching and decompressing it when needed. The uncompressed index is kept
// too (its hash is in the Release), so a later build neither downloads nor
// decompresses it.
func (c *Client) packagesPath(ctx context.Context, pf *packagesFile) (string, error) {
	rel := pf.rel
	plain, hasPlain, comprName, compr := pf.indexFiles()
	urlsFor := func(name string, f releaseFile) []string {
		u := []string{}
		if rel.byHash {
			u = append(u, rel.url+path.Dir(name)+"/by-hash/SHA256/"+f.hex)
		}
		return append(u, rel.url+name)
	}
	if comprName == "" {
		return c.download(ctx, plain.hex, urlsFor(pf.base, plain)...)
	}
	decompress := func(ctx context.Context, w io.Writer) error {
		cp, err := c.download(ctx, compr.hex, urlsFor(comprName, compr)...)
		if err != nil {
			return err
		}
		f, err := os.Open(cp)
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := bulkDecompressor(comprName, f)
		if err != nil {
			return fmt.Errorf("%s%s: %w", rel.url, comprName, err)
		}
		defer r.Close()
		if _, err := io.Copy(w, r); err != nil {
			return fmt.Errorf("decompressing %s%s: %w", rel.url, comprName, err)
		}
		return nil
	}
	want := ""
	if hasPlain {
		want = "sha256:" + plain.hex
	}
	p, _, err := c.cache.Download(ctx, want, decompress)
	if err != nil && errors.Is(err, layers.ErrDigestMismatch) {
		err = fmt.Errorf("%s%s does not match the hash in the signed Release: %w", rel.url, pf.base, err)
	}
	return p, err
}

// parsePackages reads one component's index, calling add for every package
// of the architecture.
func (c *Client) parsePackages(pf *packagesFile, arch string, add func(*Package)) error {
	o := &origin{mirror: pf.src.Mirror, suite: pf.rel.suite, component: pf.comp, notAuto: pf.rel.notAuto}
	if pf.path != "" {
		data, err := readWhole(pf.path)
		if err != nil {
			return fmt.Errorf("reading cached %s: %w", pf.name(), err)
		}
		return parsePackagesIndex(data, pf.name(), arch, o, add)
	}
	// Client.Index found the index in the cache; it is verified here, as
	// it is parsed: the hash runs beside the parse, and no package is added
	// before it has matched.
	plain, _, _, _ := pf.indexFiles()
	var data string
	var err error
	if data, err = readWhole(c.downloadPathOf("sha256:" + plain.hex)); err == nil {
		hashed := make(chan string, 1)
		go func() {
			// The hash only reads the string's bytes: no 50 MB copy.
			sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(data), len(data)))
			hashed <- hex.EncodeToString(sum[:])
		}()
		verified := func() error {
			if <-hashed != plain.hex {
				return errStaleIndex
			}
			return nil
		}
		err = parseIndexChunks(data, pf.name(), arch, o, indexChunk, verified, add)
		if !errors.Is(err, errStaleIndex) {
			return err
		}
	}
	// Gone or damaged since: fetch it again (or, offline, say it is
	// missing). Parsing happens outside any build step's context, hence
	// Background.
	p, err := c.packagesPath(context.Background(), pf)
	if err != nil {
		return err
	}
	if data, err = readWhole(p); err != nil {
		return fmt.Errorf("reading cached %s: %w", pf.name(), err)
	}
	return parsePackagesIndex(data, pf.name(), arch, o, add)
}

// errStaleIndex says a cached index no longer has the hash its Release
// names.
var errStaleIndex = errors.New("cached index does not match its Release")

// readWhole reads a file as one string: the packages' fields are
// substrings of it, not copies. The file is read in one call into a buffer
// of its size, which the string then owns (nothing writes to it again).
func readWhole(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// The fields of an index paragraph a Package is made of.
const (
	fPackage = iota
	fArchitecture
	fVersion
	fMultiArch
	fPriority
	fSection
	fEssential
	fSource
	fDepends
	fPreDepends
	fProvides
	fConflicts
	fBreaks
	fFilename
	fSHA256
	fSize
	fInstalledSize
	numFields
)

var indexFieldNames = [numFields]string{
	"Package", "Architecture", "Version", "Multi-Arch", "Priority", "Section",
	"Essential", "Source", "Depends", "Pre-Depends", "Provides", "Conflicts",
	"Breaks", "Filename", "SHA256", "Size", "Installed-Size",
}

// indexFieldID is a field name's number, or -1 for a field a Package does
// not keep. Names are case-insensitive; the usual spelling is matched first.
func indexFieldID(name string) int {
	switch name {
	case "Package":
		return fPackage
	case "Architecture":
		return fArchitecture
	case "Version":
		return fVersion
	case "Multi-Arch":
		return fMultiArch
	case "Priority":
		return fPriority
	case "Section":
		return fSection
	case "Essential":
		return fEssential
	case "Source":
		return fSource
	case "Depends":
		return fDepends
	case "Pre-Depends":
		return fPreDepends
	case "Provides":
		return fProvides
	case "Conflicts":
		return fConflicts
	case "Breaks":
		return fBreaks
	case "Filename":
		return fFilename
	case "SHA256":
		return fSHA256
	case "Size":
		return fSize
	case "Installed-Size":
		return fInstalledSize
	case "Description", "Description-md5", "Maintainer", "Homepage", "Tag",
		"MD5sum", "Recommends", "Suggests", "Replaces", "Enhances",
		"Built-Using", "Static-Built-Using", "Original-Maintainer", "Protected":
		return -1
	}
	for i, n := range indexFieldNames {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// fieldSpan is where a field's value lies in the index text: from the first
// character after "Name:" and its blanks to the end of its last line.
type fieldSpan struct {
	start, end int
	multi      bool // has continuation lines
	set        bool
}

// trimCR drops one trailing carriage return.
func trimCR(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\r' {
		return s[:n-1]
	}
	return s
}

// parsePackagesIndex reads a Packages index the way readParagraphs and
// packageFromParagraph do, with the same results and errors, but keeps
// only the fields a Package needs, as substrings of data. It is the cold
// path of every build's resolution, so it avoids per-line copies, and
// parses pieces of the index on every core (see parseIndexChunks).
func parsePackagesIndex(data, name, arch string, o *origin, add func(*Package)) error {
	return parseIndexChunks(data, name, arch, o, indexChunk, nil, add)
}

// indexChunk is about how many bytes of an index one goroutine parses at a
// time: bookworm's 50 MB main index is a dozen pieces, so the pieces after
// the first are parsed while the packages of those before are added.
const indexChunk = 4 << 20

// parseIndexChunks cuts data at blank lines into pieces of about chunk
// bytes and parses them on up to GOMAXPROCS goroutines. A blank line ends
// a paragraph whatever came before it, so each piece parses alone exactly
// as it would in one pass; the packages are added in the index's order,
// and the error is the first one in that order. ready, when not nil, is
// waited for before the first package is added; its error is returned
// as it is.
func parseIndexChunks(data, name, arch string, o *origin, chunk int, ready func() error, add func(*Package)) error {
	cuts := indexCuts(data, chunk)
	type piece struct {
		pkgs []*Package
		err  error
		done chan struct{}
	}
	pieces := make([]piece, len(cuts)-1)
	for i := range pieces {
		pieces[i].done = make(chan struct{})
	}
	var next atomic.Int64
	var quit atomic.Bool // set when the result no longer matters
	defer quit.Store(true)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(pieces)); w++ {
		go func() {
			for i := int(next.Add(1) - 1); i < len(pieces); i = int(next.Add(1) - 1) {
				pc := &pieces[i]
				if !quit.Load() {
					p := &indexParser{data: data, name: name, arch: arch, o: o, last: -1}
					p.add = func(pkg *Package) { pc.pkgs = append(pc.pkgs, pkg) }
					pc.err = p.parseRange(cuts[i], cuts[i+1])
				}
				close(pc.done)
			}
		}()
	}
	if ready != nil {
		if err := ready(); err != nil {
			return err
		}
	}
	for i := range pieces {
		pc := &pieces[i]
		<-pc.done
		if pc.err != nil {
			// Its line numbers count from the piece's start: parse it
			// again, numbered from the index's.
			p := &indexParser{data: data, name: name, arch: arch, o: o, last: -1, add: func(*Package) {},
				line: strings.Count(data[:cuts[i]], "\n")}
			return p.parseRange(cuts[i], cuts[i+1])
		}
		for _, pkg := range pc.pkgs {
			add(pkg)
		}
	}
	return nil
}

// indexCuts returns where the pieces of data begin, and len(data): each cut
// after the first is the start of a line that is empty.
func indexCuts(data string, chunk int) []int {
	cuts := []int{0}
	for pos := chunk; pos < len(data); {
		i := strings.Index(data[pos:], "\n\n")
		if i < 0 {
			break
		}
		cut := pos + i + 1
		cuts = append(cuts, cut)
		pos = cut + chunk
	}
	return append(cuts, len(data))
}

// parseRange parses the lines of data[start:end] (end is the end of data
// or the start of a line), then ends the paragraph the last one was in.
func (p *indexParser) parseRange(start, end int) error {
	var lineEnd int
	for pos := start; pos < end; pos = lineEnd + 1 {
		if i := strings.IndexByte(p.data[pos:end], '\n'); i >= 0 {
			lineEnd = pos + i
		} else {
			lineEnd = end
		}
		if err := p.readLine(pos, lineEnd); err != nil {
			return err
		}
	}
	return p.flush()
}

// indexParser is parsePackagesIndex's state: the current paragraph's field
// spans and where it began.
type indexParser struct {
	data, name, arch string
	o                *origin
	add              func(*Package)

	spans  [numFields]fieldSpan
	inPara bool
	paraAt int // line of the paragraph's first field
	last   int // the field continuation lines extend, or -1
	line   int
	slab   []Package // packages are allocated in blocks
}

// readLine reads the line data[start:lineEnd]: a blank line ends the
// paragraph, a continuation line extends the last field, a field line
// records where its value is.
func (p *indexParser) readLine(start, lineEnd int) error {
	p.line++
	// bufio.ScanLines drops one carriage return, readParagraphs another.
	text := trimCR(trimCR(p.data[start:lineEnd]))
	if isBlank(text) {
		return p.flush()
	}
	if text[0] == '#' && !p.inPara {
		return nil
	}
	if text[0] == ' ' || text[0] == '\t' {
		if !p.inPara {
			return fmt.Errorf("%s line %d: continuation line without a field", p.name, p.line)
		}
		if p.last >= 0 {
			p.spans[p.last].end = lineEnd
			p.spans[p.last].multi = true
		}
		return nil
	}
	colon := strings.IndexByte(text, ':')
	if colon <= 0 {
		return fmt.Errorf("%s line %d: expected \"Field: value\", got %q", p.name, p.line, truncate(text, 60))
	}
	fname := text[:colon]
	if hasBlank(fname) {
		return fmt.Errorf("%s line %d: bad field name %q", p.name, p.line, truncate(fname, 60))
	}
	if !p.inPara {
		p.inPara, p.paraAt = true, p.line
		p.spans = [numFields]fieldSpan{}
	}
	p.last = -1
	if id := indexFieldID(fname); id >= 0 && !p.spans[id].set {
		rest := text[colon+1:]
		v := strings.TrimLeft(rest, " \t")
		p.spans[id] = fieldSpan{start: start + colon + 1 + len(rest) - len(v), end: lineEnd, set: true}
		p.last = id
	}
	return nil
}

// value is what paragraph.get returns: trimmed when it is one line, the
// raw lines (carriage returns dropped) otherwise.
func (p *indexParser) value(id int) string {
	s := p.spans[id]
	if !s.set {
		return ""
	}
	raw := p.data[s.start:s.end]
	if !s.multi {
		return strings.TrimSpace(raw)
	}
	parts := strings.Split(raw, "\n")
	for i, l := range parts {
		parts[i] = trimCR(trimCR(l))
	}
	return strings.Join(parts, "\n")
}

// folded is a relationship field on one line.
func (p *indexParser) folded(id int) string {
	v := p.value(id)
	if !p.spans[id].multi {
		return v
	}
	return strings.Join(strings.Fields(v), " ")
}

// flush ends the current paragraph: a package for the target architecture
// (or "all") is checked and added.
func (p *indexParser) flush() error {
	if !p.inPara {
		return nil
	}
	p.inPara, p.last = false, -1
	pname := p.value(fPackage)
	if pname == "" {
		return fmt.Errorf("%s line %d: paragraph without Package field", p.name, p.paraAt)
	}
	if !validName(pname) {
		return fmt.Errorf("%s line %d: bad package name %q", p.name, p.paraAt, pname)
	}
	a := p.value(fArchitecture)
	if a != p.arch && a != "all" {
		return nil
	}
	vs := p.value(fVersion)
	v, err := version.Parse(vs)
	if err != nil {
		return fmt.Errorf("%s line %d: package %s: bad version %q: %v", p.name, p.paraAt, pname, vs, err)
	}
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]Package, 0, 1024)
	}
	p.slab = append(p.slab, Package{
		Name:         pname,
		Version:      vs,
		Architecture: a,
		MultiArch:    p.value(fMultiArch),
		Priority:     p.value(fPriority),
		Section:      p.value(fSection),
		Essential:    strings.EqualFold(p.value(fEssential), "yes"),
		Source:       p.value(fSource),
		Depends:      p.folded(fDepends),
		PreDepends:   p.folded(fPreDepends),
		Provides:     p.folded(fProvides),
		Conflicts:    p.folded(fConflicts),
		Breaks:       p.folded(fBreaks),
		Filename:     p.value(fFilename),
		SHA256:       strings.ToLower(p.value(fSHA256)),
		ver:          v,
		target:       p.arch,
		origin:       p.o,
	})
	pkg := &p.slab[len(p.slab)-1]
	if s := p.value(fSize); s != "" {
		pkg.Size, _ = strconv.ParseInt(s, 10, 64)
	}
	if s := p.value(fInstalledSize); s != "" {
		pkg.InstalledSize, _ = strconv.ParseInt(s, 10, 64)
	}
	if err := checkPoolPath(pkg.Filename); err != nil {
		return fmt.Errorf("%s line %d: %w", p.name, p.paraAt, err)
	}
	if len(pkg.SHA256) != 64 {
		return fmt.Errorf("%s line %d: package %s has no SHA256", p.name, p.paraAt, pkg.Name)
	}
	p.add(pkg)
	return nil
}

// hasBlank is strings.ContainsAny(s, " \t"), which is slow on short strings.
func hasBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			return true
		}
	}
	return false
}

// isBlank is strings.TrimSpace(s) == "" without the trimming.
func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
		default:
			if s[i] < 0x80 {
				return false
			}
			return strings.TrimSpace(s) == ""
		}
	}
	return true
}
