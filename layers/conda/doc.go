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
package conda
