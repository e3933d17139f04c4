#!/bin/bash
# bench/build.sh: lading build vs buildah 1.28 (overlay storage, --isolation chroot) on the
# debootstrap base, a 5-step Containerfile (ENV, COPY, RUN, COPY, RUN). Both builders have the
# base image in their storage beforehand (untimed), as after a pull. Prints, median of N runs:
#   build-cold: a build with an empty step cache
#   build-warm: a rebuild with nothing changed
#   build-one-file: a rebuild after the second COPY's file changed (only steps after it re-run)
# Usage: bench/build.sh [RUNS] (default 3). Needs root.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
LADING=${LADING:-$here/../build/lading}
RUNS=${1:-3}
. "$here/../tests/e2e/lib.sh" >/dev/null
LAYOUT=$(debian_base_layout)
W=$(mktemp -d /var/tmp/lading-bench-build.XXXXXX)
trap 'rm -rf "$W"' EXIT
export LADING_ROOT=$W/store
BH="buildah --root $W/bh/root --runroot $W/bh/run --storage-driver overlay"
mkdir -p "$W/ctx"
head -c 2000000 /dev/urandom >"$W/ctx/data.bin"
echo 'int main(void){return 0;}' >"$W/ctx/main.c"
cat >"$W/ctx/Containerfile" <<'EOT'
FROM debian:bookworm
ENV APP=/app
COPY data.bin /app/
RUN sha256sum /app/data.bin >/app/data.sum
COPY main.c /app/src/
RUN wc -c /app/src/main.c >/app/src/size
EOT
"$LADING" copy "oci:$LAYOUT:bookworm" debian:bookworm >/dev/null
$BH pull -q "oci:$LAYOUT:bookworm" >/dev/null 2>&1
$BH tag "$($BH images -q | head -1)" debian:bookworm >/dev/null 2>&1 || true
# unpack the base once for us too (buildah's pull already extracted it)
printf 'FROM debian:bookworm\nRUN true\n' >"$W/warm.Containerfile"
"$LADING" build -q -f "$W/warm.Containerfile" "$W/ctx" >/dev/null

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f\n", b-a}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours_build() { "$LADING" build -q -t bench "$W/ctx"; }
theirs_build() { $BH bud -q --isolation chroot --layers -f "$W/ctx/Containerfile" -t bench "$W/ctx"; }

cold_o=() cold_t=() warm_o=() warm_t=() one_o=() one_t=()
for i in $(seq "$RUNS"); do
  rm -rf "$LADING_ROOT/build-cache/steps"; mkdir -p "$LADING_ROOT/build-cache/steps"
  cold_o+=("$(t ours_build)")
  $BH rmi -a -f >/dev/null 2>&1 || true
  $BH pull -q "oci:$LAYOUT:bookworm" >/dev/null 2>&1; $BH tag "$($BH images -q | head -1)" debian:bookworm >/dev/null 2>&1 || true
  cold_t+=("$(t theirs_build)")
  warm_o+=("$(t ours_build)"); warm_t+=("$(t theirs_build)")
  echo "int main(void){return $i;}" >"$W/ctx/main.c"
  one_o+=("$(t ours_build)"); one_t+=("$(t theirs_build)")
done
report() {
  local o th; o=$(printf '%s\n' "${!2}" | median); th=$(printf '%s\n' "${!3}" | median)
  awk -v n="$1" -v o="$o" -v t="$th" 'BEGIN{printf "%s: ours %.3fs, buildah %.3fs, ratio %.2f\n", n, o, t, o/t}'
}
report build-cold 'cold_o[@]' 'cold_t[@]'
report build-warm 'warm_o[@]' 'warm_t[@]'
report build-one-file 'one_o[@]' 'one_t[@]'
# which steps re-ran after the one-file change
echo "int main(void){return 99;}" >"$W/ctx/main.c"
"$LADING" build -t bench "$W/ctx" 2>&1 >/dev/null | grep -o 'line [0-9]*: [A-Z]* .*\[[a-z]*' | sed 's/^/  /'
