#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian bookworm machine: installs the
# tools the tests use (skopeo, umoci, podman, docker-registry, ...) when they
# are missing, then gofmt, go vet, staticcheck and go test. It does not install
# libbtrfs-dev: the build needs no btrfs headers (cmd/assemble's install_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  skopeo umoci podman runc uidmap docker-registry mmdebstrap
  pigz zstd xz-utils hyperfine busybox-static file debian-archive-keyring
  python3 python3-dev python3-pip gcc python3-pip-whl python3-setuptools-whl python3-wheel-whl
  buildah python3-pydantic conda-package-handling
)
hack/apt-install.sh "${packages[@]}"

export PATH="$(go env GOPATH)/bin:$PATH"
command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2

# oras v1.2.3, the devfile clients' tool, pulls pushed stacks back in the
# tests. It is installed from a throwaway module that requires it:
# `go install oras.land/oras/cmd/oras@v1.2.3` also asks the proxy for the
# module's version list, which some proxies refuse.
install_oras() {
  local mod
  mod=$(mktemp -d)
  printf 'module orasinstall\n\ngo 1.24.2\n\nrequire oras.land/oras v1.2.3\n' >"$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "oras.land/oras/cmd/oras"\n' >"$mod/tools.go"
  (cd "$mod" && GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off CGO_ENABLED=0 go install oras.land/oras/cmd/oras)
  rm -rf "$mod"
}
command -v oras >/dev/null || install_oras

# Every tool is installed now: a test that finds one missing fails instead
# of skipping (internal/testtool).
export CI="${CI:-true}"

# Downloads (Debian packages) are shared between runs of the suite.
export ASSEMBLE_TEST_CACHE="${ASSEMBLE_TEST_CACHE:-/var/tmp/assemble-test-cache}"
mkdir -p "$ASSEMBLE_TEST_CACHE"

echo "--- gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "--- go vet"
go vet ./...
echo "--- staticcheck"
staticcheck ./...
echo "--- go test"
go test -count=1 -timeout 25m ./... 2>&1 | tee /tmp/assemble-go-test.log

# Every parser of user input has a fuzz target; each runs briefly from its
# seed corpus (and testdata/fuzz, where found crashers are kept).
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report its own deadline as a failure (golang/go#75804).
fuzztime="${FUZZTIME:-1000x}"
echo "--- fuzz (${fuzztime} per target)"
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
  pkg="./$(dirname "${file#./}")"
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$file"); do
    echo "$pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done

# One closing line for CI logs: packages passed and failed.
passed=$(grep -c '^ok ' /tmp/assemble-go-test.log || true)
failed=$(grep -c '^FAIL	' /tmp/assemble-go-test.log || true)
echo "packages: ${passed} passed, ${failed} failed"
