#!/bin/sh
# Runs every tests/e2e/t*.sh (or those given) with LADING set, prints each file's results and a
# total line "E2E: N passed, N failed, N skipped". Exit 1 if any failed.
here=$(cd "$(dirname "$0")" && pwd)
: "${LADING:=$here/../../build/lading}"
export LADING
p=0 f=0 s=0
tests=${*:-$(ls "$here"/t[0-9]*.sh)}
for t in $tests; do
  start=$(date +%s)
  out=$(sh -c 'exec bash "$0"' "$t" 2>&1)
  secs=$(( $(date +%s) - start ))
  echo "$out" | grep -E '^(not ok|ok .*# SKIP|#)' | grep -v '^#   ' | sed "s|^|$(basename "$t" .sh): |; s|passed \([0-9]*\) failed \([0-9]*\) skipped \([0-9]*\)$|passed \1 failed \2 skipped \3 (${secs}s)|"
  echo "$out" | grep -E '^not ok' -A40 | grep '^#   ' | head -60
  tp=$(echo "$out" | grep -cE '^ok ' ); ts=$(echo "$out" | grep -cE '^ok .*# SKIP')
  tf=$(echo "$out" | grep -cE '^not ok ')
  if ! echo "$out" | grep -q '^# .*: passed'; then
    echo "$(basename "$t"): did not finish"; tf=$((tf + 1))
  fi
  p=$((p + tp - ts)); f=$((f + tf)); s=$((s + ts))
done
echo "E2E: $p passed, $f failed, $s skipped"
[ "$f" = 0 ]
