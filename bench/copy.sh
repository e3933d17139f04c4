#!/bin/bash
# bench/copy.sh: lading copy/mirror against skopeo 1.9, same run, fresh destination each time.
#
#   registry -> registry   a ~500 MB image of 5 layers between two docker-registry instances
#   same registry          the image promoted to another repository of the source registry
#                          (lading mounts; skopeo, its blob info cache wiped, uploads)
#   registry -> oci:       the same image pulled into an OCI layout
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
# PARTS (default "copy promote oci mirror").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
LADING=${LADING:-$here/../build/lading}
case "$LADING" in /*) ;; *) LADING="$PWD/$LADING" ;; esac
RUNS=${RUNS:-3} SIZE_MB=${SIZE_MB:-500} JOBS=${JOBS:-4} PARTS=${PARTS:-copy promote oci mirror}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
CACHE=${LADING_TEST_CACHE:-/var/tmp/lading-test-cache}/bench-copy-$SIZE_MB
W=$(mktemp -d /var/tmp/lading-bench-copy.XXXXXX)
export LADING_ROOT=$W/store HOME=$W/home
mkdir -p "$HOME"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
dst_read() { awk '/^rchar:/ {print $2}' "/proc/${REG_PID[dst]}/io"; }

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

run_pair() { # name ours_cmd peer_cmd dest_kind
  local name=$1 ours=$2 peer=$3 kind=$4 cmd who
  : >"$W/o" ; : >"$W/p"
  for _ in $(seq "$RUNS"); do
    for who in ours peer; do
      if [ "$kind" = registry ]; then registry dst "$DP"; else rm -rf "$W/layout"; fi
      rm -rf /var/lib/containers/cache/blob-info-cache-v1.boltdb
      cmd=$ours; [ $who = peer ] && cmd=$peer
      t0=$(now); eval "$cmd" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; t1=$(now)
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
  b0=$(dst_read); t0=$(now)
  "$LADING" mirror -q --from "$W/list" --to "$D/m" >/dev/null
  t1=$(now); b1=$(dst_read)
  echo "$t1 - $t0" | bc >>"$W/o"; echo $((b1 - b0)) >>"$W/ob"
  ours_store=$(du -sb "$W/dst" | cut -f1)
  registry dst "$DP"; rm -rf /var/lib/containers/cache/blob-info-cache-v1.boltdb
  b0=$(dst_read); t0=$(now)
  skopeo sync --src yaml --dest docker --dest-tls-verify=false "$W/sync.yml" "$D/m" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  t1=$(now); b1=$(dst_read)
  echo "$t1 - $t0" | bc >>"$W/p"; echo $((b1 - b0)) >>"$W/pb"
  peer_store=$(du -sb "$W/dst" | cut -f1)
done
o=$(median <"$W/o") p=$(median <"$W/p") ob=$(median <"$W/ob") pb=$(median <"$W/pb")
printf "mirror 20 images (time): ours %.2fs, peer %.2fs, ratio %.2f\n" "$o" "$p" "$(echo "$o / $p" | bc -l)"
printf "mirror 20 images (bytes into the mirror): ours %d, peer %d, ratio %.2f\n" "$ob" "$pb" "$(echo "$ob / $pb" | bc -l)"
printf "mirror 20 images (destination storage): ours %d, peer %d\n" "$ours_store" "$peer_store"
