#!/bin/sh
# Runs every tests/e2e/t*.sh (or those given) with LADING set, LADING_TEST_JOBS files at a time
# (default 2: most of a test's time is spent waiting on servers and peers), then prints each
# file's results in order and a total line "E2E: N passed, N failed, N skipped". Exit 1 if any
# failed. Test files are independent: ports come from free_port, data from their own temp dirs,
# shared caches are taken under flock.
here=$(cd "$(dirname "$0")" && pwd)
: "${LADING:=$here/../../build/lading}"
: "${LADING_TEST_JOBS:=2}"
export LADING
tests=${*:-$(ls "$here"/t[0-9]*.sh)}
out=$(mktemp -d "${TMPDIR:-/tmp}/lading-e2e.XXXXXX")
# Files marked "# lading-test: serial" (load tests whose point is the machine's full attention)
# run alone, after the others.
serial=$(grep -l '^# lading-test: serial' $tests 2>/dev/null)
run_files() { # JOBS FILES...
  j=$1; shift
  [ $# -gt 0 ] || return 0
  printf '%s\n' "$@" | xargs -P "$j" -I{} sh -c '
    n=$(basename "$1" .sh); start=$(date +%s)
    bash "$1" >"$2/$n.out" 2>&1
    echo $(( $(date +%s) - start )) >"$2/$n.secs"' _ {} "$out"
}
run_files "$LADING_TEST_JOBS" $(for t in $tests; do echo "$serial" | grep -qx "$t" || echo "$t"; done)
run_files 1 $serial
p=0 f=0 s=0
for t in $tests; do
  n=$(basename "$t" .sh)
  secs=$(cat "$out/$n.secs" 2>/dev/null || echo "?")
  grep -E '^(not ok|ok .*# SKIP|#)' "$out/$n.out" | grep -v '^#   ' |
    sed "s|^|$n: |; s|passed \([0-9]*\) failed \([0-9]*\) skipped \([0-9]*\)$|passed \1 failed \2 skipped \3 (${secs}s)|"
  grep -E '^not ok' -A40 "$out/$n.out" | grep '^#   ' | head -60
  tp=$(grep -cE '^ok ' "$out/$n.out"); ts=$(grep -cE '^ok .*# SKIP' "$out/$n.out")
  tf=$(grep -cE '^not ok ' "$out/$n.out")
  if ! grep -q '^# .*: passed' "$out/$n.out"; then
    echo "$n: did not finish"; tail -5 "$out/$n.out"; tf=$((tf + 1))
  fi
  p=$((p + tp - ts)); f=$((f + tf)); s=$((s + ts))
done
rm -rf "$out"
# A test file must stop what it starts: name and stop any process still working in the temp dir
# of a test file that has ended (removed: "(deleted)"), which would hold ports and CPU.
sleep 1
for d in /proc/[0-9]*; do
  cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
  case "$cwd" in "${TMPDIR:-/tmp}"/lading-t[0-9]*" (deleted)")
    t=${cwd##*/lading-}; echo "warning: left running by ${t%%.*}: $(tr '\0' ' ' <"$d/cmdline" | cut -c1-100)"
    kill "${d#/proc/}" 2>/dev/null ;;
  esac
done
echo "E2E: $p passed, $f failed, $s skipped"
[ "$f" = 0 ]
