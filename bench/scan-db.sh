#!/bin/bash
# bench/scan-db.sh: `lading db import` of a Debian security tracker JSON of the real file's size
# (~75 MB, ~99,000 records; tests/fixtures/scan/gen_debian_tracker.py), streamed one package at
# a time: peak RSS and time against jq, which loads the whole document (`jq . FILE`).
# Medians of RUNS runs (default 3). Prints "name: ours X, peer Y, ratio Z".
set -eu
RUNS=${RUNS:-3}
PACKAGES=${PACKAGES:-4000}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${LADING:=$here/build/lading}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lading-bench-db.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

python3 "$here/tests/fixtures/scan/gen_debian_tracker.py" "$PACKAGES" >tracker.json 2>gen.log
size=$(stat -c %s tracker.json)
echo "# $(cat gen.log) in $((size / 1000000)) MB; load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
: >ours.t; : >jq.t
for i in $(seq "$RUNS"); do
  rm -f adv.db*
  /usr/bin/time -a -o ours.t -f "%e %M" "$LADING" db --db adv.db import tracker.json >/dev/null
  /usr/bin/time -a -o jq.t -f "%e %M" jq . tracker.json >/dev/null
done
ot=$(awk '{print $1}' ours.t | median); om=$(awk '{print $2}' ours.t | median)
jt=$(awk '{print $1}' jq.t | median); jm=$(awk '{print $2}' jq.t | median)
printf "db-import-tracker-rss: ours %d MB, peer (jq . of the same file) %d MB, ratio %.2f\n" \
  $((om / 1024)) $((jm / 1024)) "$(echo "$om / $jm" | bc -l)"
printf "db-import-tracker-time: ours %.1fs, peer (jq . of the same file) %.1fs, ratio %.2f\n" \
  "$ot" "$jt" "$(echo "$ot / $jt" | bc -l)"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
