#!/usr/bin/env bash
# A simulated CI fleet sharing one registry layer cache (--cache-from,
# --cache-to). Not a test: numbers depend on the machine. Needs: go,
# docker-registry, curl, bc.
#
#   bench/fleet.sh          6 runners, 3 repositories, 2 waves of 3 at once
#
# Each runner starts with an empty --cache-dir (as an ephemeral CI runner
# does) and pushes its repository to a local docker-registry. The three
# repositories share a large layer (the same directory) and each has one of
# its own. Printed: layers built and wall time of the fleet without and
# with the shared cache, the cache requests each runner made, and a
# hit-only build (empty --cache-dir, every layer in the shared cache)
# against a no-op rebuild on a warm --cache-dir.
set -euo pipefail
cd "$(dirname "$0")/.."
work=/var/tmp/assemble-fleet-$$-$RANDOM
mkdir -p "$work"
regpid=""
trap '[ -z "$regpid" ] || kill "$regpid" 2>/dev/null || true; rm -rf "$work"' EXIT
runners=${RUNNERS:-6}
wave=${WAVE:-3}
mb=${SHARED_MB:-40}

go build -o "$work/assemble" ./cmd/assemble
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
A="$work/assemble --progress plain --insecure-registry $host"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n' "$work/reg" "$host" > "$work/reg.yml"

fresh_registry() {
  [ -z "$regpid" ] || { kill "$regpid"; wait "$regpid" 2>/dev/null || true; }
  rm -rf "$work/reg"; mkdir -p "$work/reg"
  docker-registry serve "$work/reg.yml" >/dev/null 2>&1 &
  regpid=$!
  for _ in $(seq 100); do curl -fsS "http://$host/v2/" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "docker-registry did not start" >&2; exit 1
}

# Three repositories: one shared directory (a vendored SDK, say) and their own.
head -c $((mb * 1000000)) /dev/urandom > "$work/sdk.bin"
for r in 0 1 2; do
  repo="$work/repo$r"
  mkdir -p "$repo/sdk" "$repo/app"
  cp "$work/sdk.bin" "$repo/sdk/"
  head -c 5000000 /dev/urandom > "$repo/app/app$r.bin"
  printf '[[image]]\nname = "app%s"\ntags = ["1"]\n[[image.layer]]\ndir = "sdk"\ndest = "/opt/sdk"\n[[image.layer]]\ndir = "app"\ndest = "/app"\n' "$r" > "$repo/assemble.toml"
done

# fleet FLAGS...: run the runners in waves, each with an empty cache;
# prints "layers-built seconds" and leaves each runner's stderr in $work.
fleet() {
  local s e built=0
  s=$(date +%s.%N)
  for first in $(seq 0 "$wave" $((runners - 1))); do
    for i in $(seq "$first" $((first + wave - 1))); do
      [ "$i" -lt "$runners" ] || continue
      r=$((i % 3))
      $A --cache-dir "$work/runner$i" build "$work/repo$r" -o "docker://$host/fleet/app$r-$i:1" --json "$@" > "$work/out$i.json" 2> "$work/err$i" &
    done
    wait
  done
  e=$(date +%s.%N)
  for i in $(seq 0 $((runners - 1))); do
    built=$((built + $(grep -c '"cached": false' "$work/out$i.json" || true)))
    rm -rf "$work/runner$i"
  done
  printf '%s %.3f' "$built" "$(echo "$e - $s" | bc -l)"
}

echo "== fleet of $runners runners (waves of $wave), 3 repositories sharing a ${mb} MB layer, empty --cache-dir each"
fresh_registry
read -r built t <<<"$(fleet)"
echo "  without a shared cache: $built layers built, ${t}s"
fresh_registry
cache="docker://$host/fleet/cache"
read -r built t <<<"$(fleet --cache-from "$cache" --cache-to "$cache")"
echo "  with --cache-from/--cache-to $cache: $built layers built, ${t}s"
for i in $(seq 0 $((runners - 1))); do
  echo "    runner $i: $(grep -h 'shared cache' "$work/err$i" | sed -e 's/.*shared cache [^ ]* (cache-to): /to: /' -e 's/.*shared cache [^ ]*: /from: /' | paste -sd ';' -)"
done

echo "== hit-only build against a no-op rebuild on a warm --cache-dir (repo0, best of 3)"
$A --cache-dir "$work/warm" build "$work/repo0" -o "docker://$host/fleet/warm:1" >/dev/null 2>&1
best() {
  local b="" s e t
  for _ in 1 2 3; do
    rm -rf "$work/empty"
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
  done
  printf '%.3f' "$b"
}
warm=$(best $A --cache-dir "$work/warm" build "$work/repo0" -o "docker://$host/fleet/warm:1")
hit=$(best $A --cache-dir "$work/empty" build "$work/repo0" -o "docker://$host/fleet/hit:1" --cache-from "$cache")
echo "  warm --cache-dir ${warm}s; empty --cache-dir with --cache-from ${hit}s (layers mounted, not downloaded)"
