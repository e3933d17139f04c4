#!/bin/bash
# bench/scan.sh: lading scan on the real Debian 12 image (tests/e2e/lib.sh debian_base_layout).
#
#   1. first scan (warm advisory db, no layer cache) vs decompressing the image's layer with
#      igzip -dc (the floor for anything that must read the layer): target <= 1.2x; and vs
#      decompressing + hashing blob and tar, which the layer reader does to verify digests.
#      Each run starts from a copy (made outside the timing) of a store that has the advisory
#      database and has been used once (a tiny image scanned): creating a store costs ~8 fsyncs
#      once per machine, not per image; that one-time cost is printed separately (store-create)
#      The same for the image in the store (scan-store-vs-decompress): blobs there were verified
#      and diff_ids computed when the image was copied in, so a scan only inflates and reads.
#   2. a second image sharing that base (one extra small layer) vs the first scan: target <= 0.2x
#   3. peak RSS of the first scan vs that of scanning a tiny Alpine image; and of the Debian image
#      with a jar in an extra layer vs the same with 400 MB more in that layer: memory flat in size
# Medians of RUNS runs (default 5). Prints "name: ours X, peer Y, ratio Z".
set -eu
RUNS=${RUNS:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${LADING:=$here/build/lading}"
. "$here/tests/e2e/lib.sh" >/dev/null
export FIXTURES="$here/tests/fixtures"
. "$FIXTURES/scan/images.sh"
cd "$TRASH"
lading() { "$LADING" "$@"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Read the clock in this shell: $(date) would add two fork+exec (~4 ms here) to every figure.
export LC_NUMERIC=C
now() { echo "$EPOCHREALTIME"; }
elapsed() { echo "$EPOCHREALTIME - $1" | bc; }

ln -s "$(debian_scan_layout)" deb
alpine_rootfs alp-root && new_layout alp 1 && add_layer alp 1 alp-root
import_fixtures
adv=$LADING_ROOT/advisories.db
# the state of a machine that has imported advisories and scanned something before
lading scan --db "$adv" oci:alp:1 >/dev/null
cp -a "$LADING_ROOT" pristine
# the same image in a store: its blobs were verified and its diff_ids computed when it was copied in
cp -a pristine stored && LADING_ROOT=$TRASH/stored lading copy -q oci:deb:bookworm deb:stored
fresh_store() { rm -rf "$1" && cp -a pristine "$1"; }
m=$(jq -r '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == "bookworm") | .digest' deb/index.json | cut -d: -f2)
layer=deb/blobs/sha256/$(jq -r '.layers[0].digest' deb/blobs/sha256/$m | cut -d: -f2)
size=$(stat -c %s "$layer")
cat "$layer" >/dev/null # page cache warm for both sides
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

: >igzip.t; : >verified.t; : >first.t; : >second.t; : >stored.t
for i in $(seq "$RUNS"); do
  t=$EPOCHREALTIME; igzip -dc "$layer" >/dev/null; elapsed "$t" >>igzip.t
  # what a verifying reader must also do: hash the blob and the uncompressed tar (diff_id)
  t=$EPOCHREALTIME; openssl dgst -sha256 "$layer" >/dev/null; igzip -dc "$layer" | openssl dgst -sha256 >/dev/null
  elapsed "$t" >>verified.t
  fresh_store store2
  t=$EPOCHREALTIME; LADING_ROOT=$TRASH/store2 lading scan --db "$adv" --format json oci:deb:bookworm >first.json; elapsed "$t" >>first.t
  t=$EPOCHREALTIME; LADING_ROOT=$TRASH/store2 lading scan --db "$adv" --format json oci:deb:vuln >second.json; elapsed "$t" >>second.t
  t=$EPOCHREALTIME; LADING_ROOT=$TRASH/stored lading scan --no-cache --db "$adv" --format json deb:stored >/dev/null; elapsed "$t" >>stored.t
done
jq -e '.scan.layers_read == 1 and .scan.layers_cached == 1' second.json >/dev/null ||
  { echo "second scan did not use the layer cache" >&2; exit 1; }
ig=$(median <igzip.t); ver=$(median <verified.t); first=$(median <first.t); second=$(median <second.t)
stored=$(median <stored.t)
printf "scan-vs-decompress: ours %.3fs, peer (igzip -dc of the %d MB layer) %.3fs, ratio %.2f\n" \
  "$first" $((size / 1000000)) "$ig" "$(echo "$first / $ig" | bc -l)"
printf "scan-store-vs-decompress: ours (the image in the store, no layer cache) %.3fs, peer (igzip -dc) %.3fs, ratio %.2f\n" \
  "$stored" "$ig" "$(echo "$stored / $ig" | bc -l)"
printf "scan-vs-verified-decompress: ours %.3fs, peer (sha256 of blob + igzip -dc | sha256) %.3fs, ratio %.2f\n" \
  "$first" "$ver" "$(echo "$first / $ver" | bc -l)"
printf "scan-shared-base: ours (second image) %.3fs, peer (first scan) %.3fs, ratio %.2f\n" \
  "$second" "$first" "$(echo "$second / $first" | bc -l)"

# CPU time (user+sys) is steadier than wall time on a shared machine: report it as well.
cpu() { { /usr/bin/time -f "%U %S" "$@" >/dev/null; } 2>&1 | tail -1 | awk '{print $1 + $2}'; }
: >cfirst.t; : >csecond.t; : >cig.t
for i in $(seq "$RUNS"); do
  fresh_store store3
  LADING_ROOT=$TRASH/store3 cpu "$LADING" scan --db "$adv" oci:deb:bookworm >>cfirst.t
  LADING_ROOT=$TRASH/store3 cpu "$LADING" scan --db "$adv" oci:deb:vuln >>csecond.t
  cpu igzip -dc "$layer" >>cig.t
done
cf=$(median <cfirst.t); cs=$(median <csecond.t); ci=$(median <cig.t)
printf "scan-vs-decompress-cpu: ours %.2fs, peer (igzip -dc) %.2fs, ratio %.2f\n" "$cf" "$ci" "$(echo "$cf / $ci" | bc -l)"
printf "scan-shared-base-cpu: ours (second image) %.2fs, peer (first scan) %.2fs, ratio %.2f\n" "$cs" "$cf" "$(echo "$cs / $cf" | bc -l)"

# fixed costs, on the tiny image: process start alone, a scan in an existing store, and a scan
# that has to create the store first (once per machine)
: >ver.t; : >tiny.t; : >create.t
for i in $(seq "$RUNS"); do
  t=$EPOCHREALTIME; "$LADING" --version >/dev/null; elapsed "$t" >>ver.t
  fresh_store store4
  t=$EPOCHREALTIME; LADING_ROOT=$TRASH/store4 lading scan --db "$adv" --no-cache oci:alp:1 >/dev/null; elapsed "$t" >>tiny.t
  rm -rf store5
  t=$EPOCHREALTIME; LADING_ROOT=$TRASH/store5 lading scan --db "$adv" oci:alp:1 >/dev/null; elapsed "$t" >>create.t
done
ver=$(median <ver.t); tiny=$(median <tiny.t); create=$(median <create.t)
printf "scan-fixed-cost: ours (tiny image, existing store) %.3fs, peer (lading --version: process start) %.3fs, ratio %.2f\n" \
  "$tiny" "$ver" "$(echo "$tiny / $ver" | bc -l)"
printf "store-create: ours (tiny image, new store) %.3fs, peer (tiny image, existing store) %.3fs, ratio %.2f\n" \
  "$create" "$tiny" "$(echo "$create / $tiny" | bc -l)"

rss_big=$( { /usr/bin/time -f %M "$LADING" scan --no-cache --db "$adv" --format json oci:deb:bookworm >/dev/null; } 2>&1 | tail -1)
rss_small=$( { /usr/bin/time -f %M "$LADING" scan --no-cache --db "$adv" --format json oci:alp:1 >/dev/null; } 2>&1 | tail -1)
usize=$(jq .scan.bytes_read first.json)
printf "scan-peak-rss: ours (Debian, %d MB uncompressed) %d KB, peer (Alpine, 3 packages) %d KB, ratio %.2f\n" \
  $((usize / 1000000)) "$rss_big" "$rss_small" "$(echo "$rss_big / $rss_small" | bc -l)"
# Memory flat in image size: the Debian image plus a layer holding a jar, against the same plus
# 400 MB of big files in that layer (made once per run with umoci). Both take the same code paths
# (the jar's pulls in the zip reader and more of libcrypto's text: ~3 MB of RSS that is code,
# not data), so the ratio isolates the bytes.
cp -r "$(readlink -f deb)" huge && mkdir -p jar-root/opt/data huge-root/opt/data &&
  cp "$(ls /usr/share/java/log4j-core*.jar | head -1)" jar-root/opt/data/ &&
  cp jar-root/opt/data/* huge-root/opt/data/ &&
  for i in 1 2 3 4; do head -c 75000000 /dev/urandom | base64 -w 0 >huge-root/opt/data/blob$i; done &&
  umoci tag --image huge:bookworm jar >/dev/null && add_layer huge jar jar-root &&
  umoci tag --image huge:bookworm huge >/dev/null && add_layer huge huge huge-root
rss_jar=$( { /usr/bin/time -f %M "$LADING" scan --no-cache --db "$adv" --format json oci:huge:jar >jar.json; } 2>&1 | tail -1)
rss_huge=$( { /usr/bin/time -f %M "$LADING" scan --no-cache --db "$adv" --format json oci:huge:huge >huge.json; } 2>&1 | tail -1)
jsize=$(jq .scan.bytes_read jar.json) hsize=$(jq .scan.bytes_read huge.json)
printf "scan-peak-rss-growth: ours (Debian + jar + 400 MB, %d MB uncompressed) %d KB, peer (Debian + jar, %d MB) %d KB, ratio %.2f\n" \
  $((hsize / 1000000)) "$rss_huge" $((jsize / 1000000)) "$rss_jar" "$(echo "$rss_huge / $rss_jar" | bc -l)"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
