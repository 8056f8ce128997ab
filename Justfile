# Recipes for people who have `just` (npm install -g rust-just).

# Build the sample repository into an OCI layout (no registry, no credentials).
sample:
    go run ./cmd/assemble build testdata/hello -o oci:out/layout

# The whole test suite, installing the tools it needs.
test:
    hack/test.sh

# Formatting, vet and staticcheck only.
lint:
    gofmt -l $(git ls-files '*.go')
    go vet ./...
    staticcheck ./...

# Benchmarks side by side with peer tools; prints ratios.
bench:
    bench/run.sh

# Go micro-benchmarks.
gobench:
    go test -run '^$' -bench . -benchtime 3x ./layers/

build:
    go build -o bin/assemble ./cmd/assemble
