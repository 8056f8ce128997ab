#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian bookworm machine: installs the
# tools the tests use (skopeo, umoci, podman, docker-registry, ...) when they
# are missing, then gofmt, go vet, staticcheck and go test.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  skopeo umoci podman runc uidmap docker-registry mmdebstrap
  pigz zstd hyperfine busybox-static file debian-archive-keyring
  python3 python3-dev python3-pip gcc python3-pip-whl python3-setuptools-whl python3-wheel-whl
  libbtrfs-dev buildah python3-pydantic
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export PATH="$(go env GOPATH)/bin:$PATH"
command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2

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
