package wheel

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
	"github.com/assemble-build/assemble/layers"
)

// A virtual environment (PEP 405) is a directory with a pyvenv.cfg over a
// base interpreter: pip inside it installs into its own lib/pythonX.Y/
// site-packages, scripts into its bin/ with its bin/python in their
// shebangs, and data under the environment's prefix. Probe takes that scheme
// when the interpreter it is given lives in one.

// pyvenvCfg is the part of pyvenv.cfg that decides the install scheme.
type pyvenvCfg struct {
	home          string // the base interpreter's directory ("/usr/bin")
	version       string // "3.11.2"
	systemPackage bool   // include-system-site-packages
}

var venvVersionRE = lazyregexp.New(`^(\d+)\.(\d+)(\.\d+)?`)

// readPyvenvCfg parses pyvenv.cfg as site.py does: "key = value" lines.
func readPyvenvCfg(b []byte) pyvenvCfg {
	var c pyvenvCfg
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "home":
			c.home = v
		case "version", "version_info":
			if c.version == "" {
				c.version = v
			}
		case "include-system-site-packages":
			c.systemPackage = strings.EqualFold(v, "true")
		}
	}
	return c
}

// probeVenv describes the virtual environment cfg.interpreter belongs to;
// ok is false when it belongs to none (no pyvenv.cfg beside its bin/).
func probeVenv(root fs.FS, cfg *probeConfig) (*Target, bool, error) {
	interp := cfg.interpreter
	if !strings.HasPrefix(interp, "/") || path.Base(path.Dir(interp)) != "bin" {
		return nil, false, nil // interpreterScheme says what is wrong
	}
	prefix := path.Dir(path.Dir(interp))
	b, err := fs.ReadFile(root, rel(prefix+"/pyvenv.cfg"))
	if err != nil {
		return nil, false, nil
	}
	vc := readPyvenvCfg(b)
	m := venvVersionRE.FindStringSubmatch(vc.version)
	if m == nil || m[1] != "3" {
		return nil, true, fmt.Errorf("virtual environment %s: pyvenv.cfg gives no Python 3 version (version = %q); recreate it with python3 -m venv", prefix, vc.version)
	}
	if vc.home == "" || !strings.HasPrefix(vc.home, "/") {
		return nil, true, fmt.Errorf("virtual environment %s: pyvenv.cfg gives no absolute home (the base interpreter's directory); recreate it with python3 -m venv", prefix)
	}
	t := &Target{Implementation: "cp", Python: m[1] + "." + m[2], Interpreter: interp}
	base := path.Dir(vc.home) // "/usr" for home = /usr/bin
	if _, err := fs.Stat(root, rel(base+"/lib/python"+t.Python+"/os.py")); err != nil {
		return nil, true, fmt.Errorf("virtual environment %s: its base Python %s has no standard library at %s/lib/python%s in the image", prefix, vc.home, base, t.Python)
	}
	t.Purelib = prefix + "/lib/python" + t.Python + "/site-packages"
	t.Platlib, t.Scripts, t.Data = t.Purelib, prefix+"/bin", prefix
	// pip's venv scheme puts headers under include/site/pythonX.Y.
	t.Headers = prefix + "/include/site/python" + t.Python
	status := readDpkgStatus(root)
	t.PythonFull = vc.version
	if m[3] == "" {
		t.PythonFull = pythonFullVersion(root, rel(base), t.Python, status)
	}
	if err := probeSystem(root, t, status, cfg); err != nil {
		return nil, true, err
	}
	// Whoever owns the environment owns what pip would install into it.
	if fi, err := fs.Stat(root, rel(prefix)); err == nil {
		if h, ok := fi.Sys().(*tar.Header); ok && (h.Uid != 0 || h.Gid != 0) {
			t.Owner = &Owner{Prefix: prefix, UID: h.Uid, GID: h.Gid}
		}
	}
	dirs := []string{t.Purelib}
	if vc.systemPackage {
		baseTarget := &Target{Python: t.Python, Purelib: systemPurelib(rel(base), t.Python)}
		dirs = append(dirs, systemSiteDirs(baseTarget, rel(base))...)
	}
	t.Installed = scanSiteDirs(root, dirs, cfg.logger)
	return t, true, nil
}

// systemPurelib is where pip puts packages for the system Python at prefix
// ("usr/local" or Debian's "usr").
func systemPurelib(prefix, version string) string {
	if prefix == "usr" {
		return "/usr/local/lib/python" + version + "/dist-packages"
	}
	return "/" + prefix + "/lib/python" + version + "/site-packages"
}

// apply gives the entries under the owner's prefix to the owner (the
// directories above it stay root's, as they are in the image).
func (o *Owner) apply(entries []layers.Entry) error {
	if o == nil {
		return nil
	}
	prefix, err := layers.CleanPath(o.Prefix)
	if err != nil {
		return err
	}
	for i := range entries {
		if p := entries[i].Path; p == prefix || strings.HasPrefix(p, prefix+"/") {
			entries[i].UID, entries[i].GID = o.UID, o.GID
		}
	}
	return nil
}
