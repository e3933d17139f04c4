#!/bin/bash
# bench/copy.sh: lading copy/mirror against skopeo 1.9, same run, fresh destination each time.
#
#   registry -> registry   a ~500 MB image of 5 layers between two docker-registry instances
#   same registry          the image promoted to another repository of the source registry
#                          (lading mounts; skopeo, its blob info cache wiped, uploads)
#   registry -> oci:       the same image pulled into an OCI layout
#   ceiling                what the destination docker-registry can take at all: the 5 layer
#                          blobs uploaded straight from files by 5 parallel `curl -T` (POST +
#                          one monolithic PUT each; no source, nearly no client CPU), against
#                          skopeo's copy; and the CPU seconds of client, source and destination
#                          registry for our copy and skopeo's (the destination's share is fixed)
#   serve                  registry -> registry with `lading serve` as the destination (source
#                          docker-registry), then as the source (destination docker-registry),
#                          then as both: with servers that cost little, the clients are what is
#                          measured (with docker-registry as the destination, its own CPU bounds
#                          any client: see ceiling)
#   mirror                 20 small images sharing a base (lading mirror vs skopeo sync):
#                          time, and bytes moved into the mirror (what the destination
#                          registry process read: rchar of /proc/PID/io, which other users of
#                          the machine's loopback do not disturb)
#
# Prints "name: ours X, peer Y, ratio Z" lines (median of RUNS runs, default 3). The image is
# cached under $LADING_TEST_CACHE/bench-copy (made once with umoci; ~1 min). Destination
# registry storage is wiped and the registry restarted before every run (skopeo keeps a blob
# info cache in /var/lib/containers/cache and would otherwise skip uploads).
# Env: LADING (binary, default build/lading), RUNS, SIZE_MB (default 500), JOBS (default 4),
# PARTS (default "copy ceiling serve promote oci mirror"), BENCH_TMP (default /var/tmp: where the
# registries keep their storage; /dev/shm takes the disk and its fsyncs out of the figures).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
LADING=${LADING:-$here/../build/lading}
case "$LADING" in /*) ;; *) LADING="$PWD/$LADING" ;; esac
RUNS=${RUNS:-3} SIZE_MB=${SIZE_MB:-500} JOBS=${JOBS:-4} PARTS=${PARTS:-copy ceiling serve promote oci mirror}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
CACHE=${LADING_TEST_CACHE:-/var/tmp/lading-test-cache}/bench-copy-$SIZE_MB
W=$(mktemp -d ${BENCH_TMP:-/var/tmp}/lading-bench-copy.XXXXXX)
export LADING_ROOT=$W/store HOME=$W/home
mkdir -p "$HOME"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# Read the clock in this shell: $(date) would add two fork+exec (~4 ms here) to every figure.
export LC_NUMERIC=C
now() { echo "$EPOCHREALTIME"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
dst_read() { awk '/^rchar:/ {print $2}' "/proc/${REG_PID[dst]}/io"; }
# cpu_of PID: user+system CPU seconds the process has used so far.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

# registry NAME PORT: (re)starts docker-registry with storage $W/NAME (wiped).
declare -A REG_PID
registry() {
  local name=$1 port=$2
  [ -n "${REG_PID[$name]:-}" ] && { kill "${REG_PID[$name]}" 2>/dev/null || true; wait "${REG_PID[$name]}" 2>/dev/null || true; }
  [ "${3:-}" = keep ] || rm -rf "$W/$name"
  mkdir -p "$W/$name"
  cat >"$W/$name.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $W/$name}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
YML
  env -u AWS_CA_BUNDLE docker-registry serve "$W/$name.yml" >"$W/$name.log" 2>&1 &
  REG_PID[$name]=$!
  pids="$pids $!"
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0; sleep 0.1; done
  echo "registry $name did not start" >&2; exit 1
}

# serve NAME PORT: (re)starts `lading serve` with storage $W/NAME (wiped); pid in REG_PID[NAME].
serve() {
  local name=$1 port=$2
  [ -n "${REG_PID[$name]:-}" ] && { kill "${REG_PID[$name]}" 2>/dev/null || true; wait "${REG_PID[$name]}" 2>/dev/null || true; }
  rm -rf "$W/$name"
  "$LADING" serve --addr "127.0.0.1:$port" --root "$W/$name" --store none --access-log off \
    >"$W/$name.log" 2>&1 &
  REG_PID[$name]=$!
  pids="$pids $!"
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0; sleep 0.1; done
  echo "lading serve $name did not start" >&2; exit 1
}

make_images() {
  [ -f "$CACHE/done" ] && return 0
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  L=$CACHE/layout
  umoci init --layout "$L" >/dev/null
  umoci new --image "$L:big" >/dev/null
  per=$((SIZE_MB / 5))
  for i in 1 2 3 4 5; do
    rm -rf "$W/mk" && mkdir -p "$W/mk" && head -c $((per * 1024 * 1024)) /dev/urandom >"$W/mk/blob$i"
    umoci insert --image "$L:big" "$W/mk" "/layer$i" >/dev/null
  done
  umoci config --image "$L:big" --os linux --architecture amd64 >/dev/null
  umoci new --image "$L:base" >/dev/null
  rm -rf "$W/mk" && mkdir -p "$W/mk" && head -c $((8 * 1024 * 1024)) /dev/urandom >"$W/mk/base"
  umoci insert --image "$L:base" "$W/mk" /base >/dev/null
  for i in $(seq 1 20); do
    umoci tag --image "$L:base" "small$i" >/dev/null
    rm -rf "$W/mk" && mkdir -p "$W/mk" && head -c $((64 * 1024)) /dev/urandom >"$W/mk/own$i"
    umoci insert --image "$L:small$i" "$W/mk" /app >/dev/null
    umoci config --image "$L:small$i" --os linux --architecture amd64 >/dev/null
  done
  rm -rf "$W/mk"
  touch "$CACHE/done"
}

echo "# preparing images (cached in $CACHE)" >&2
make_images
SP=$(free_port) DP=$(free_port)
S=127.0.0.1:$SP D=127.0.0.1:$DP
registry src "$SP"
"$LADING" copy -q "oci:$CACHE/layout:big" "docker://$S/bench/big:v1"
for i in $(seq 1 20); do "$LADING" copy -q "oci:$CACHE/layout:small$i" "docker://$S/bench/small$i:v1"; done

run_pair() { # name ours_cmd peer_cmd dest_kind (registry: docker-registry, serve: lading serve, oci)
  local name=$1 ours=$2 peer=$3 kind=$4 cmd who
  : >"$W/o" ; : >"$W/p"
  for _ in $(seq "$RUNS"); do
    for who in ours peer; do
      case $kind in
        registry) registry dst "$DP" ;;
        serve) serve dst "$DP" ;;
        *) rm -rf "$W/layout" ;;
      esac
      rm -rf /var/lib/containers/cache/blob-info-cache-v1.boltdb
      cmd=$ours; [ $who = peer ] && cmd=$peer
      t0=$EPOCHREALTIME; eval "$cmd" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; t1=$EPOCHREALTIME
      echo "$t1 - $t0" | bc >>"$W/${who:0:1}"
    done
  done
  o=$(median <"$W/o") p=$(median <"$W/p")
  printf "%s: ours %.2fs, peer %.2fs, ratio %.2f\n" "$name" "$o" "$p" "$(echo "$o / $p" | bc -l)"
}

if part copy; then
echo "# registry -> registry, $SIZE_MB MB in 5 layers, $RUNS runs" >&2
run_pair "copy registry->registry ${SIZE_MB}MB" \
  "'$LADING' copy -q --jobs $JOBS docker://$S/bench/big:v1 docker://$D/bench/big:v1" \
  "skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://$S/bench/big:v1 docker://$D/bench/big:v1" registry
fi
# put_file HOSTPORT REPO DIGEST FILE: POST + one monolithic PUT ?digest=, as plain as it gets.
put_file() {
  local loc
  loc=$(curl -sf -X POST -D - -o /dev/null "http://$1/v2/$2/blobs/uploads/" | tr -d '\r' |
    awk 'tolower($1) == "location:" {print $2}')
  case "$loc" in http*) ;; *) loc="http://$1$loc" ;; esac
  case "$loc" in *\?*) loc="$loc&digest=$3" ;; *) loc="$loc?digest=$3" ;; esac
  curl -sf -o /dev/null -T "$4" -H 'Content-Type: application/octet-stream' "$loc"
}
big_layers() {
  python3 -c 'import json,sys
L=sys.argv[1]
idx=json.load(open(L+"/index.json"))
m=[d for d in idx["manifests"] if d.get("annotations",{}).get("org.opencontainers.image.ref.name")=="big"][0]
man=json.load(open(L+"/blobs/sha256/"+m["digest"][7:]))
print(" ".join(l["digest"] for l in man["layers"]))' "$CACHE/layout"
}
curl_puts() {
  local ps="" d
  for d in $BIG_LAYERS; do put_file "$D" bench/big "$d" "$CACHE/layout/blobs/sha256/${d#sha256:}" & ps="$ps $!"; done
  for d in $ps; do wait "$d" || { echo "curl upload failed" >&2; exit 1; }; done
}
# timed_cpu OUTFILE CMD...: runs CMD; appends "wall client src dst client-kernel" (seconds) to
# OUTFILE.
timed_cpu() {
  local out=$1; shift
  local s0 d0 s1 d1 t0 t1
  s0=$(cpu_of "${REG_PID[src]}") d0=$(cpu_of "${REG_PID[dst]}") t0=$EPOCHREALTIME
  # the subshell's `times`, second line: CPU of the children it waited for (the client)
  ( "$@" >/dev/null 2>"$W/err"; rc=$?; times >"$W/cpu"; exit $rc ) || { cat "$W/err" >&2; exit 1; }
  t1=$EPOCHREALTIME s1=$(cpu_of "${REG_PID[src]}") d1=$(cpu_of "${REG_PID[dst]}")
  echo "$(echo "$t1 - $t0" | bc) $(awk 'NR == 2 {gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4}' "$W/cpu") $(echo "$s1 - $s0" | bc) $(echo "$d1 - $d0" | bc) $(awk 'NR == 2 {gsub(/[ms]/, " "); print $3 * 60 + $4}' "$W/cpu")" >>"$out"
}
col_median() { awk -v c="$2" '{print $c}' "$1" | median; }

if part ceiling; then
echo "# ceiling: 5 parallel curl PUTs of the layer files into docker-registry; CPU split" >&2
cat "$CACHE"/layout/blobs/sha256/* >/dev/null
BIG_LAYERS=$(big_layers)
: >"$W/cc"; : >"$W/co"; : >"$W/cp"
for _ in $(seq "$RUNS"); do
  registry dst "$DP"; timed_cpu "$W/cc" curl_puts
  registry dst "$DP"; timed_cpu "$W/co" "$LADING" copy -q --jobs "$JOBS" "docker://$S/bench/big:v1" "docker://$D/bench/big:v1"
  registry dst "$DP"; rm -rf /var/lib/containers/cache/blob-info-cache-v1.boltdb
  timed_cpu "$W/cp" skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$S/bench/big:v1" "docker://$D/bench/big:v1"
done
c=$(col_median "$W/cc" 1) p=$(col_median "$W/cp" 1)
printf "ceiling registry->registry %sMB (5 parallel curl PUTs from files, no source): curl %.2fs, peer %.2fs, ratio %.2f\n" \
  "$SIZE_MB" "$c" "$p" "$(echo "$c / $p" | bc -l)"
for who in co cp cc; do
  printf "cpu registry->registry %sMB (%s, seconds): wall %.2f, client %.2f, source registry %.2f, destination registry %.2f\n" \
    "$SIZE_MB" "$(case $who in co) echo ours ;; cp) echo peer ;; *) echo curl PUTs ;; esac)" "$(col_median "$W/$who" 1)" \
    "$(col_median "$W/$who" 2)" "$(col_median "$W/$who" 3)" "$(col_median "$W/$who" 4)"
done
# On a CPU-bound machine wall time follows total CPU: a client that cost nothing would still
# need the two registries' CPU. That over skopeo's total is the best ratio any client can reach.
os=$(col_median "$W/co" 3) od=$(col_median "$W/co" 4) oc=$(col_median "$W/co" 2)
pc=$(col_median "$W/cp" 2) ps=$(col_median "$W/cp" 3) pd=$(col_median "$W/cp" 4)
printf "cpu registry->registry %sMB (total CPU): ours %.2fs, peer %.2fs, ratio %.2f; a zero-cost client %.2fs, ratio %.2f\n" \
  "$SIZE_MB" "$(echo "$oc + $os + $od" | bc)" "$(echo "$pc + $ps + $pd" | bc)" \
  "$(echo "($oc + $os + $od) / ($pc + $ps + $pd)" | bc -l)" "$(echo "$os + $od" | bc)" \
  "$(echo "($os + $od) / ($pc + $ps + $pd)" | bc -l)"
# The floor for a client that verifies what it moves, even one that never waits: the two
# registries' CPU, one SHA-256 pass over the blobs (openssl, from the page cache: its user time),
# and the kernel's share of moving the bytes in and out of our client (its system time), over
# the machine's cores. The destination's own commit waits (fsync) come on top.
blob_files=""
for d in $BIG_LAYERS; do blob_files="$blob_files $CACHE/layout/blobs/sha256/${d#sha256:}"; done
# shellcheck disable=SC2086
sha_user=$( (openssl dgst -sha256 $blob_files >/dev/null; times) | awk 'NR == 2 {gsub(/[ms]/, " "); print $1 * 60 + $2}')
ok=$(col_median "$W/co" 5) cores=$(nproc) pw=$(col_median "$W/cp" 1)
floor=$(echo "($os + $od + $sha_user + $ok) / $cores" | bc -l)
printf "floor registry->registry %sMB (registries' CPU %.2fs + one SHA-256 pass %.2fs + our client's kernel time %.2fs, over %d cores): %.2fs, peer %.2fs, ratio %.2f\n" \
  "$SIZE_MB" "$(echo "$os + $od" | bc)" "$sha_user" "$ok" "$cores" "$floor" "$pw" "$(echo "$floor / $pw" | bc -l)"
fi
if part serve; then
echo "# registry -> lading serve, and lading serve -> registry" >&2
run_pair "copy registry->lading-serve ${SIZE_MB}MB" \
  "'$LADING' copy -q --jobs $JOBS docker://$S/bench/big:v1 docker://$D/bench/big:v1" \
  "skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://$S/bench/big:v1 docker://$D/bench/big:v1" serve
LP=$(free_port)
serve lsrc "$LP"
"$LADING" copy -q "oci:$CACHE/layout:big" "docker://127.0.0.1:$LP/bench/big:v1"
run_pair "copy lading-serve->registry ${SIZE_MB}MB" \
  "'$LADING' copy -q --jobs $JOBS docker://127.0.0.1:$LP/bench/big:v1 docker://$D/bench/big:v1" \
  "skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://127.0.0.1:$LP/bench/big:v1 docker://$D/bench/big:v1" registry
run_pair "copy lading-serve->lading-serve ${SIZE_MB}MB" \
  "'$LADING' copy -q --jobs $JOBS docker://127.0.0.1:$LP/bench/big:v1 docker://$D/bench/big:v1" \
  "skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://127.0.0.1:$LP/bench/big:v1 docker://$D/bench/big:v1" serve
kill "${REG_PID[lsrc]}"; wait "${REG_PID[lsrc]}" 2>/dev/null || true
fi
if part promote; then
echo "# registry -> registry, same registry, other repository (promotion: mounts)" >&2
run_pair "copy registry->registry same host ${SIZE_MB}MB" \
  "'$LADING' copy -q --jobs $JOBS docker://$S/bench/big:v1 docker://$S/promoted\$RANDOM/big:v1" \
  "skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://$S/bench/big:v1 docker://$S/promoted\$RANDOM/big:v1" registry
fi
if part oci; then
echo "# registry -> oci: layout" >&2
run_pair "copy registry->oci ${SIZE_MB}MB" \
  "'$LADING' copy -q --jobs $JOBS docker://$S/bench/big:v1 oci:$W/layout:big" \
  "skopeo copy -q --src-tls-verify=false docker://$S/bench/big:v1 oci:$W/layout:big" oci

fi
part mirror || exit 0
echo "# mirror of 20 images sharing an 8 MB base" >&2
for i in $(seq 1 20); do echo "$S/bench/small$i:v1"; done >"$W/list"
{ echo "$S:"; echo "  tls-verify: false"; echo "  images:"; for i in $(seq 1 20); do echo "    bench/small$i: [v1]"; done; } >"$W/sync.yml"
: >"$W/o"; : >"$W/p"; : >"$W/ob"; : >"$W/pb"
for _ in $(seq "$RUNS"); do
  registry dst "$DP"; rm -f "$W/list.lock"
  b0=$(dst_read); t0=$EPOCHREALTIME
  "$LADING" mirror -q --from "$W/list" --to "$D/m" >/dev/null
  t1=$EPOCHREALTIME; b1=$(dst_read)
  echo "$t1 - $t0" | bc >>"$W/o"; echo $((b1 - b0)) >>"$W/ob"
  ours_store=$(du -sb "$W/dst" | cut -f1)
  registry dst "$DP"; rm -rf /var/lib/containers/cache/blob-info-cache-v1.boltdb
  b0=$(dst_read); t0=$EPOCHREALTIME
  skopeo sync --src yaml --dest docker --dest-tls-verify=false "$W/sync.yml" "$D/m" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  t1=$EPOCHREALTIME; b1=$(dst_read)
  echo "$t1 - $t0" | bc >>"$W/p"; echo $((b1 - b0)) >>"$W/pb"
  peer_store=$(du -sb "$W/dst" | cut -f1)
done
o=$(median <"$W/o") p=$(median <"$W/p") ob=$(median <"$W/ob") pb=$(median <"$W/pb")
printf "mirror 20 images (time): ours %.2fs, peer %.2fs, ratio %.2f\n" "$o" "$p" "$(echo "$o / $p" | bc -l)"
printf "mirror 20 images (bytes into the mirror): ours %d, peer %d, ratio %.2f\n" "$ob" "$pb" "$(echo "$ob / $pb" | bc -l)"
printf "mirror 20 images (destination storage): ours %d, peer %d\n" "$ours_store" "$peer_store"
