package wheel

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// WheelFile is a parsed wheel file name (PEP 427).
type WheelFile struct {
	Name     string // as in the file name (underscores for dashes)
	Version  string
	Build    string // build tag or ""
	Python   []string
	ABI      []string
	Platform []string
}

// ParseWheelFilename parses "name-1.0(-build)-py3-none-any.whl".
func ParseWheelFilename(fn string) (WheelFile, error) {
	if !strings.HasSuffix(fn, ".whl") {
		return WheelFile{}, fmt.Errorf("wheel file name %q: does not end in .whl", fn)
	}
	parts := strings.Split(strings.TrimSuffix(fn, ".whl"), "-")
	var w WheelFile
	switch len(parts) {
	case 5:
	case 6:
		w.Build = parts[2]
		if w.Build == "" || w.Build[0] < '0' || w.Build[0] > '9' {
			return WheelFile{}, fmt.Errorf("wheel file name %q: build tag %q must start with a digit", fn, w.Build)
		}
		parts = append(parts[:2], parts[3:]...)
	default:
		return WheelFile{}, fmt.Errorf("wheel file name %q: expected name-version[-build]-python-abi-platform.whl", fn)
	}
	w.Name, w.Version = parts[0], parts[1]
	if nameRE.FindString(w.Name) != w.Name {
		return WheelFile{}, fmt.Errorf("wheel file name %q: bad project name %q", fn, w.Name)
	}
	if _, err := ParseVersion(w.Version); err != nil {
		return WheelFile{}, fmt.Errorf("wheel file name %q: %w", fn, err)
	}
	w.Python = strings.Split(parts[2], ".")
	w.ABI = strings.Split(parts[3], ".")
	w.Platform = strings.Split(parts[4], ".")
	return w, nil
}

// Tags lists every "python-abi-platform" tag the file carries.
func (w WheelFile) Tags() []string {
	var out []string
	for _, p := range w.Python {
		for _, a := range w.ABI {
			for _, pl := range w.Platform {
				out = append(out, p+"-"+a+"-"+pl)
			}
		}
	}
	return out
}

// buildKey orders build tags: by the leading number, then the rest.
func buildKey(b string) (int, string) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(b[:i])
	return n, b[i:]
}

// Tags lists the tags the target's interpreter accepts, best first, in the
// order of packaging.tags.sys_tags (what pip uses).
func (t *Target) Tags() ([]string, error) {
	major, minor, err := t.pyVersion()
	if err != nil {
		return nil, err
	}
	plats := t.platforms()
	impl := t.Implementation
	if impl == "" {
		impl = "cp"
	}
	var out []string
	add := func(py, abi string, ps []string) {
		for _, p := range ps {
			out = append(out, py+"-"+abi+"-"+p)
		}
	}
	interp := fmt.Sprintf("%s%d%d", impl, major, minor)
	if impl == "cp" {
		add(interp, interp, plats)
		abi3 := major == 3 && minor >= 2
		if abi3 {
			add(interp, "abi3", plats)
		}
		add(interp, "none", plats)
		if abi3 {
			for m := minor - 1; m > 1; m-- {
				add(fmt.Sprintf("cp%d%d", major, m), "abi3", plats)
			}
		}
	} else {
		add(interp, "none", plats)
	}
	pyRange := []string{fmt.Sprintf("py%d%d", major, minor), fmt.Sprintf("py%d", major)}
	for m := minor - 1; m >= 0; m-- {
		pyRange = append(pyRange, fmt.Sprintf("py%d%d", major, m))
	}
	for _, v := range pyRange {
		add(v, "none", plats)
	}
	out = append(out, interp+"-none-any")
	for _, v := range pyRange {
		out = append(out, v+"-none-any")
	}
	return out, nil
}

// ranks are tag priorities (Tags' order, lower is better) by what Tags
// reads of a target. A run resolves many requirement sets for one
// interpreter (a Domino repository's groups, twice each): the map of a
// thousand tags is made once. Values are never changed.
var ranks sync.Map // string -> map[string]int

// tagRanks maps each tag the target accepts to its place in Tags.
func (t *Target) tagRanks() (map[string]int, error) {
	key := strings.Join([]string{t.Implementation, t.Python, t.Arch, t.Glibc, t.Musl}, "\x00")
	if m, ok := ranks.Load(key); ok {
		return m.(map[string]int), nil
	}
	tags, err := t.Tags()
	if err != nil {
		return nil, err
	}
	rank := make(map[string]int, len(tags))
	for i, tag := range tags {
		if _, ok := rank[tag]; !ok {
			rank[tag] = i
		}
	}
	m, _ := ranks.LoadOrStore(key, rank)
	return m.(map[string]int), nil
}

func (t *Target) pyVersion() (int, int, error) {
	a, b, ok := strings.Cut(t.Python, ".")
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("target Python version %q: expected MAJOR.MINOR", t.Python)
	}
	return major, minor, nil
}

// legacyManylinux maps glibc versions to the pre-PEP 600 tag names.
var legacyManylinux = map[[2]int]string{{2, 17}: "manylinux2014", {2, 12}: "manylinux2010", {2, 5}: "manylinux1"}

// platforms lists platform tags best first: manylinux (or musllinux), then
// linux_<arch>, as packaging's _linux_platforms.
func (t *Target) platforms() []string {
	arch := t.Arch
	if arch == "" {
		arch = "x86_64"
	}
	var out []string
	if maj, min, ok := parseMajorMinor(t.Glibc); ok && t.Musl == "" {
		tooOld := [2]int{2, 16}
		if arch == "x86_64" || arch == "i686" {
			tooOld = [2]int{2, 4}
		}
		for m := min; m > tooOld[1] && maj == 2; m-- {
			out = append(out, fmt.Sprintf("manylinux_%d_%d_%s", maj, m, arch))
			if l, ok := legacyManylinux[[2]int{maj, m}]; ok {
				out = append(out, l+"_"+arch)
			}
		}
	}
	if maj, min, ok := parseMajorMinor(t.Musl); ok {
		for m := min; m >= 0; m-- {
			out = append(out, fmt.Sprintf("musllinux_%d_%d_%s", maj, m, arch))
		}
	}
	return append(out, "linux_"+arch)
}

func parseMajorMinor(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, ".")
	if !ok {
		return 0, 0, false
	}
	if i := strings.IndexByte(b, '.'); i >= 0 {
		b = b[:i]
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return x, y, err1 == nil && err2 == nil
}
