// Package conda installs conda packages into image layers the way micromamba
// would, without conda, mamba or Python running.
//
// The pipeline mirrors layers/deb and layers/wheel: a channel's repodata.json
// per subdir (the target's and noarch) is read through the download store;
// MatchSpecs are resolved against it (conda's version ordering, depends and
// constrains, virtual packages from the probed image, strict channel
// priority) into a Solution; each package of the solution is fetched,
// checked against its repodata sha256, and unpacked (.conda or .tar.bz2)
// into the environment's prefix by the deterministic layer writer, with
// prefix placeholders replaced as info/paths.json says and conda-meta
// records written, so `conda list` in the image sees the environment.
//
// # Installing (NewLayer)
//
// A package file is fetched into the download store (Fetcher: https, http
// or file URLs; Offline for --offline) and kept only when its sha256 is the
// repodata's. It is then read in one streaming pass: a .conda file's
// info-*.tar.zst first, then its pkg-*.tar.zst; a .tar.bz2 file's one tar.
// Members named with "..", absolute names, devices and FIFOs are refused;
// regular files are staged back to back in one file per package in the
// cache's tmp/, read by offset while the layer is written, and removed
// after.
//
// The paths installed are those of info/paths.json (or, for packages older
// than it, info/files with info/has_prefix and info/no_link), as conda
// links them:
//
//   - hardlink: a file, with the package's mode. Every file of a layer is a
//     copy (conda's link type 3), so no_link changes nothing but is recorded.
//   - softlink: the package's symlink; one whose target is absolute or
//     leaves the prefix is refused.
//   - directory: an empty directory.
//   - a prefix_placeholder in text mode is replaced everywhere in the file,
//     and a shebang made longer than 127 bytes becomes
//     "#!/usr/bin/env <interpreter>"; in binary mode each NUL-terminated
//     string holding it gets the prefix and is padded with NULs to its
//     length, and a prefix longer than the placeholder is refused.
//
// A noarch: python package's site-packages/ goes to
// lib/pythonX.Y/site-packages and python-scripts/ to bin/, X.Y being the
// python record's version in the layer's solution or one below it
// (WithBelow); the entry points of info/link.json become the launcher
// scripts pip writes (internal/pyscript), run by <prefix>/bin/pythonX.Y.
// No .pyc files are compiled (conda compiles noarch: python packages when
// it links them; Python compiles on first import, or when the image runs
// `python -m compileall`), and no pre- or post-link scripts run.
//
// Each package gets conda-meta/<name>-<version>-<build>.json (its repodata
// record, files, paths_data with sha256_in_prefix, requested_spec, link),
// written as conda writes it (indent 2, sorted keys), and the layer writes
// conda-meta/history with a block per solution, its own last, at the time
// WithTime gives (SOURCE_DATE_EPOCH). Two packages writing one path: the
// later in the solution's order wins, with a warning, as with micromamba.
//
// The layer's key covers the solution (every record, sha256 included), the
// requested specs, the prefix, the solutions below, the owner and the time.
package conda
