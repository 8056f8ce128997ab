package binder

import "fmt"

// UnsupportedError is a repository repo2docker builds with a buildpack that
// assemble cannot honour yet. It names the file that chose the buildpack and
// what to use instead, so that no image is built that differs silently.
type UnsupportedError struct {
	// File is the repository-relative file that selected the buildpack.
	File string
	// Buildpack is repo2docker's class name ("CondaBuildPack").
	Buildpack string
	// Why says what the buildpack needs that assemble lacks.
	Why string
	// Instead says what to use.
	Instead string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: repo2docker builds this repository with its %s, which assemble cannot honour yet (%s). Instead: %s", e.File, e.Buildpack, e.Why, e.Instead)
}

// unsupported is the error for a buildpack assemble does not implement.
func unsupported(r *repo, d *detection) error {
	e := &UnsupportedError{File: d.reason, Buildpack: d.buildpack}
	switch d.buildpack {
	case Conda:
		e.Why = "it installs R from conda, and repo2docker then adds IRkernel, devtools, RStudio and Shiny, which assemble does not"
		e.Instead = "Debian's R: r-base and r-cran-* packages in " + r.path("apt.txt") + ", pip packages in " + r.path("requirements.txt") + " and no " + d.reason +
			" (while it is there repo2docker ignores requirements.txt and Pipfile), or add " + r.path("Dockerfile") + " FROM an R image such as docker.io/rocker/binder"
	case R:
		e.Why = "it installs R from Posit's packages and runs install.R or DESCRIPTION with a CRAN snapshot"
		if r.exists(r.path("install.R")) {
			e.File += " (with " + r.path("install.R") + ")"
		}
		e.Instead = "Debian's R: r-base and r-cran-* packages in " + r.path("apt.txt") + " (and no r- line in runtime.txt), or add " + r.path("Dockerfile") + " FROM an R image such as docker.io/rocker/binder"
	case JuliaProjectToml:
		e.Why = "it downloads Julia and instantiates the project with Pkg"
		e.Instead = "add " + r.path("Dockerfile") + " FROM docker.io/library/julia that runs Pkg.instantiate()"
	case JuliaRequire:
		e.Why = "REQUIRE files are no longer supported by repo2docker either; its JuliaRequireBuildPack always fails"
		e.Instead = "describe the environment in a Project.toml (which repo2docker builds; assemble does not yet), or add " + r.path("Dockerfile") + " FROM docker.io/library/julia"
	case Nix:
		e.Why = "it installs Nix and runs nix-shell on default.nix"
		e.Instead = "add " + r.path("Dockerfile") + " FROM docker.io/nixos/nix, or list Debian packages in " + r.path("apt.txt") + " and pip packages in " + r.path("requirements.txt")
	default:
		e.Why = "assemble has no support for it"
		e.Instead = "add " + r.path("Dockerfile")
	}
	return e
}
