#!/usr/bin/env bash
# Benchmarks assemble side by side with peer tools in one run and prints
# ratios. Not a test: numbers depend on the machine. Needs go; installs the
# peers and tools it compares with when they are missing (pigz, zstd,
# skopeo, docker-registry, mmdebstrap, buildah, podman, GNU time, git,
# Debian's wheel packages).
#
#   bench/run.sh            all benchmarks
#   bench/run.sh layer      one of: layer noop push bigpush memory debian python sync dockerfile pieces binder scale bounds plan
#   BENCH_SCRATCH=/big/disk BIGPUSH_GIB=3 bench/run.sh bigpush   where the 3 GiB push case puts its ~10 GB, and its size
#   SCALE_FILES="1000 5000" bench/run.sh scale   other repository sizes for the scale case
#   SCALE_BIG=1 BENCH_SCRATCH=/big/disk bench/run.sh scale   adds a 5 GB repository (about 12 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
hack/apt-install.sh pigz zstd xz-utils skopeo docker-registry mmdebstrap buildah podman runc uidmap \
  time git python3 python3-pip python3-pip-whl python3-setuptools-whl python3-wheel-whl debian-archive-keyring
# Lower-case: buildah and podman take an oci: layout path as an image name.
work=/var/tmp/assemble-bench-$$-$RANDOM
mkdir -p "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
runs=${RUNS:-3}
only=${1:-all}

go build -o "$work/assemble" ./cmd/assemble
A="$work/assemble --progress none"

# best_of N CMD...: the fastest wall time (seconds) of N runs.
best_of() {
  local n=$1; shift
  local best=""
  for _ in $(seq "$n"); do
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>"$work/err" || { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
# median X...: the middle value (the mean of the two middle ones for an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : sprintf("%.2f", (a[NR/2] + a[NR/2+1]) / 2)}'; }

if [ "$only" = all ] || [ "$only" = layer ]; then
  # A tree of a few hundred MB: Go's own distribution (sources, tools, binaries).
  tree="$work/tree"
  cp -a /usr/local/go "$tree"
  printf '[[image]]\nname = "tree"\n[[image.layer]]\ndir = "."\n' > "$tree/assemble.toml"
  mb=$(du -sm --apparent-size "$tree" | cut -f1)
  echo "== layer write, ${mb} MB tree (best of $runs, each run of ours beside one of the peer's; load average $(cut -d' ' -f1-3 /proc/loadavg))"
  min_of() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
  # wall_cpu CMD...: the wall and CPU (user + system, children included) seconds of one run.
  wall_cpu() {
    /usr/bin/time -f '%e %U %S' -o "$work/wc" "$@" >/dev/null 2>"$work/err" || { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }
    awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/wc"
  }
  declare -A peers
  # layer_case COMP [TAR_ARGS]: ours and the peer's, best of $runs, each run of ours beside one of the peer's.
  layer_case() {
    local comp=$1 tarargs=${2:-} peercmd name goal ours="" peer="" ourscpu="" peercpu="" tc t c oursize peersize
    if [ "$comp" = gzip ]; then
      # pigz's default level is 6.
      peercmd="tar --sort=name $tarargs -C $tree -cf - . | pigz -6 -p2 > $work/peer.out" name="tar --sort=name | pigz -6 -p2" goal=1.4
    else
      peercmd="tar --sort=name $tarargs -C $tree -cf - . | zstd -q -3 -T2 > $work/peer.out" name="tar --sort=name | zstd -3 -T2" goal=0.9
    fi
    local pairs="" ot
    for _ in $(seq "$runs"); do
      # A new cache and layout each run. Each side's output is deleted after its
      # run, outside the clock: left in place, ours would be written back to disk
      # (after 30 s, while later runs are timed), where the peer's, truncated by
      # its next run, never is.
      tc=$(wall_cpu $A --cache-dir "$work/run/c" build "$tree" -o "oci:$work/run/o" --compression "$comp")
      read -r t c <<< "$tc"
      ours=$(min_of "$ours" "$t") ourscpu=$(min_of "$ourscpu" "$c") ot=$t
      # The image's one layer is the largest blob of the layout.
      oursize=$(find "$work/run/o/blobs" -type f -printf '%s\n' | sort -n | tail -1)
      rm -rf "$work/run"
      tc=$(wall_cpu bash -c "$peercmd")
      read -r t c <<< "$tc"
      peer=$(min_of "$peer" "$t") peercpu=$(min_of "$peercpu" "$c")
      peersize=$(stat -c %s "$work/peer.out")
      rm -f "$work/peer.out"
      pairs+="$(ratio "$t" "$ot") "
    done
    peers[$comp]=$peer
    echo "  $comp: assemble ${ours}s  $name ${peer}s  throughput ratio assemble/peer: $(ratio "$peer" "$ours")x (goal >= $goal)"
    # Each run of ours and the peer's run beside it share the machine's state of
    # that moment: the median of those pairs' ratios moves less with the machine's
    # speed, which drifts by tens of percent here within minutes, than the two bests.
    echo "  $comp, run by run (peer/assemble, each run of ours with the peer's beside it): $pairs -> median $(median $pairs)x"
    # CPU time moves far less with the load than wall time: with both keeping two idle cores
    # busy, the throughput ratio would be this one.
    echo "  $comp CPU: assemble ${ourscpu}s  ${name#* | } (with tar) ${peercpu}s  CPU ratio peer/assemble: $(ratio "$peercpu" "$ourscpu")x"
    echo "  $comp size: assemble $oursize bytes  ${name#* | } $peersize bytes  ratio assemble/peer: $(printf '%.4f' "$(echo "$oursize / $peersize" | bc -l)") (goal <= 1.03)"
  }
  layer_case gzip
  layer_case zstd
  # The layer write alone (layers/bench_test.go: read, tar, both hashes,
  # compress, temp file; no walk) and a cold build of the layer in process
  # (the walk, then the one pass that writes the layer and keys it),
  # beside the peer's times above; and the compressor alone, from one tar of
  # the tree in memory, beside the C tools fed the same bytes.
  ASSEMBLE_BENCH_TREE="$tree" go test -run '^$' -bench '^Benchmark(WriteLayer|BuildFiles|Compress)$' -benchtime "${runs}x" ./layers/ > "$work/gobench.txt"
  field() { awk -v n="^Benchmark$1(-[0-9]+)?\$" -v u="$2" '$1 ~ n { for (i = 1; i < NF; i++) if ($(i+1) == u) print $i }' "$work/gobench.txt"; }
  wl() { printf '%.3f' "$(echo "$(field "WriteLayer/$1" ns/op) / 1000000000" | bc -l)"; }
  echo "  layer write alone: gzip $(wl gzip)s (ratio $(ratio "${peers[gzip]}" "$(wl gzip)")x), zstd $(wl zstd)s (ratio $(ratio "${peers[zstd]}" "$(wl zstd)")x), against the peers' times above"
  bf() { printf '%.3f' "$(echo "$(field "BuildFiles/$1" ns/op) / 1000000000" | bc -l)"; }
  echo "  cold layer build in process (walk, one pass keying and writing): gzip $(bf gzip)s (ratio $(ratio "${peers[gzip]}" "$(bf gzip)")x), zstd $(bf zstd)s (ratio $(ratio "${peers[zstd]}" "$(bf zstd)")x)"
  mbs() { field "Compress/$1" MB/s; }
  echo "  compressor alone, in memory: zstd $(mbs zstd) MB/s, zstd -3 -T2 $(mbs zstd-3-T2) MB/s (ratio $(ratio "$(mbs zstd)" "$(mbs zstd-3-T2)")x); gzip $(mbs gzip) MB/s, pigz -6 -p2 $(mbs pigz-6-p2) MB/s (ratio $(ratio "$(mbs gzip)" "$(mbs pigz-6-p2)")x)"
  # The same tree as a git checkout, as CI has it: clean tracked files are keyed from git's
  # index, unread, so the tree is read once (the tar leaves .git out, as assemble does).
  # gc.auto=0: no detached gc of the loose objects runs into the cleanup below.
  git -C "$tree" init -q && git -C "$tree" add -A && git -C "$tree" -c gc.auto=0 -c user.name=bench -c user.email=bench@example.com commit -qm bench
  echo "  the tree as a git checkout:"
  layer_case zstd --exclude=./.git
  echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$tree" "$work/c" "$work/o"
fi

if [ "$only" = all ] || [ "$only" = noop ]; then
  echo "== no-op rebuild of testdata/hello (best of 5)"
  $A --cache-dir "$work/c" build testdata/hello -o "oci:$work/o" >/dev/null
  t=$(best_of 5 $A --cache-dir "$work/c" build testdata/hello -o "oci:$work/o")
  rebuilt=$($A --cache-dir "$work/c" build testdata/hello -o "oci:$work/o" --json | grep -c '"cached": false' || true)
  echo "  no-op rebuild: ${t}s, layers rewritten: $rebuilt (goal < 0.2 s, 0 layers)"
fi

if [ "$only" = all ] || [ "$only" = push ]; then
  echo "== cold push of a 200 MB image to a local docker-registry (best of $runs, empty registry each run)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$work/reg" "$port" > "$work/reg.yml"
  regpid=""
  fresh_registry() {
    [ -z "$regpid" ] || { kill "$regpid"; wait "$regpid" 2>/dev/null || true; }
    rm -rf "$work/reg"; mkdir -p "$work/reg"
    docker-registry serve "$work/reg.yml" >/dev/null 2>&1 &
    regpid=$!
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return; sleep 0.05; done
    echo "docker-registry did not start" >&2; exit 1
  }
  big="$work/big"
  mkdir -p "$big/data"
  for i in 1 2 3 4; do head -c 50000000 /dev/urandom > "$big/data/part$i"; done
  printf '[[image]]\nname = "big"\n[[image.layer]]\ndir = "data"\ndest = "/data"\n' > "$big/assemble.toml"
  $A --cache-dir "$work/c" build "$big" -o "oci:$work/big-layout" >/dev/null
  ours="" peer=""
  for _ in $(seq "$runs"); do
    fresh_registry
    t=$(best_of 1 $A --insecure-registry "127.0.0.1:$port" copy "oci:$work/big-layout:big:latest" "docker://127.0.0.1:$port/ours:latest")
    { [ -z "$ours" ] || [ "$(echo "$t < $ours" | bc -l)" = 1 ]; } && ours=$t
    fresh_registry
    t=$(best_of 1 skopeo copy --dest-tls-verify=false "oci:$work/big-layout:big:latest" "docker://127.0.0.1:$port/skopeo:latest")
    { [ -z "$peer" ] || [ "$(echo "$t < $peer" | bc -l)" = 1 ]; } && peer=$t
  done
  kill "$regpid"
  echo "  assemble copy ${ours}s  skopeo copy ${peer}s  time ratio assemble/skopeo: $(ratio "$ours" "$peer") (goal <= 0.8)"
fi

if [ "$only" = all ] || [ "$only" = bigpush ]; then
  # One 3 GiB layer: over the 1 GiB threshold, so it goes in 64 MiB chunks.
  # Its data (about 10 GB on disk at the peak) goes under $BENCH_SCRATCH
  # (default: the work directory) and is removed at the end.
  gib=${BIGPUSH_GIB:-3}
  echo "== push of a ${gib} GiB image (one layer) to a local docker-registry: time and peak RSS beside skopeo copy"
  bp="${BENCH_SCRATCH:-$work}/bigpush-$$"
  mkdir -p "$bp/repo/data"
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work" "$bp"' EXIT
  bport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # The access logs (on stdout) count the PATCHes of each push.
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$bp/reg" "$bport" > "$bp/reg.yml"
  # Two registries: the pushes go to the first; the second is the
  # destination of the registry-to-registry copies, read from the first.
  dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sed -e "s|$bp/reg|$bp/dreg|" -e "s|:$bport|:$dport|" "$bp/reg.yml" > "$bp/dreg.yml"
  bregpid=""
  dregpid=""
  # start_registry NAME PIDVAR: a fresh (empty) docker-registry from $bp/NAME.yml.
  start_registry() {
    local pid=${!2} port
    [ -z "$pid" ] || { kill "$pid"; wait "$pid" 2>/dev/null || true; }
    rm -rf "${bp:?}/$1"; mkdir -p "$bp/$1"
    docker-registry serve "$bp/$1.yml" >"$bp/$1.log" 2>&1 &
    printf -v "$2" '%s' "$!"
    port=$(sed -n 's/.*addr: 127.0.0.1://p' "$bp/$1.yml")
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return; sleep 0.05; done
    echo "docker-registry did not start" >&2; exit 1
  }
  big_registry() { start_registry reg bregpid; }
  # timed CMD...: wall seconds and peak RSS (MB) of CMD.
  timed() {
    /usr/bin/time -f '%e %M' -o "$bp/time" "$@" >/dev/null 2>"$bp/err" || { echo "failed: $*" >&2; cat "$bp/err" >&2; exit 1; }
    read -r t k < "$bp/time"
    echo "$t $((k / 1024))"
  }
  for i in $(seq "$gib"); do head -c 1073741824 /dev/urandom > "$bp/repo/data/part$i"; done
  printf '[[image]]\nname = "big3"\n[[image.layer]]\ndir = "data"\n' > "$bp/repo/assemble.toml"
  # zstd: random data does not compress, and zstd passes it through quickly.
  # --no-referrers on the copy below: skopeo does not carry the SBOM either.
  $A --cache-dir "$bp/c" build "$bp/repo" --compression zstd -o "oci:$bp/layout" >/dev/null
  rm -rf "$bp/repo" "$bp/c"
  size=$(find "$bp/layout/blobs" -type f -printf '%s\n' | sort -n | tail -1)
  echo "  layer: $size bytes; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  big_registry
  read -r ours ours_rss < <(timed $A --insecure-registry "127.0.0.1:$bport" copy --no-referrers "oci:$bp/layout:big3:latest" "docker://127.0.0.1:$bport/ours:latest")
  ours_patches=$(grep -c '"PATCH /v2/ours/' "$bp/reg.log" || true)
  big_registry
  read -r peer peer_rss < <(timed skopeo copy --dest-tls-verify=false "oci:$bp/layout:big3:latest" "docker://127.0.0.1:$bport/skopeo:latest")
  peer_patches=$(grep -c '"PATCH /v2/skopeo/' "$bp/reg.log" || true)
  rm -rf "$bp/layout"
  echo "  assemble copy ${ours}s, peak RSS ${ours_rss} MB, ${ours_patches} PATCHes"
  echo "  skopeo copy   ${peer}s, peak RSS ${peer_rss} MB, ${peer_patches} PATCHes"
  echo "  time ratio assemble/skopeo: $(ratio "$ours" "$peer"); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

  # Registry to registry: the image skopeo pushed, streamed to a second
  # registry by assemble copy, assemble sync and skopeo copy.
  echo "== registry-to-registry copy of the ${gib} GiB image: time and peak RSS beside skopeo copy"
  src="127.0.0.1:$bport/skopeo:latest"
  printf '%s: 127.0.0.1:%s/sync\n' "$src" "$dport" > "$bp/images.yaml"
  start_registry dreg dregpid
  read -r rcopy rcopy_rss < <(timed $A --insecure-registry "127.0.0.1:$bport" --insecure-registry "127.0.0.1:$dport" copy --no-referrers "docker://$src" "docker://127.0.0.1:$dport/ours:latest")
  rcopy_patches=$(grep -c '"PATCH /v2/ours/' "$bp/dreg.log" || true)
  start_registry dreg dregpid
  read -r rsync rsync_rss < <(timed $A sync --images "$bp/images.yaml" --src-tls-verify=false --dest-tls-verify=false --no-referrers)
  rsync_patches=$(grep -c '"PATCH /v2/sync/' "$bp/dreg.log" || true)
  start_registry dreg dregpid
  read -r rpeer rpeer_rss < <(timed skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$src" "docker://127.0.0.1:$dport/skopeo:latest")
  rpeer_patches=$(grep -c '"PATCH /v2/skopeo/' "$bp/dreg.log" || true)
  kill "$bregpid" "$dregpid"; wait "$bregpid" "$dregpid" 2>/dev/null || true
  rm -rf "$bp"
  echo "  assemble copy ${rcopy}s, peak RSS ${rcopy_rss} MB, ${rcopy_patches} PATCHes"
  echo "  assemble sync ${rsync}s, peak RSS ${rsync_rss} MB, ${rsync_patches} PATCHes"
  echo "  skopeo copy   ${rpeer}s, peak RSS ${rpeer_rss} MB, ${rpeer_patches} PATCHes"
  echo "  time ratios assemble/skopeo: copy $(ratio "$rcopy" "$rpeer"), sync $(ratio "$rsync" "$rpeer"); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [ "$only" = all ] || [ "$only" = memory ]; then
  echo "== peak memory writing a 1 GB layer"
  big="$work/gig"
  mkdir -p "$big/data"
  for i in $(seq 8); do head -c 134217728 /dev/urandom > "$big/data/part$i"; done
  printf '[[image]]\nname = "gig"\n[[image.layer]]\ndir = "data"\n' > "$big/assemble.toml"
  rss=$( { /usr/bin/time -f '%M' $A --cache-dir "$work/c2" build "$big" -o "oci:$work/gig-layout" >/dev/null; } 2>&1 | tail -n1)
  echo "  peak RSS: $((rss / 1024)) MB (goal < 200 MB)"
fi

if [ "$only" = all ] || [ "$only" = debian ]; then
  echo "== deb:bookworm + python3 from a warm download cache (best of $runs)"
  repo="$work/debpy"
  mkdir -p "$repo"
  printf '[[image]]\nname = "debpy"\nbase = "deb:bookworm"\n[[image.layer]]\ntype = "deb"\npackages = ["python3"]\n' > "$repo/assemble.toml"
  cache="$work/debcache"
  $A --cache-dir "$cache" build "$repo" -o "oci:$work/debpy-layout" >/dev/null   # fills the download cache
  # Two cold-layer builds: from the .deb files only (deb-expanded deleted
  # too: every data.tar.xz is decoded), then with the expanded copies those
  # runs kept (no xz decoding). The image must be the same.
  cold="rm -rf $cache/blobs $cache/keys $cache/probes $cache/deb-resolve $work/debpy-layout"
  debsonly=$(best_of "$runs" bash -c "$cold $cache/deb-expanded && $A --cache-dir $cache build $repo -o oci:$work/debpy-layout")
  digest_debs=$(grep -o 'sha256:[0-9a-f]*' "$work/debpy-layout/index.json" | head -1)
  ours=$(best_of "$runs" bash -c "$cold && $A --cache-dir $cache build $repo -o oci:$work/debpy-layout")
  digest_expanded=$(grep -o 'sha256:[0-9a-f]*' "$work/debpy-layout/index.json" | head -1)
  # mmdebstrap with the same .deb files handed to apt, so neither side downloads packages.
  debs="$work/mmdebs"
  mkdir -p "$debs"
  mmdebstrap --quiet --variant=essential --include=python3 --skip=download/empty \
    --customize-hook="sync-out /var/cache/apt/archives $debs" bookworm "$work/mm.tar" http://deb.debian.org/debian >/dev/null 2>&1
  peer=$(best_of "$runs" mmdebstrap --quiet --variant=essential --include=python3 --skip=download/empty \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' --setup-hook="sync-in $debs /var/cache/apt/archives/" \
    bookworm "$work/mm.tar" http://deb.debian.org/debian)
  rebuild=$(best_of 5 $A --cache-dir "$cache" build "$repo" -o "oci:$work/debpy-layout")
  offline=$(best_of 5 $A --cache-dir "$cache" build "$repo" --offline -o "oci:$work/debpy-layout")
  echo "  assemble ${ours}s (expanded .debs cached)  mmdebstrap ${peer}s  speed-up: $(ratio "$peer" "$ours")x (goal >= 8; load average $(cut -d" " -f1-3 /proc/loadavg))"
  echo "  assemble ${debsonly}s from the .deb files only (xz decoded)  speed-up: $(ratio "$peer" "$debsonly")x"
  echo "  image ${digest_expanded} (expanded) ${digest_debs} (.deb files only)$([ "$digest_expanded" = "$digest_debs" ] || echo '  DIFFERENT')"
  echo "  disk: downloads $(du -sh "$cache/downloads" | cut -f1), deb-expanded $(du -sh "$cache/deb-expanded" | cut -f1)"
  echo "  rebuild, everything cached: ${rebuild}s online (InRelease checked), ${offline}s --offline (goal < 0.3 s)"
fi

if [ "$only" = all ] || [ "$only" = python ]; then
  echo "== 20 wheels from a local wheelhouse (best of $runs, each cold run of ours beside one of pip's)"
  wh="$work/wheelhouse"
  python3 bench/mkwheels.py "$wh" 17
  cp /usr/share/python-wheels/*.whl "$wh/"
  repo="$work/pyrepo"
  mkdir -p "$repo/base"
  cp "$wh/requirements.txt" "$repo/"
  printf '[[image]]\nname = "py"\nbase = "deb:bookworm"\n[[image.layer]]\ntype = "deb"\npackages = ["python3"]\n[[image.layer]]\ntype = "python"\nrequirements = ["requirements.txt"]\n' > "$repo/assemble.toml"
  printf '[[image]]\nname = "py"\nbase = "deb:bookworm"\n[[image.layer]]\ntype = "deb"\npackages = ["python3"]\n' > "$repo/base/assemble.toml"
  # A cache holding the Debian base only; every cold run starts from a copy of it.
  $A --cache-dir "$work/basecache" build "$repo/base" -o "oci:$work/py-base" >/dev/null
  base=$(best_of "$runs" $A --cache-dir "$work/basecache" build "$repo/base" --offline -o "oci:$work/py-base")
  # Each cold run starts from a copy (hard links) of that cache, and pip from
  # an empty target, made before the clock starts (as the layer case: deleting
  # the last run's output is not part of the build).
  cold="" peer=""
  for _ in $(seq "$runs"); do
    rm -rf "$work/pycache" "$work/py-layout" && cp -al "$work/basecache" "$work/pycache"
    t=$(best_of 1 $A --cache-dir "$work/pycache" build "$repo" --offline --no-index --find-links "$wh" -o "oci:$work/py-layout")
    if [ -z "$cold" ] || [ "$(echo "$t < $cold" | bc -l)" = 1 ]; then cold=$t; fi
    rm -rf "$work/pip-target"
    t=$(best_of 1 python3 -m pip install -q --disable-pip-version-check --no-index --find-links "$wh" --target "$work/pip-target" -r "$wh/requirements.txt")
    if [ -z "$peer" ] || [ "$(echo "$t < $peer" | bc -l)" = 1 ]; then peer=$t; fi
  done
  warm=$(best_of 5 $A --cache-dir "$work/pycache" build "$repo" --offline --no-index --find-links "$wh" -o "oci:$work/py-layout")
  # CPU moves less with the load than wall time (the least of 5 runs, user + system).
  warmcpu=$(for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%U %S' -o "$work/wc" $A --cache-dir "$work/pycache" build "$repo" --offline --no-index --find-links "$wh" -o "oci:$work/py-layout" >/dev/null 2>&1
    awk '{ printf "%.2f\n", $1 + $2 }' "$work/wc"
  done | sort -n | head -1)
  layer=$(printf '%.3f' "$(echo "$cold - $base" | bc -l)")
  echo "  cold python layer: ${layer}s (whole build ${cold}s less ${base}s for the cached Debian base)"
  echo "  pip install --target ${peer}s  speed-up: $(ratio "$peer" "$layer")x (goal >= 3)"
  echo "  cached rebuild of the whole image, offline: ${warm}s, CPU ${warmcpu}s (goal < 0.1 s; load average $(cut -d" " -f1-3 /proc/loadavg))"
fi

if [ "$only" = all ] || [ "$only" = sync ]; then
  echo "== sync of 3 images (2 layers each, ~60 MB per image) between two local registries (best of $runs, empty destination each run)"
  command -v crane >/dev/null || GOFLAGS=-mod=mod go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
  crane=$(command -v crane || echo "$(go env GOPATH)/bin/crane")
  mkreg() { # name -> starts a registry, prints its port
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -rf "$work/$1"; mkdir -p "$work/$1"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$work/$1" "$port" > "$work/$1.yml"
    docker-registry serve "$work/$1.yml" >/dev/null 2>&1 &
    echo "$! $port"
  }
  waitreg() { for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$1/v2/" >/dev/null 2>&1 && return; sleep 0.05; done; echo "registry on $1 did not start" >&2; exit 1; }
  read -r srcpid srcport < <(mkreg src); waitreg "$srcport"
  src="127.0.0.1:$srcport"
  for i in 1 2 3; do
    d="$work/img$i"; mkdir -p "$d/a" "$d/b"
    head -c 40000000 /dev/urandom > "$d/a/blob"; head -c 20000000 /dev/urandom > "$d/b/blob"
    printf '[[image]]\nname = "x"\n[[image.layer]]\ndir = "a"\n[[image.layer]]\ndir = "b"\n' > "$d/assemble.toml"
    $A --cache-dir "$work/sc" --insecure-registry "$src" build "$d" -o "docker://$src/bench/img$i:1.0" >/dev/null
  done
  ours="" skop="" cran="" warm=""
  for _ in $(seq "$runs"); do
    read -r dstpid dstport < <(mkreg dst); waitreg "$dstport"; dst="127.0.0.1:$dstport"
    printf '%s:\n  insecure: true\n%s:\n  insecure: true\n' "$src" "$dst" > "$work/auth.yaml"
    printf '%s/bench/img1: %s/mirror/img1\n%s/bench/img2: %s/mirror/img2\n%s/bench/img3: %s/mirror/img3\n' "$src" "$dst" "$src" "$dst" "$src" "$dst" > "$work/images.yaml"
    t=$(best_of 1 $A sync --auth "$work/auth.yaml" --images "$work/images.yaml")
    { [ -z "$ours" ] || [ "$(echo "$t < $ours" | bc -l)" = 1 ]; } && ours=$t
    t=$(best_of 1 $A sync --auth "$work/auth.yaml" --images "$work/images.yaml")
    { [ -z "$warm" ] || [ "$(echo "$t < $warm" | bc -l)" = 1 ]; } && warm=$t
    kill "$dstpid"; wait "$dstpid" 2>/dev/null || true
    read -r dstpid dstport < <(mkreg dst); waitreg "$dstport"; dst="127.0.0.1:$dstport"
    t=$(best_of 1 bash -c "for i in 1 2 3; do skopeo sync --src docker --dest docker --src-tls-verify=false --dest-tls-verify=false $src/bench/img\$i $dst/mirror || exit 1; done")
    { [ -z "$skop" ] || [ "$(echo "$t < $skop" | bc -l)" = 1 ]; } && skop=$t
    kill "$dstpid"; wait "$dstpid" 2>/dev/null || true
    read -r dstpid dstport < <(mkreg dst); waitreg "$dstport"; dst="127.0.0.1:$dstport"
    t=$(best_of 1 bash -c "for i in 1 2 3; do $crane copy --insecure $src/bench/img\$i:1.0 $dst/mirror/img\$i:1.0 || exit 1; done")
    { [ -z "$cran" ] || [ "$(echo "$t < $cran" | bc -l)" = 1 ]; } && cran=$t
    kill "$dstpid"; wait "$dstpid" 2>/dev/null || true
  done
  kill "$srcpid"
  echo "  assemble sync ${ours}s  skopeo sync ${skop}s  crane copy ${cran}s"
  echo "  time ratio vs skopeo: $(ratio "$ours" "$skop")  vs crane: $(ratio "$ours" "$cran") (goal <= 0.8)"
  echo "  warm re-sync: ${warm}s for 3 images, $(printf '%.3f' "$(echo "$warm / 3" | bc -l)")s per image (goal < 0.2 s)"
fi

if [ "$only" = all ] || [ "$only" = dockerfile ]; then
  echo "== Dockerfiles against buildah bud --storage-driver vfs writing oci: (best of $runs)"
  # A Debian base both tools read from an OCI layout (no registry here).
  printf '[[image]]\nname = "base"\nbase = "deb:bookworm"\n' > "$work/dfbase.toml"
  mkdir -p "$work/dfbase" && mv "$work/dfbase.toml" "$work/dfbase/assemble.toml"
  $A --cache-dir "$work/dfc0" build "$work/dfbase" -o "oci:$work/baselayout" >/dev/null
  # 1: COPY and ENV only.
  c1="$work/df-copy"; mkdir -p "$c1/files"
  for i in $(seq 20); do head -c 1000000 /dev/urandom > "$c1/files/blob$i"; seq 1 20000 > "$c1/files/text$i"; done
  printf 'ARG BASE=scratch\nFROM ${BASE}\nENV APP_HOME=/app LANG=C.UTF-8\nCOPY files/ /app/files/\nWORKDIR /app\nCMD ["/bin/sh"]\n' > "$c1/Dockerfile"
  # 2: apt-get and pip installs (translated by assemble, run by buildah).
  c2="$work/df-apt"; mkdir -p "$c2/wheels"
  python3 bench/mkwheels.py "$c2/wheels" 5
  grep -v '^pip$\|^setuptools$\|^wheel$' "$c2/wheels/requirements.txt" > "$c2/requirements.txt"
  printf 'ARG BASE\nFROM ${BASE}\nRUN apt-get update && apt-get install -y --no-install-recommends jq python3 python3-pip && rm -rf /var/lib/apt/lists/*\nCOPY wheels/ /wheels/\nCOPY requirements.txt /wheels/\nRUN python3 -m pip install --break-system-packages --no-index --find-links /wheels -r /wheels/requirements.txt\nCMD ["jq", "--version"]\n' > "$c2/Dockerfile"
  bud() { # dir tag [args...]: buildah bud then push to an OCI layout, in one store
    local dir=$1 tag=$2; shift 2
    buildah --storage-driver vfs --root "$work/bs/r" --runroot "$work/bs/rr" bud --quiet --layers --isolation chroot "$@" -t "$tag" "$dir" >/dev/null &&
      buildah --storage-driver vfs --root "$work/bs/r" --runroot "$work/bs/rr" push --quiet "$tag" "oci:$work/bl:$tag" >/dev/null
  }
  export -f bud; export work
  for case in copy apt; do
    if [ $case = copy ]; then dir=$c1; args=""; else dir=$c2; args="--build-arg BASE=oci:$work/baselayout:base:latest"; fi
    # assemble cold: an empty layer cache, but the Debian downloads already in it (both tools read the mirror).
    ours=$(best_of "$runs" bash -c "rm -rf $work/dfc && cp -al $work/dfc0 $work/dfc && rm -rf $work/dfc/blobs $work/dfc/keys $work/dfc/probes $work/dfc/deb-resolve && $A --cache-dir $work/dfc build $dir $args -o oci:$work/al-$case")
    ourswarm=$(best_of 5 $A --cache-dir "$work/dfc" build "$dir" $args -o "oci:$work/al-$case")
    peer=$(best_of "$runs" bash -c "rm -rf $work/bs $work/bl; bud $dir x$case $args")
    peerwarm=$(best_of 3 bash -c "bud $dir x$case $args")
    echo "  $case: assemble cold ${ours}s, unchanged ${ourswarm}s; buildah cold ${peer}s, unchanged ${peerwarm}s"
    echo "        speed-up cold $(ratio "$peer" "$ours")x (goal >= 3), unchanged $(ratio "$peerwarm" "$ourswarm")x (goal >= 10)"
  done
fi

if [ "$only" = all ] || [ "$only" = pieces ]; then
  echo "== Domino pieces repository (testdata/pieces): cold, unchanged, one piece.py edited"
  wh="$work/pwheels"
  python3 bench/mkwheels.py --from testdata/pieces/wheels/domino_py domino-py 0.9.4 "$wh"
  python3 bench/mkwheels.py --from testdata/pieces/wheels/reqdep reqdep 1.0.0 "$wh"
  python3 bench/mkwheels.py --from testdata/pieces/wheels/dockerdep dockerdep 1.0.0 "$wh"
  $A --cache-dir "$work/pc" build testdata/pieces/base --find-links "$wh" --no-index -o "oci:$work/pbase" >/dev/null
  repo="$work/prepo"; cp -r testdata/pieces/repo "$repo"
  P="--base oci:$work/pbase:domino-base:latest --find-links $wh --no-index --metadata-python /usr/bin/python3"
  built() { grep -c '"cached": false' "$1" || true; }
  s=$(date +%s.%N); $A --cache-dir "$work/pc" build "$repo" $P -o "oci:$work/pl" --json > "$work/p1.json"; e=$(date +%s.%N)
  cold=$(printf '%.3f' "$(echo "$e - $s" | bc -l)")
  nochange=$(best_of 5 $A --cache-dir "$work/pc" build "$repo" $P -o "oci:$work/pl")
  $A --cache-dir "$work/pc" build "$repo" $P -o "oci:$work/pl" --json > "$work/p2.json"
  piece=$(ls -d "$repo"/pieces/*Piece | head -1)
  # -v logs each schema extraction as run or taken from the cache.
  pyruns() { grep -c "running Python to read the pydantic schemas" "$1" || true; }
  echo "# edited" >> "$piece/piece.py"
  s=$(date +%s.%N); $A -v --cache-dir "$work/pc" build "$repo" $P -o "oci:$work/pl" --json > "$work/p3.json" 2> "$work/p3.log"; e=$(date +%s.%N)
  edit=$(printf '%.3f' "$(echo "$e - $s" | bc -l)")
  # The schemas read in each group's image (python3 in the sandbox), as without
  # --metadata-python: the first build runs Python once per group, an edit none.
  PI="--base oci:$work/pbase:domino-base:latest --find-links $wh --no-index"
  $A --cache-dir "$work/pc" build "$repo" $PI -o "oci:$work/pl" >/dev/null
  edits=""
  for i in $(seq "$runs"); do
    echo "# edited $i" >> "$piece/piece.py"
    s=$(date +%s.%N); $A -v --cache-dir "$work/pc" build "$repo" $PI -o "oci:$work/pl" --json > "$work/p4.json" 2> "$work/p4.log"; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    { [ -z "$edits" ] || [ "$(echo "$t < $edits" | bc -l)" = 1 ]; } && edits=$t
  done
  echo "  cold ${cold}s ($(built "$work/p1.json") layers built)"
  echo "  unchanged ${nochange}s ($(built "$work/p2.json") layers built; goal < 0.3 s)"
  echo "  one piece.py edited, --metadata-python ${edit}s ($(built "$work/p3.json") layers built, Python run $(pyruns "$work/p3.log") times; goal < 1 s)"
  echo "  one piece.py edited, schemas read in the images (best of $runs) $(printf '%.3f' "$edits")s ($(built "$work/p4.json") layers built, Python run $(pyruns "$work/p4.log") times; goal < 1 s)"
fi

if [ "$only" = all ] || [ "$only" = binder ]; then
  echo "== Binder repository with apt.txt and requirements.txt: cold (warm downloads), then one notebook changed"
  repo="$work/binder"; mkdir -p "$repo"
  cp testdata/binder/apt-packages/apt.txt testdata/binder/requirements/requirements.txt testdata/binder/requirements/index.ipynb "$repo/"
  B="--find-links $root/testdata/binder/wheelhouse --no-index"
  $A --cache-dir "$work/bc0" build "$repo" $B -o "oci:$work/bl0" >/dev/null   # fills the download cache
  cold=$(best_of "$runs" bash -c "rm -rf $work/bc && cp -al $work/bc0 $work/bc && rm -rf $work/bc/blobs $work/bc/keys $work/bc/probes $work/bc/deb-resolve && $A --cache-dir $work/bc build $repo $B -o oci:$work/bl\$RANDOM")
  edits=""
  for i in $(seq 5); do
    printf '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "edit": %s}\n' "$i" > "$repo/index.ipynb"
    s=$(date +%s.%N); $A --cache-dir "$work/bc" build "$repo" $B -o "oci:$work/bl" --json > "$work/b$i.json"; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    { [ -z "$edits" ] || [ "$(echo "$t < $edits" | bc -l)" = 1 ]; } && edits=$t
  done
  echo "  cold ${cold}s; one notebook changed $(printf '%.3f' "$edits")s ($(grep -c '"cached": false' "$work/b5.json") layer rebuilt; goal < 0.5 s)"
fi

if [ "$only" = all ] || [ "$only" = scale ]; then
  echo "== generated git repositories of 1k, 10k and 100k files${SCALE_BIG:+ and 5 GB}: cold build, no-op rebuild, peak RSS (cold best of $runs, no-op best of 5)"
  # peak_rss CMD...: runs CMD, prints its wall time (s), peak RSS (kB) and
  # CPU time (user + system, s).
  peak_rss() {
    local s e rss cpu
    s=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
      /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }
    else
      python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%d %.3f %.3f\n" % (r.ru_maxrss, r.ru_utime, r.ru_stime))' "$work/rss" "$@" 2>"$work/err" || { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }
    fi
    e=$(date +%s.%N)
    read -r rss cpu < <(tail -n1 "$work/rss" | awk '{print $1, $2 + $3}')
    printf '%.3f %s %s\n' "$(echo "$e - $s" | bc -l)" "$rss" "$cpu"
  }
  # best_rss N CMD...: the fastest and the mean wall time of N runs, the
  # largest peak RSS (MB), and the mean CPU time (user + system, s): it
  # moves less than wall time with the machine's load.
  best_rss() {
    local n=$1; shift
    local best="" sum=0 max=0 cpus=0 t r c
    for _ in $(seq "$n"); do
      read -r t r c < <(peak_rss "$@")
      if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
      sum=$(echo "$sum + $t" | bc -l)
      cpus=$(echo "$cpus + $c" | bc -l)
      [ "$r" -gt "$max" ] && max=$r
    done
    printf '%s %.3f %s %.3f\n' "$best" "$(echo "$sum / $n" | bc -l)" "$((max / 1024))" "$(echo "$cpus / $n" | bc -l)"
  }
  # The repositories are git checkouts (mkrepo.py commits them), as CI's are.
  # SCALE_BIG=1 adds one of 5 GB (5120 files of about 1 MB) under
  # $BENCH_SCRATCH (default: the work directory): about 12 GB of disk.
  sdir=${BENCH_SCRATCH:-$work}/assemble-scale-$$
  mkdir -p "$sdir"
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work" "$sdir"' EXIT
  cases=""
  for n in ${SCALE_FILES:-1000 10000 100000}; do cases="$cases $n:0"; done
  [ -z "${SCALE_BIG:-}" ] || cases="$cases 5120:1024"
  # git_st_s: `git status` over the same tree, the floor a no-op shares
  # (it stats every tracked file and reads every directory too).
  echo "  (load average $(cut -d' ' -f1-3 /proc/loadavg); noop_s is the best of 5, noop_mean their mean, noop_cpu_s their mean user + system CPU)"
  printf '  %-12s %7s %9s %9s %8s %10s %9s %8s %9s %8s %11s %11s\n' files MB cold_s tar_pigz_s noop_s noop_mean noop_cpu_s git_st_s cold_RSS noop_RSS "cold_s/GB" "pigz_s/GB"
  first=""; last=""
  for c in $cases; do
    n=${c%:*} kb=${c#*:}
    repo="$sdir/scale$n" label=$n
    [ "$kb" = 0 ] || label="${n}x${kb}kB"
    # n files of 0.25-4 kB of source-like text (or about kb kB each), 100 to a directory.
    python3 bench/mkrepo.py "$repo" "$n" $( [ "$kb" = 0 ] || echo "$kb" )
    mb=$(echo "scale=1; $(du -sk --apparent-size --exclude=.git "$repo" | cut -f1) / 1024" | bc -l)
    r=$runs; [ "$kb" = 0 ] || r=1
    # A new cache and layout each cold run (deleting is not timed); the no-op rebuilds reuse one.
    read -r cold _ coldrss _ < <(best_rss "$r" bash -c "d=$sdir/sc$n/cold\$RANDOM\$RANDOM; $A --cache-dir \$d/c build $repo -o oci:\$d/o")
    d=$(ls -d "$sdir/sc$n"/cold* | tail -1)
    read -r noop noopmean nooprss noopcpu < <(best_rss 5 $A --cache-dir "$d/c" build "$repo" -o "oci:$d/o")
    gitst=$(best_of 5 git -C "$repo" status --porcelain)
    peer=$(best_of "$r" bash -c "tar --sort=name --exclude=./.git -C $repo -cf - . | pigz -p2 > $sdir/scale.tgz")
    printf '  %-12s %7s %9s %9s %8s %10s %9s %8s %9s %8s %11.2f %11.2f\n' "$label" "$mb" "$cold" "$peer" "$noop" "$noopmean" "$noopcpu" "$gitst" "$coldrss" "$nooprss" \
      "$(echo "$cold * 1024 / $mb" | bc -l)" "$(echo "$peer * 1024 / $mb" | bc -l)"
    [ -n "$first" ] || first="$mb $cold $peer"
    last="$mb $cold $peer"
    rm -rf "$repo" "$sdir/sc$n" "$sdir/scale.tgz"
  done
  # The slope from the smallest repository to the largest: seconds per GB
  # more, for assemble's cold build and for tar | pigz -p2.
  read -r mb0 c0 p0 <<<"$first"; read -r mb1 c1 p1 <<<"$last"
  if [ "$(echo "$mb1 > $mb0" | bc -l)" = 1 ]; then
    ours=$(echo "($c1 - $c0) * 1024 / ($mb1 - $mb0)" | bc -l); theirs=$(echo "($p1 - $p0) * 1024 / ($mb1 - $mb0)" | bc -l)
    printf '  cold slope, %s MB to %s MB: assemble %.2f s/GB, tar|pigz -p2 %.2f s/GB, ratio assemble/peer %.2f (goal <= 1)\n' "$mb0" "$mb1" "$ours" "$theirs" "$(echo "$ours / $theirs" | bc -l)"
  fi
  echo "  goals: no-op rebuild of 100k files < 0.3 s; peak RSS < 200 MB"
fi

if [ "$only" = all ] || [ "$only" = bounds ]; then
  echo "== inputs with bounds: a 100 MB random file as a repository's convention file, refused"
  printf '  %-16s %12s  %s\n' file peak_rss_MB error
  # Not $work/big: the push case's repository has that name.
  head -c $((100 << 20)) /dev/urandom > "$work/bounds-input"
  for f in Dockerfile assemble.toml requirements.txt; do
    repo="$work/bounds-$f"
    mkdir -p "$repo"
    ln "$work/bounds-input" "$repo/$f"
    # It must fail; GNU time's last line is the peak RSS in kB.
    out=$( { /usr/bin/time -f '%M' $A --cache-dir "$work/bc" build "$repo" --offline -o "oci:$work/bounds-out" >/dev/null; } 2>&1 || true)
    rss=$(echo "$out" | tail -n1)
    msg=$(echo "$out" | grep -o 'is 100 MiB, more than the [0-9]* MiB' | head -1)
    printf '  %-16s %12s  %s\n' "$f" "$((rss / 1024))" "${msg:-NOT REFUSED}"
    [ ! -e "$work/bounds-out" ] || echo "  $work/bounds-out was written" >&2
    rm -rf "$repo"
  done
  rm -f "$work/bounds-input"
  echo "  goal: refused with the limit named, peak RSS < 100 MB (450 MB before)"
fi

if [ "$only" = all ] || [ "$only" = plan ]; then
  echo "== plans that grow: a Domino repository of 20 dependency groups, a devfile registry of 90 stack versions (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  # best_mean N CMD...: "BEST MEAN", the fastest and the mean wall time of N runs.
  best_mean() {
    local n=$1 all=""; shift
    for _ in $(seq "$n"); do all="$all $(best_of 1 "$@")"; done
    echo "$all" | tr ' ' '\n' | awk 'NF { s += $1; if (b == "" || $1 < b) b = $1 } END { printf "%.3f %.3f", b, s / NR }'
  }
  # Domino: 2 Dockerfile groups, 17 requirements groups, one without
  # dependencies, 3 pieces each; a git checkout, as CI has it.
  wh="$work/plwheels"
  python3 bench/mkwheels.py --from testdata/pieces/wheels/domino_py domino-py 0.9.4 "$wh"
  repo="$work/plpieces"
  python3 bench/mkpieces.py "$repo" "$wh" 20
  git -C "$repo" init -q && git -C "$repo" add -A && git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit -qm bench
  $A --cache-dir "$work/plc0" build testdata/pieces/base --find-links "$wh" --no-index -o "oci:$work/plbase" >/dev/null
  P="--base oci:$work/plbase:domino-base:latest --find-links $wh --no-index"
  # Cold: the base's cache only (a copy each run); the schemas read by
  # python3 in each group's image, as Domino does. Once: it runs Python 20 times.
  cold=$(best_of 1 bash -c "rm -rf $work/plc && cp -al $work/plc0 $work/plc && $A --cache-dir $work/plc build $repo $P -o oci:$work/plo")
  $A --cache-dir "$work/plc" build "$repo" $P -o "oci:$work/plo" --json -v > "$work/pl.json" 2> "$work/pl.log"
  read -r best mean <<< "$(best_mean 10 $A --cache-dir "$work/plc" build "$repo" $P -o "oci:$work/plo")"
  echo "  Domino, 20 groups: cold ${cold}s, unchanged ${best}s best, ${mean}s mean of 10 ($(grep -c '"cached": false' "$work/pl.json" || true) layers rebuilt, $(grep -c 'running Python' "$work/pl.log" || true) Python runs; goal < 0.5 s; load average $(cut -d' ' -f1-3 /proc/loadavg))"
  dev="$work/pldevfile"
  python3 bench/mkdevfiles.py "$dev" 90
  cold=$(best_of "$runs" bash -c "d=$work/pld\$RANDOM\$RANDOM; $A --cache-dir \$d/c build $dev -o oci:\$d/o")
  d=$(ls -d "$work"/pld[0-9]* | tail -1)
  read -r best mean <<< "$(best_mean 10 $A --cache-dir "$d/c" build "$dev" -o "oci:$d/o")"
  echo "  devfile registry, $(find "$dev/stacks" -name devfile.yaml | wc -l) artifacts: cold ${cold}s, unchanged ${best}s best, ${mean}s mean of 10 (goal < 0.5 s; load average $(cut -d' ' -f1-3 /proc/loadavg))"
fi
