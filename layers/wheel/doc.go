// Package wheel installs Python distributions into an image layer the way
// `pip install` would, without running pip or Python.
//
// The pipeline is: ParseRequirements (pip's requirements-file syntax) ->
// Probe (the image's interpreter, install scheme, libc and architecture, and
// what is already installed) -> Resolver.Resolve (PEP 440/508 resolution with
// backtracking against PEP 503/691 indexes, PEP 658 metadata and wheelhouse
// directories) -> NewLayer (a layers.Spec that lays the wheels out as pip's
// installer does, PEP 427/491).
//
// Deliberate differences from pip, each for reproducibility:
//   - Only wheels are installed. A project whose candidate versions have only
//     sdists is an error that says to build a wheel into a wheelhouse; newer
//     sdist-only versions are skipped when an older version has a wheel (pip
//     would build the newer sdist).
//   - No .pyc files are written (pip compiles by default). Python compiles
//     modules on first import; an image that wants them precompiled can run
//     `python -m compileall` in a later step.
//   - INSTALLER says "pip", so `pip list`, `pip uninstall` and `pip install
//     --upgrade` in the running image treat these distributions as their own.
//   - The kernel-dependent markers platform_release and platform_version are
//     empty: the kernel that will run the image is unknown at build time.
package wheel
