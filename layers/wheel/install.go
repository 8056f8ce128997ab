package wheel

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/pyjson"
	"github.com/assemble-build/assemble/internal/pyscript"
	"github.com/assemble-build/assemble/layers"
)

// recordRow is one line of a RECORD file.
type recordRow struct {
	path string
	hash string // "sha256=<urlsafe-b64>" or ""
	size string
}

func parseRecord(b []byte) ([]recordRow, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var out []recordRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("malformed RECORD: %w", err)
		}
		if len(rec) == 0 || (len(rec) == 1 && rec[0] == "") {
			continue
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("malformed RECORD: row %q has %d fields, want 3", strings.Join(rec, ","), len(rec))
		}
		out = append(out, recordRow{rec[0], rec[1], rec[2]})
	}
}

// csvField quotes a field as Python's csv module (QUOTE_MINIMAL) does.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// recordHash is the RECORD form of a sha256 digest.
func recordHash(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(h[:])
}

func newRecordHasher(algo string) (hash.Hash, error) {
	switch algo {
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported RECORD hash algorithm %q (PEP 376 wants sha256 or stronger)", algo)
}

// installedFile is one file the layer writes.
type installedFile struct {
	dest string // absolute image path
	mode fs.FileMode
	size int64
	// Either data (generated or rewritten content) or a stored zip member.
	data   []byte
	member *zipMember
	// record is the RECORD row's hash and size ("" for RECORD itself).
	recHash, recSize string
}

// zipMember locates a wheel member's bytes so the layer writer can stream
// them without keeping the whole wheel in memory.
type zipMember struct {
	wheel  string
	offset int64
	csize  int64
	method uint16
}

func (m *zipMember) open() (io.ReadCloser, error) {
	f, err := os.Open(m.wheel)
	if err != nil {
		return nil, fmt.Errorf("opening wheel: %w", err)
	}
	sr := io.NewSectionReader(f, m.offset, m.csize)
	switch m.method {
	case zip.Store:
		return struct {
			io.Reader
			io.Closer
		}{sr, f}, nil
	case zip.Deflate:
		fr := flate.NewReader(sr)
		return struct {
			io.Reader
			io.Closer
		}{fr, closers{fr, f}}, nil
	}
	f.Close()
	return nil, fmt.Errorf("unsupported zip compression method %d", m.method)
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type entryPoint struct{ name, value string }

// parseEntryPoints reads the console_scripts and gui_scripts sections.
func parseEntryPoints(b []byte) (console, gui []entryPoint, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	section := ""
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, nil, fmt.Errorf("entry_points.txt line %d: %q is not \"name = value\"", n, line)
		}
		ep := entryPoint{strings.TrimSpace(k), strings.TrimSpace(v)}
		switch section {
		case "console_scripts":
			console = append(console, ep)
		case "gui_scripts":
			gui = append(gui, ep)
		}
	}
	return console, gui, sc.Err()
}

// installOptions are what pip knows about a wheel besides its file.
type installOptions struct {
	requested bool
	directURL string // written into direct_url.json when set (with its #sha256= fragment, if any)
}

// installWheel lays out a wheel as pip's installer would: the entries it
// writes, every file checked against the wheel's RECORD.
func installWheel(wheelPath, filename string, t *Target, opt installOptions) ([]installedFile, error) {
	w, err := openWheel(wheelPath, filename)
	if err != nil {
		return nil, err
	}
	defer w.zr.Close()
	h, err := w.readHeaders()
	if err != nil {
		return nil, err
	}
	libDir := t.Platlib
	if h.purelibRoot {
		libDir = t.Purelib
	}
	out, err := w.memberFiles(h, libDir, t)
	if err != nil {
		return nil, err
	}
	// Entry points, generated after the files, replace same-named scripts.
	scripts, err := w.entryPointScripts(t)
	if err != nil {
		return nil, err
	}
	out = append(out, scripts...)
	dist := path.Join(libDir, w.distInfo)
	out = append(out, distInfoFiles(dist, opt)...)
	uniq := dedupeByDest(out)
	rec, err := recordFile(uniq, libDir, w.distInfo)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", filename, err)
	}
	return append(uniq, rec), nil
}

// wheelArchive is an open wheel with its members checked for safe names.
type wheelArchive struct {
	path, filename string
	zr             *zip.ReadCloser
	members        map[string]*zip.File
	names          []string // sorted
	distInfo       string
}

// openWheel opens a wheel, refusing unsafe or repeated member names, and
// finds its .dist-info directory. The caller closes w.zr.
func openWheel(wheelPath, filename string) (*wheelArchive, error) {
	zr, err := zip.OpenReader(wheelPath)
	if err != nil {
		return nil, fmt.Errorf("wheel %s is not a valid zip file: %w", filename, err)
	}
	if _, err := ParseWheelFilename(filename); err != nil {
		zr.Close()
		return nil, err
	}
	w := &wheelArchive{path: wheelPath, filename: filename, zr: zr, members: map[string]*zip.File{}}
	if err := w.index(); err != nil {
		zr.Close()
		return nil, err
	}
	return w, nil
}

func (w *wheelArchive) index() error {
	for _, f := range w.zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if err := checkMemberName(f.Name); err != nil {
			return fmt.Errorf("wheel %s: %w", w.filename, err)
		}
		if _, dup := w.members[f.Name]; dup {
			return fmt.Errorf("wheel %s: member %s appears twice", w.filename, f.Name)
		}
		w.members[f.Name] = f
		w.names = append(w.names, f.Name)
	}
	sort.Strings(w.names)
	di, err := findDistInfo(&w.zr.Reader, w.filename)
	w.distInfo = di
	return err
}

// read returns a member's content (at most 64 MiB).
func (w *wheelArchive) read(name string) ([]byte, error) {
	f := w.members[name]
	if f == nil {
		return nil, fmt.Errorf("wheel %s has no %s", w.filename, name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", w.filename, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %s: %w", w.filename, name, err)
	}
	return b, nil
}

// wheelHeaders is what the .dist-info says about installing the wheel.
type wheelHeaders struct {
	purelibRoot bool
	meta        *Metadata
	record      map[string]recordRow
}

// readHeaders checks WHEEL (version 1.x), METADATA (the file name's project
// and version) and reads RECORD.
func (w *wheelArchive) readHeaders() (*wheelHeaders, error) {
	wf, _ := ParseWheelFilename(w.filename)
	wheelMeta, err := w.read(w.distInfo + "/WHEEL")
	if err != nil {
		return nil, err
	}
	wh, err := parseHeaders(wheelMeta)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: malformed WHEEL file: %w", w.filename, err)
	}
	if v := wh["wheel-version"]; len(v) == 0 || !strings.HasPrefix(v[0], "1.") {
		return nil, fmt.Errorf("wheel %s: Wheel-Version %v is not supported (want 1.x)", w.filename, v)
	}
	h := &wheelHeaders{purelibRoot: len(wh["root-is-purelib"]) > 0 && strings.EqualFold(wh["root-is-purelib"][0], "true")}
	mb, err := w.read(w.distInfo + "/METADATA")
	if err != nil {
		return nil, err
	}
	if h.meta, err = ParseMetadata(mb); err != nil {
		return nil, fmt.Errorf("wheel %s: %w", w.filename, err)
	}
	if NormalizeName(h.meta.Name) != NormalizeName(wf.Name) {
		return nil, fmt.Errorf("wheel %s: METADATA names project %q", w.filename, h.meta.Name)
	}
	if mv, fv := mustParse(h.meta.Version), mustParse(wf.Version); mv.Compare(fv) != 0 {
		return nil, fmt.Errorf("wheel %s: METADATA has version %s, the file name %s", w.filename, h.meta.Version, wf.Version)
	}
	recb, err := w.read(w.distInfo + "/RECORD")
	if err != nil {
		return nil, err
	}
	rows, err := parseRecord(recb)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", w.filename, err)
	}
	h.record = map[string]recordRow{}
	for _, r := range rows {
		h.record[r.path] = r
	}
	return h, nil
}

// memberFiles places every member (verified against RECORD) in its scheme's
// directory, except the .dist-info files pip writes itself.
func (w *wheelArchive) memberFiles(h *wheelHeaders, libDir string, t *Target) ([]installedFile, error) {
	dataPrefix := strings.TrimSuffix(w.distInfo, ".dist-info") + ".data/"
	var out []installedFile
	for _, name := range w.names {
		switch name {
		case w.distInfo + "/RECORD", w.distInfo + "/RECORD.jws", w.distInfo + "/RECORD.p7s",
			w.distInfo + "/INSTALLER", w.distInfo + "/REQUESTED", w.distInfo + "/direct_url.json":
			continue // pip writes these itself
		}
		inf, err := w.memberFile(name, h, dataPrefix, libDir, t)
		if err != nil {
			return nil, err
		}
		out = append(out, inf)
	}
	return out, nil
}

// memberFile verifies one member and places it; a script whose first line
// is #!python gets the target's interpreter, as pip's fix_script does.
func (w *wheelArchive) memberFile(name string, h *wheelHeaders, dataPrefix, libDir string, t *Target) (installedFile, error) {
	f := w.members[name]
	row, ok := h.record[name]
	if !ok {
		return installedFile{}, fmt.Errorf("wheel %s: %s is not listed in RECORD; the wheel is corrupt", w.filename, name)
	}
	if err := verifyMember(f, row); err != nil {
		return installedFile{}, fmt.Errorf("wheel %s: %w", w.filename, err)
	}
	dest, script, err := destination(name, dataPrefix, libDir, h.meta.Name, t)
	if err != nil {
		return installedFile{}, fmt.Errorf("wheel %s: %w", w.filename, err)
	}
	mode := fs.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		mode = 0o755
	}
	off, err := f.DataOffset()
	if err != nil {
		return installedFile{}, fmt.Errorf("wheel %s: %s: %w", w.filename, name, err)
	}
	inf := installedFile{dest: dest, mode: mode, size: int64(f.UncompressedSize64), recHash: row.hash, recSize: row.size,
		member: &zipMember{wheel: w.path, offset: off, csize: int64(f.CompressedSize64), method: f.Method}}
	if !script {
		return inf, nil
	}
	// pip keeps the zip's mode here too: a script not marked
	// executable in the wheel stays 0644.
	b, err := w.read(name)
	if err != nil {
		return installedFile{}, err
	}
	if bytes.HasPrefix(b, []byte("#!python")) {
		// pip's fix_script: the whole first line becomes the interpreter.
		rest := b[len(b):]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			rest = b[i+1:]
		}
		nb := append([]byte("#!"+t.Interpreter+"\n"), rest...)
		inf.data, inf.member, inf.size = nb, nil, int64(len(nb))
		inf.recHash, inf.recSize = recordHash(nb), strconv.Itoa(len(nb))
	}
	return inf, nil
}

// entryPointScripts makes the console and GUI launchers of entry_points.txt.
func (w *wheelArchive) entryPointScripts(t *Target) ([]installedFile, error) {
	name := w.distInfo + "/entry_points.txt"
	if w.members[name] == nil {
		return nil, nil
	}
	b, err := w.read(name)
	if err != nil {
		return nil, err
	}
	console, gui, err := parseEntryPoints(b)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", w.filename, err)
	}
	var out []installedFile
	for _, ep := range append(pipScripts(console, t.Python), gui...) {
		if ep.name == "" || strings.ContainsAny(ep.name, "/\\") || ep.name == "." || ep.name == ".." {
			return nil, fmt.Errorf("wheel %s: entry point name %q is not a file name", w.filename, ep.name)
		}
		b, err := pyscript.Launcher(t.Interpreter, ep.name, ep.value)
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %w", w.filename, err)
		}
		out = append(out, generated(path.Join(t.Scripts, ep.name), 0o755, b))
	}
	return out, nil
}

// distInfoFiles are the files pip adds to the .dist-info: INSTALLER,
// REQUESTED for a requested distribution, direct_url.json for a URL.
func distInfoFiles(dist string, opt installOptions) []installedFile {
	out := []installedFile{generated(dist+"/INSTALLER", 0o644, []byte("pip\n"))}
	if opt.requested {
		out = append(out, generated(dist+"/REQUESTED", 0o644, nil))
	}
	if opt.directURL != "" {
		// pip records a hash only when the URL carried one (#sha256=...).
		u, frag, _ := strings.Cut(opt.directURL, "#")
		du, ai := pyjson.Object(), pyjson.Object()
		du.Set("url", pyjson.String(u))
		du.Set("archive_info", ai)
		if algo, h, ok := strings.Cut(frag, "="); ok && algo == "sha256" {
			hashes := pyjson.Object()
			hashes.Set("sha256", pyjson.String(h))
			ai.Set("hash", pyjson.String("sha256="+h))
			ai.Set("hashes", hashes)
		}
		// pip: json.dumps(direct_url.to_dict(), sort_keys=True).
		out = append(out, generated(dist+"/direct_url.json", 0o644, pyjson.Marshal(du, pyjson.SortKeys())))
	}
	return out
}

// dedupeByDest keeps the last file at each path, in the first one's place,
// as later files replace earlier ones on a file system.
func dedupeByDest(files []installedFile) []installedFile {
	byDest := map[string]int{}
	var uniq []installedFile
	for _, f := range files {
		if i, ok := byDest[f.dest]; ok {
			uniq[i] = f
			continue
		}
		byDest[f.dest] = len(uniq)
		uniq = append(uniq, f)
	}
	return uniq
}

// recordFile writes RECORD as pip does: a row per installed file, its path
// relative to libDir, plus RECORD's own empty row; sorted, CRLF-terminated.
func recordFile(files []installedFile, libDir, distInfo string) (installedFile, error) {
	type line struct{ p, h, s string }
	var lines []line
	for _, f := range files {
		rp, err := filepath.Rel(libDir, f.dest)
		if err != nil {
			return installedFile{}, err
		}
		lines = append(lines, line{filepath.ToSlash(rp), f.recHash, f.recSize})
	}
	lines = append(lines, line{distInfo + "/RECORD", "", ""})
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.p != b.p {
			return a.p < b.p
		}
		if a.h != b.h {
			return a.h < b.h
		}
		return a.s < b.s
	})
	var rec strings.Builder
	for _, l := range lines {
		rec.WriteString(csvField(l.p) + "," + csvField(l.h) + "," + csvField(l.s) + "\r\n")
	}
	data := []byte(rec.String())
	return installedFile{dest: path.Join(libDir, distInfo, "RECORD"), mode: 0o644, data: data, size: int64(len(data))}, nil
}

func mustParse(s string) Version {
	v, _ := ParseVersion(s)
	return v
}

func generated(dest string, mode fs.FileMode, b []byte) installedFile {
	if b == nil {
		b = []byte{}
	}
	return installedFile{dest: dest, mode: mode, data: b, size: int64(len(b)), recHash: recordHash(b), recSize: strconv.Itoa(len(b))}
}

// pipScripts applies pip's special case for pip's and setuptools' own
// versioned launchers (pip, pip3, pip3.X; easy_install, easy_install-3.X).
func pipScripts(console []entryPoint, pyVersion string) []entryPoint {
	var out []entryPoint
	var pip, easy string
	pipRE := regexp.MustCompile(`^pip(\d+(\.\d+)?)?$`)
	easyRE := regexp.MustCompile(`^easy_install(-\d+\.\d+)?$`)
	for _, ep := range console {
		switch {
		case ep.name == "pip":
			pip = ep.value
		case ep.name == "easy_install":
			easy = ep.value
		}
	}
	major, _, _ := strings.Cut(pyVersion, ".")
	if pip != "" {
		out = append(out, entryPoint{"pip", pip}, entryPoint{"pip" + major, pip}, entryPoint{"pip" + pyVersion, pip})
	}
	if easy != "" {
		out = append(out, entryPoint{"easy_install", easy}, entryPoint{"easy_install-" + pyVersion, easy})
	}
	for _, ep := range console {
		if (pip != "" && pipRE.MatchString(ep.name)) || (easy != "" && easyRE.MatchString(ep.name)) {
			continue
		}
		out = append(out, ep)
	}
	return out
}

// checkMemberName refuses zip member names that could land outside the
// install directories.
func checkMemberName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("member %q has an absolute or unsafe path; refusing to install it", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return fmt.Errorf("member %q leaves the install directory (\"..\"); refusing to install it", name)
		}
	}
	if len(name) >= 2 && name[1] == ':' {
		return fmt.Errorf("member %q has a drive letter; refusing to install it", name)
	}
	return nil
}

// destination maps a wheel member to its installed path (PEP 427/491).
func destination(name, dataPrefix, libDir, project string, t *Target) (string, bool, error) {
	top, rest, _ := strings.Cut(name, "/")
	base, root := libDir, name
	script := false
	if strings.HasSuffix(top, ".data") {
		if top+"/" != dataPrefix {
			return "", false, fmt.Errorf("member %s is in an unexpected .data directory (want %s)", name, dataPrefix)
		}
		scheme, sub, ok := strings.Cut(rest, "/")
		if !ok || sub == "" {
			return "", false, fmt.Errorf("member %s is directly in the .data directory; it must be in a scheme subdirectory", name)
		}
		switch scheme {
		case "purelib":
			base = t.Purelib
		case "platlib":
			base = t.Platlib
		case "scripts":
			base, script = t.Scripts, true
		case "data":
			base = t.Data
		case "headers":
			base = path.Join(t.Headers, project)
		default:
			return "", false, fmt.Errorf("member %s uses unknown scheme %q (want purelib, platlib, scripts, data or headers)", name, scheme)
		}
		root = sub
	}
	dest := path.Clean(path.Join(base, root))
	if !strings.HasPrefix(dest, strings.TrimSuffix(base, "/")+"/") {
		return "", false, fmt.Errorf("member %s leaves its install directory %s; refusing to install it", name, base)
	}
	return dest, script, nil
}

// verifyMember checks a member's content against its RECORD row.
func verifyMember(f *zip.File, row recordRow) error {
	algo, want, ok := strings.Cut(row.hash, "=")
	if !ok || want == "" {
		return fmt.Errorf("%s has no hash in RECORD; the wheel is corrupt", f.Name)
	}
	h, err := newRecordHasher(algo)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	got := base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	if got != strings.TrimRight(want, "=") {
		return fmt.Errorf("%s does not match its RECORD hash (%s=%s, RECORD says %s); the wheel is corrupt or was altered", f.Name, algo, got, row.hash)
	}
	if row.size != "" && row.size != strconv.FormatInt(n, 10) {
		return fmt.Errorf("%s is %d bytes, RECORD says %s; the wheel is corrupt", f.Name, n, row.size)
	}
	return nil
}

// toEntries turns installed files into layer entries with their parent
// directories, as pip leaves them: files 0644 (0755 when executable),
// directories 0755, owned by root.
func toEntries(files []installedFile) ([]layers.Entry, error) {
	var out []layers.Entry
	dirs := map[string]bool{}
	for _, f := range files {
		p, err := layers.CleanPath(f.dest)
		if err != nil {
			return nil, err
		}
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			out = append(out, layers.Entry{Path: d, Type: layers.TypeDir, Mode: 0o755})
		}
		f := f
		e := layers.Entry{Path: p, Type: layers.TypeFile, Mode: f.mode, Size: f.size}
		if f.member != nil {
			e.Open = f.member.open
		} else {
			data := f.data
			e.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		out = append(out, e)
	}
	return out, nil
}
