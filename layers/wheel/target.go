package wheel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// Target describes the interpreter that wheels are installed for: what pip
// inside the image would see. Paths are absolute image paths.
type Target struct {
	Python         string // "3.11"
	PythonFull     string // "3.11.2"; python_full_version in markers
	Implementation string // "cp"
	// Interpreter is written into script shebangs ("/usr/bin/python3").
	Interpreter string
	Purelib     string
	Platlib     string
	Scripts     string
	Data        string // the prefix .data/data installs under ("/usr/local")
	Headers     string // include dir; the distribution name is appended, as pip does
	Glibc       string // "2.36"; empty when not glibc
	Musl        string // "1.2"; empty when not musl
	Arch        string // "x86_64", "aarch64"
	// Installed are distributions already in the image, by normalized name.
	Installed map[string]InstalledDist
	// Owner, when set, owns what is installed under its prefix: a virtual
	// environment made for a user, who must be able to pip install into it.
	Owner *Owner `json:",omitempty"`
}

// Owner is the numeric owner of an environment's prefix.
type Owner struct {
	Prefix   string
	UID, GID int
}

// InstalledDist is a distribution found in one of the image's site directories.
type InstalledDist struct {
	Name     string
	Version  string
	SiteDir  string   // image path of the site directory holding it
	DistInfo string   // image path of its .dist-info or .egg-info
	Requires []string // Requires-Dist lines
	// Files are the image paths listed in its RECORD, so a replacing layer can
	// delete them as pip's uninstall would.
	Files []string
}

// MarkerEnv is the PEP 508 marker environment of the target.
func (t *Target) MarkerEnv() map[string]string {
	full := t.PythonFull
	if full == "" {
		full = t.Python + ".0"
	}
	impl, implName := "CPython", "cpython"
	switch t.Implementation {
	case "pp":
		impl, implName = "PyPy", "pypy"
	}
	arch := t.Arch
	if arch == "" {
		arch = "x86_64"
	}
	return map[string]string{
		"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux",
		"platform_machine": arch, "platform_python_implementation": impl,
		"implementation_name": implName, "implementation_version": full,
		"python_version": t.Python, "python_full_version": full,
		// The kernel is the build host's at run time; it cannot be known from the image.
		"platform_release": "", "platform_version": "",
	}
}

// ProbeOption changes how Probe reads an image.
type ProbeOption func(*probeConfig)

type probeConfig struct {
	arch, interpreter string
	logger            *slog.Logger
}

// WithProbeLogger sets where Probe logs (default slog.Default()).
func WithProbeLogger(l *slog.Logger) ProbeOption { return func(c *probeConfig) { c.logger = l } }

// WithInterpreter picks the interpreter when the image has several
// ("/usr/local/bin/python3.12", "/usr/bin/python3"): its prefix and version
// choose the install scheme. A name without a version is followed through
// its symbolic links inside the image.
func WithInterpreter(p string) ProbeOption { return func(c *probeConfig) { c.interpreter = p } }

// WithArch sets the architecture ("x86_64", "aarch64", or an OCI/Debian name
// such as "amd64", "arm64") instead of reading it from the image.
func WithArch(arch string) ProbeOption { return func(c *probeConfig) { c.arch = normalizeArch(arch) } }

func normalizeArch(a string) string {
	switch a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "armhf", "arm":
		return "armv7l"
	case "ppc64el":
		return "ppc64le"
	}
	return a
}

var pyDirRE = lazyregexp.New(`^python(3)\.(\d+)$`)

// Probe reads an image's root file system (never running it) and describes
// its Python the way pip in that image would install into it.
func Probe(root fs.FS, opts ...ProbeOption) (*Target, error) {
	cfg := &probeConfig{}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.interpreter != "" {
		if vt, ok, err := probeVenv(root, cfg); ok || err != nil {
			return vt, err
		}
	}
	t := &Target{Implementation: "cp"}
	// A python:3.X image has its own Python under /usr/local; Debian's is in /usr.
	var prefix string
	if cfg.interpreter != "" {
		var err error
		if prefix, t.Python, err = interpreterScheme(root, cfg.interpreter); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{"usr/local", "usr"} {
		if prefix != "" {
			break
		}
		if v := stdlibVersion(root, p); v != "" {
			prefix, t.Python = p, v
			break
		}
	}
	if prefix == "" {
		return nil, errors.New("probing image: no Python 3 standard library (lib/python3.X/os.py) under /usr/local or /usr; install python3 in the base image first")
	}
	// Debian's python3 makes pip install into /usr/local (its posix_local scheme).
	t.Purelib = systemPurelib(prefix, t.Python)
	t.Interpreter = "/" + prefix + "/bin/python3"
	t.Platlib, t.Scripts, t.Data = t.Purelib, "/usr/local/bin", "/usr/local"
	t.Headers = "/usr/local/include/python" + t.Python
	if prefix == "usr" {
		t.Headers = "/usr/include/python" + t.Python // where Debian's pip puts them
	}
	// pip writes sys.executable into shebangs; an existing pip script tells us which.
	for _, s := range []string{"usr/local/bin/pip" + t.Python, "usr/local/bin/pip3", "usr/local/bin/pip", "usr/bin/pip3"} {
		if cfg.interpreter != "" {
			t.Interpreter = cfg.interpreter
			break
		}
		if interp := shebang(root, s); interp != "" && strings.Contains(path.Base(interp), "python") {
			t.Interpreter = interp
			break
		}
	}
	status := readDpkgStatus(root)
	t.PythonFull = pythonFullVersion(root, prefix, t.Python, status)
	if err := probeSystem(root, t, status, cfg); err != nil {
		return nil, err
	}
	t.Installed = scanSiteDirs(root, systemSiteDirs(t, prefix), cfg.logger)
	return t, nil
}

// systemSiteDirs are the site directories of a system Python, in sys.path
// order: Debian's python3 also sees its packages' dist-packages.
func systemSiteDirs(t *Target, prefix string) []string {
	siteDirs := []string{t.Purelib}
	if prefix == "usr" {
		siteDirs = append(siteDirs, "/usr/lib/python3/dist-packages", "/usr/lib/python"+t.Python+"/dist-packages")
	}
	return siteDirs
}

// probeSystem fills in what the image's system gives every interpreter:
// architecture and C library.
func probeSystem(root fs.FS, t *Target, status map[string]dpkgPkg, cfg *probeConfig) error {
	t.Arch = cfg.arch
	if t.Arch == "" {
		t.Arch = probeArch(root, status)
	}
	if t.Arch == "" {
		return errors.New("probing image: cannot tell the architecture (no lib/<triplet> dir, ld-linux or dpkg status); pass WithArch")
	}
	t.Glibc = probeGlibc(root, status)
	t.Musl = probeMusl(root)
	if t.Glibc == "" && t.Musl == "" {
		cfg.logger.Debug("wheel: no C library found in image; only pure and linux_* wheels will match")
	}
	return nil
}

// scanSiteDirs lists the distributions of site directories; the first
// directory on sys.path holding a name wins.
func scanSiteDirs(root fs.FS, dirs []string, log *slog.Logger) map[string]InstalledDist {
	out := map[string]InstalledDist{}
	for _, d := range dirs {
		for _, dist := range scanSiteDir(root, d, log) {
			k := NormalizeName(dist.Name)
			if _, ok := out[k]; !ok {
				out[k] = dist
			}
		}
	}
	return out
}

// interpreterScheme turns an interpreter path into its prefix ("usr/local")
// and version ("3.12"), checking the image has that Python's standard library.
func interpreterScheme(root fs.FS, interp string) (prefix, version string, err error) {
	if !strings.HasPrefix(interp, "/") || path.Base(path.Dir(interp)) != "bin" {
		return "", "", fmt.Errorf("interpreter %q: give its absolute path in the image, e.g. /usr/local/bin/python3.12", interp)
	}
	name := path.Base(interp)
	// Follow "python3" -> "python3.11" inside the image.
	for hops := 0; !pyDirRE.MatchString(name) && hops < 8; hops++ {
		rl, ok := root.(interface{ ReadLink(string) (string, error) })
		if !ok {
			break
		}
		target, err := rl.ReadLink(rel(path.Join(path.Dir(interp), name)))
		if err != nil {
			break
		}
		name = path.Base(target)
	}
	m := pyDirRE.FindStringSubmatch(name)
	if m == nil {
		return "", "", fmt.Errorf("interpreter %q: cannot tell its version; name the versioned binary (python3.X)", interp)
	}
	prefix = rel(path.Dir(path.Dir(interp)))
	version = "3." + m[2]
	if _, err := fs.Stat(root, prefix+"/lib/python"+version+"/os.py"); err != nil {
		return "", "", fmt.Errorf("interpreter %s: the image has no standard library at /%s/lib/python%s", interp, prefix, version)
	}
	return prefix, version, nil
}

func rel(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func stdlibVersion(root fs.FS, prefix string) string {
	ents, err := fs.ReadDir(root, prefix+"/lib")
	if err != nil {
		return ""
	}
	best, bestMinor := "", -1
	for _, e := range ents {
		m := pyDirRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := fs.Stat(root, prefix+"/lib/"+e.Name()+"/os.py"); err != nil {
			continue
		}
		var minor int
		fmt.Sscan(m[2], &minor)
		if minor > bestMinor {
			best, bestMinor = "3."+m[2], minor
		}
	}
	return best
}

func shebang(root fs.FS, name string) string {
	f, err := root.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "#!/") {
		return ""
	}
	fields := strings.Fields(line[2:])
	if len(fields) != 1 { // "#!/bin/sh" trampolines and "env python" are not sys.executable
		return ""
	}
	return fields[0]
}

var pyVersionRE = lazyregexp.New(`#define\s+PY_VERSION\s+"(\d+\.\d+\.\d+)`)

func pythonFullVersion(root fs.FS, prefix, minor string, status map[string]dpkgPkg) string {
	for _, inc := range []string{prefix + "/include/python" + minor, "usr/include/python" + minor} {
		if b, err := fs.ReadFile(root, inc+"/patchlevel.h"); err == nil {
			if m := pyVersionRE.FindSubmatch(b); m != nil {
				return string(m[1])
			}
		}
	}
	for _, pkg := range []string{"python" + minor + "-minimal", "libpython" + minor + "-minimal", "python" + minor} {
		if p, ok := status[pkg]; ok {
			if m := regexp.MustCompile(`^(\d+\.\d+\.\d+)`).FindString(p.Version); m != "" {
				return m
			}
		}
	}
	return ""
}

type dpkgPkg struct{ Version, Arch string }

// readDpkgStatus reads installed packages from var/lib/dpkg/status (and the
// status.d directory distroless images use).
func readDpkgStatus(root fs.FS) map[string]dpkgPkg {
	out := map[string]dpkgPkg{}
	var blobs [][]byte
	if b, err := fs.ReadFile(root, "var/lib/dpkg/status"); err == nil {
		blobs = append(blobs, b)
	}
	if ents, err := fs.ReadDir(root, "var/lib/dpkg/status.d"); err == nil {
		for _, e := range ents {
			if b, err := fs.ReadFile(root, "var/lib/dpkg/status.d/"+e.Name()); err == nil {
				blobs = append(blobs, b)
			}
		}
	}
	for _, b := range blobs {
		for _, stanza := range bytes.Split(b, []byte("\n\n")) {
			h, err := parseHeaders(stanza)
			if err != nil || len(h["package"]) == 0 {
				continue
			}
			if st := h["status"]; len(st) > 0 && !strings.HasSuffix(st[0], " installed") {
				continue
			}
			p := dpkgPkg{}
			if v := h["version"]; len(v) > 0 {
				p.Version = v[0]
			}
			if a := h["architecture"]; len(a) > 0 {
				p.Arch = a[0]
			}
			out[h["package"][0]] = p
		}
	}
	return out
}

var tripletArch = map[string]string{
	"x86_64-linux-gnu": "x86_64", "aarch64-linux-gnu": "aarch64", "i386-linux-gnu": "i686",
	"arm-linux-gnueabihf": "armv7l", "powerpc64le-linux-gnu": "ppc64le", "s390x-linux-gnu": "s390x",
	"riscv64-linux-gnu": "riscv64",
}

func probeArch(root fs.FS, status map[string]dpkgPkg) string {
	if p, ok := status["libc6"]; ok && p.Arch != "" {
		return normalizeArch(p.Arch)
	}
	for _, d := range []string{"usr/lib", "lib"} {
		for trip, arch := range tripletArch {
			if fi, err := fs.Stat(root, d+"/"+trip); err == nil && fi.IsDir() {
				return arch
			}
		}
	}
	for _, d := range []string{"lib", "usr/lib", "lib64"} {
		ents, _ := fs.ReadDir(root, d)
		for _, e := range ents {
			n := e.Name()
			switch {
			case n == "ld-linux-x86-64.so.2":
				return "x86_64"
			case n == "ld-linux-aarch64.so.1":
				return "aarch64"
			case strings.HasPrefix(n, "ld-musl-") && strings.HasSuffix(n, ".so.1"):
				return strings.TrimSuffix(strings.TrimPrefix(n, "ld-musl-"), ".so.1")
			}
		}
	}
	return ""
}

var (
	libcFileRE   = lazyregexp.New(`^libc-(\d+\.\d+)\.so$`)
	glibcDebRE   = lazyregexp.New(`^(\d+\.\d+)`)
	glibcSymRE   = lazyregexp.New(`GLIBC_2\.(\d+)`)
	muslApkVerRE = lazyregexp.New(`(?m)^P:musl\nV:(\d+\.\d+)`)
)

// ProbeGlibc is the glibc version of an image's files ("2.36"), "" when it
// has none: what conda's __glibc virtual package is, without a Python.
func ProbeGlibc(root fs.FS) string { return probeGlibc(root, readDpkgStatus(root)) }

// probeGlibc finds the glibc version from libc-2.X.so file names (glibc
// before 2.34), the dpkg status of libc6, or the GLIBC_2.X symbol versions
// in libc.so.6.
func probeGlibc(root fs.FS, status map[string]dpkgPkg) string {
	dirs := []string{"lib", "lib64", "usr/lib", "usr/lib64"}
	for trip := range tripletArch {
		dirs = append(dirs, "lib/"+trip, "usr/lib/"+trip)
	}
	sort.Strings(dirs)
	var libc string
	for _, d := range dirs {
		ents, _ := fs.ReadDir(root, d)
		for _, e := range ents {
			if m := libcFileRE.FindStringSubmatch(e.Name()); m != nil {
				return m[1]
			}
			if e.Name() == "libc.so.6" && libc == "" {
				libc = d + "/libc.so.6"
			}
		}
	}
	for _, pkg := range []string{"libc6", "libc6-amd64", "libc6-arm64"} {
		if p, ok := status[pkg]; ok {
			if m := glibcDebRE.FindString(p.Version); m != "" {
				return m
			}
		}
	}
	if libc != "" {
		if b, err := fs.ReadFile(root, libc); err == nil {
			best := -1
			for _, m := range glibcSymRE.FindAllSubmatch(b, -1) {
				var n int
				fmt.Sscan(string(m[1]), &n)
				best = max(best, n)
			}
			if best >= 0 {
				return fmt.Sprintf("2.%d", best)
			}
		}
	}
	return ""
}

func probeMusl(root fs.FS) string {
	if b, err := fs.ReadFile(root, "lib/apk/db/installed"); err == nil {
		if m := muslApkVerRE.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// scanSiteDir lists the distributions in an image site directory.
func scanSiteDir(root fs.FS, dir string, log *slog.Logger) []InstalledDist {
	ents, err := fs.ReadDir(root, rel(dir))
	if err != nil {
		return nil
	}
	var out []InstalledDist
	for _, e := range ents {
		n := e.Name()
		p := path.Join(dir, n)
		var meta []byte
		switch {
		case strings.HasSuffix(n, ".dist-info"):
			meta, err = fs.ReadFile(root, rel(p)+"/METADATA")
		case strings.HasSuffix(n, ".egg-info"):
			meta, err = fs.ReadFile(root, rel(p)+"/PKG-INFO")
			if err != nil {
				meta, err = fs.ReadFile(root, rel(p)) // a single-file egg-info
			}
		default:
			continue
		}
		if err != nil {
			log.Debug("wheel: skipping unreadable installed distribution", "path", p, "err", err)
			continue
		}
		h, err := parseHeaders(meta)
		if err != nil || len(h["name"]) == 0 || len(h["version"]) == 0 {
			log.Debug("wheel: skipping installed distribution with bad metadata", "path", p)
			continue
		}
		d := InstalledDist{Name: h["name"][0], Version: h["version"][0], SiteDir: dir, DistInfo: p, Requires: h["requires-dist"]}
		if rec, err := fs.ReadFile(root, rel(p)+"/RECORD"); err == nil {
			rows, _ := parseRecord(rec)
			for _, r := range rows {
				d.Files = append(d.Files, path.Clean(path.Join(dir, r.path)))
			}
			slices.Sort(d.Files)
		}
		out = append(out, d)
	}
	return out
}
