#!/bin/bash
# bench/registry.sh: lading serve against Debian's docker-registry (distribution 2.8, the
# reference implementation), same machine, same storage kind (local file system), fresh storage
# and a fresh port for every run (skopeo caches blob locations per registry).
#
# Figures (median of RUNS runs, default 3):
#   upload-monolithic   1 GiB blob: POST, then PUT ?digest= with the body (curl -T)   MB/s
#   upload-chunked      1 GiB blob: POST, 4 x 256 MiB PATCH with Content-Range, PUT  MB/s
#   download-1          the same blob, 1 client (curl -o /dev/null)                    MB/s
#   download-8          the same blob, 8 clients at once (aggregate)                   MB/s
#   manifest-get        wrk, 64 connections, 2 threads, 5 s                            req/s
#   skopeo-push         ~500 MB two-layer image (umoci layout)                         s
#   peak-rss            VmHWM of the server after all of the above                     MB
#   skopeo-push-floor   skopeo's own CPU time (user+sys) while pushing to us, against the
#                       reference's push time: the best ratio any server could reach
# Prints "name: ours X, peer Y, ratio Z" (ratio = ours/peer; for seconds and MB lower is better).
#
# Usage: bench/registry.sh [path/to/lading]   env: RUNS=3 BENCH_DIR=/var/tmp/lading-bench
set -eu
LADING=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/lading}
RUNS=${RUNS:-3}
CACHE=${LADING_TEST_CACHE:-/var/tmp/lading-test-cache}/bench-registry
WORK=${BENCH_DIR:-/var/tmp/lading-bench}
mkdir -p "$CACHE" "$WORK"
for c in docker-registry curl wrk skopeo umoci python3; do
  command -v $c >/dev/null || { echo "bench: missing $c" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# Read the clock in this shell: $(date) would add two fork+exec (~4 ms here) to every figure.
export LC_NUMERIC=C
now() { echo "$EPOCHREALTIME"; }
mb_per_s() { python3 -c "print(round($1 / 1e6 / ($3 - $2), 1))"; }

# ---- test data (cached) ----
if [ ! -f "$CACHE/blob1g.ok" ]; then
  echo "bench: making a 1 GiB random blob" >&2
  head -c 1073741824 /dev/urandom >"$CACHE/blob1g"
  (cd "$CACHE" && rm -f chunk.* && split -b 268435456 -d -a 1 blob1g chunk.)
  touch "$CACHE/blob1g.ok"
fi
BLOB=$CACHE/blob1g
BLOB_SIZE=$(stat -c %s "$BLOB")
BLOB_DIGEST=sha256:$(sha256sum "$BLOB" | cut -d' ' -f1)
if [ ! -f "$CACHE/image.ok" ]; then
  echo "bench: making a ~500 MB two-layer image" >&2
  rm -rf "$CACHE/image" "$CACHE/l1" "$CACHE/l2"
  mkdir -p "$CACHE/l1" "$CACHE/l2"
  head -c 250000000 /dev/urandom >"$CACHE/l1/data1"
  head -c 250000000 /dev/urandom >"$CACHE/l2/data2"
  umoci init --layout "$CACHE/image" && umoci new --image "$CACHE/image:bench"
  umoci insert --image "$CACHE/image:bench" "$CACHE/l1" /a
  umoci insert --image "$CACHE/image:bench" "$CACHE/l2" /b
  rm -rf "$CACHE/l1" "$CACHE/l2"
  touch "$CACHE/image.ok"
fi
echo '{"architecture":"amd64","os":"linux"}' >"$WORK/config.json"
CONFIG_DIGEST=sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)

# ---- servers ----
start_ours() { # port dir
  "$LADING" serve --addr 127.0.0.1:$1 --root "$2" --access-log off 2>"$2.log" &
  PID=$!
}
start_peer() { # port dir
  mkdir -p "$2"
  cat >"$2.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $2}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$1
YML
  env -u AWS_CA_BUNDLE docker-registry serve "$2.yml" >"$2.log" 2>&1 &
  PID=$!
}
wait_up() { for _ in $(seq 200); do curl -s -o /dev/null "$1/v2/" && return 0; sleep 0.05; done; return 1; }

# Location of a response (absolute URL), with the separator for one more query parameter.
location() { # base headers-file
  loc=$(tr -d '\r' <"$2" | sed -n 's/^[Ll]ocation: *//p' | tail -1)
  case "$loc" in /*) loc="$1$loc" ;; esac
  echo "$loc"
}
qs() { case "$1" in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }

upload_monolithic() { # base repo
  curl -sf -D "$WORK/h" -o /dev/null -X POST "$1/v2/$2/blobs/uploads/"
  loc=$(location "$1" "$WORK/h")
  curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$BLOB" \
    "$(qs "$loc" "digest=$BLOB_DIGEST")"
}

upload_chunked() { # base repo
  curl -sf -D "$WORK/h" -o /dev/null -X POST "$1/v2/$2/blobs/uploads/"
  loc=$(location "$1" "$WORK/h")
  off=0
  for c in "$CACHE"/chunk.*; do
    n=$(stat -c %s "$c")
    curl -sf -D "$WORK/h" -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' \
      -H "Content-Range: $off-$((off + n - 1))" -T "$c" "$loc"
    loc=$(location "$1" "$WORK/h")
    off=$((off + n))
  done
  curl -sf -o /dev/null -X PUT "$(qs "$loc" "digest=$BLOB_DIGEST")"
}

push_small_image() { # base repo (POST + PUT: the reference answers a single POST with 202)
  curl -sf -D "$WORK/h" -o /dev/null -X POST "$1/v2/$2/blobs/uploads/"
  curl -sf -o /dev/null -X PUT -H "Content-Type: application/octet-stream" --data-binary @"$WORK/config.json" \
    "$(qs "$(location "$1" "$WORK/h")" "digest=$CONFIG_DIGEST")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$CONFIG_DIGEST" "$(stat -c %s "$WORK/config.json")" "$BLOB_DIGEST" "$BLOB_SIZE" >"$WORK/manifest.json"
  curl -sf -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$WORK/manifest.json" "$1/v2/$2/manifests/latest"
}

one_run() { # which(ours|peer) run-number -> appends "metric value" lines to $WORK/<which>.<run>
  which=$1 run=$2 out="$WORK/$1.$2"
  dir="$WORK/storage-$which"
  rm -rf "$dir" "$dir.log" && mkdir -p "$dir"
  port=$(free_port)
  base=http://127.0.0.1:$port
  if [ "$which" = ours ]; then start_ours $port "$dir"; else start_peer $port "$dir"; fi
  trap 'kill $PID 2>/dev/null' EXIT
  wait_up "$base"
  sync
  t0=$EPOCHREALTIME; upload_monolithic "$base" bench/mono; t1=$EPOCHREALTIME
  echo "upload-monolithic $(mb_per_s $BLOB_SIZE $t0 $t1)" >"$out"
  t0=$EPOCHREALTIME; upload_chunked "$base" bench/chunked; t1=$EPOCHREALTIME
  echo "upload-chunked $(mb_per_s $BLOB_SIZE $t0 $t1)" >>"$out"
  push_small_image "$base" bench/mono
  curl -sf -o /dev/null "$base/v2/bench/mono/blobs/$BLOB_DIGEST" # warm the page cache
  t0=$EPOCHREALTIME; curl -sf -o /dev/null "$base/v2/bench/mono/blobs/$BLOB_DIGEST"; t1=$EPOCHREALTIME
  echo "download-1 $(mb_per_s $BLOB_SIZE $t0 $t1)" >>"$out"
  t0=$EPOCHREALTIME
  for _ in 1 2 3 4 5 6 7 8; do curl -sf -o /dev/null "$base/v2/bench/mono/blobs/$BLOB_DIGEST" & done
  wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
  t1=$EPOCHREALTIME
  echo "download-8 $(mb_per_s $((BLOB_SIZE * 8)) $t0 $t1)" >>"$out"
  rps=$(wrk -t2 -c64 -d5s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$base/v2/bench/mono/manifests/latest" | sed -n 's/^Requests\/sec: *//p')
  echo "manifest-get $rps" >>"$out"
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%U %S" -o "$WORK/skopeo.cpu" skopeo --insecure-policy copy -q \
    --dest-tls-verify=false "oci:$CACHE/image:bench" "docker://127.0.0.1:$port/bench/image:1" >/dev/null
  t1=$EPOCHREALTIME
  echo "skopeo-push $(python3 -c "print(round($t1 - $t0, 2))")" >>"$out"
  echo "skopeo-cpu $(awk '{print $1 + $2}' "$WORK/skopeo.cpu")" >>"$out"
  echo "peak-rss $(awk '/VmHWM/ {print $2 / 1024}' /proc/$PID/status)" >>"$out"
  kill $PID; wait $PID 2>/dev/null || true
  rm -rf "$dir"
}

for r in $(seq "$RUNS"); do
  for w in ours peer; do
    echo "bench: run $r $w" >&2
    one_run $w $r
  done
done

python3 - "$WORK" "$RUNS" <<'PY'
import statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
def load(which):
    vals = {}
    for r in range(1, runs + 1):
        for line in open(f"{work}/{which}.{r}"):
            k, v = line.split()
            vals.setdefault(k, []).append(float(v))
    return {k: statistics.median(v) for k, v in vals.items()}
ours, peer = load("ours"), load("peer")
units = {"upload-monolithic": "MB/s", "upload-chunked": "MB/s", "download-1": "MB/s",
         "download-8": "MB/s", "manifest-get": "req/s", "skopeo-push": "s", "peak-rss": "MB"}
for k, unit in units.items():
    o, p = ours[k], peer[k]
    print(f"{k}: ours {o:g} {unit}, peer {p:g} {unit}, ratio {o / p:.2f}")
# skopeo sends one layer at a time and is CPU-bound doing it (reading, SHA-256, HTTP): its own
# CPU time while pushing to us bounds any server's push time from below.
o, p = ours["skopeo-cpu"], peer["skopeo-push"]
print(f"skopeo-push-floor: skopeo's own CPU time (pushing to ours) {o:g} s, peer's push time "
      f"{p:g} s, ratio {o / p:.2f}")
PY
