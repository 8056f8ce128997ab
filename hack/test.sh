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
# cmd/assemble's end-to-end tests are most of the suite's time, and a test
# package runs its tests one after another: they run as two processes at
# once, each every other test, beside the other packages, so that both cores
# stay busy (one process took 25 minutes alone on a slower machine of this
# kind). Each job's output is shown whole when it ends.
mapfile -t e2e < <(go test -list '.*' ./cmd/assemble | grep -E '^(Test|Fuzz|Example)')
if [ "${#e2e[@]}" -lt 2 ]; then
  echo "cmd/assemble lists ${#e2e[@]} tests: go test -list failed"; exit 1
fi
shard() { # shard K: a -run pattern for every other test from the K-th
  local names=() k
  for ((k = $1; k < ${#e2e[@]}; k += 2)); do names+=("${e2e[k]}"); done
  local IFS='|'
  echo "^(${names[*]})\$"
}
logs=$(mktemp -d)
go test -count=1 -timeout 25m $(go list ./... | grep -v '/cmd/assemble$') >"$logs/packages" 2>&1 &
pids=($!)
for k in 0 1; do
  go test -count=1 -timeout 25m -run "$(shard $k)" ./cmd/assemble >"$logs/e2e$k" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$logs/packages" "$logs/e2e0" "$logs/e2e1" | tee /tmp/assemble-go-test.log
rm -rf "$logs"
if [ "$status" != 0 ]; then
  echo "go test failed"
  exit 1
fi

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
