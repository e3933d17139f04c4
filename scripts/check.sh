#!/bin/sh
# make check: unit + e2e on the normal build, then both again on the ASan+UBSan build.
# Prints per-suite results and a final "N passed, N failed" line; exit 1 if anything failed.
set -u
build=${1:-build} asan=${2:-build-asan}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
total_p=0 total_f=0
log=$(mktemp -d)

run_unit() { # $1 build dir, $2 label
  meson test -C "$1" --suite unit --num-processes 2 >"$log/unit-$2.txt" 2>&1
  p=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log/unit-$2.txt" | tail -1)
  f=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log/unit-$2.txt" | tail -1)
  t=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$log/unit-$2.txt" | tail -1)
  p=${p:-0} f=$(( ${f:-0} + ${t:-0} ))
  [ "$f" = 0 ] || { grep -E 'FAIL|TIMEOUT' "$log/unit-$2.txt"; cat "$1/meson-logs/testlog.txt" | grep -B2 -A20 -E '\[  FAILED  \]|ERROR' | head -80; }
  echo "unit ($2): $p passed, $f failed"
  total_p=$((total_p + p)); total_f=$((total_f + f))
}

run_e2e() { # $1 build dir, $2 label
  LADING="$top/$1/lading" tests/e2e/run.sh >"$log/e2e-$2.txt" 2>&1
  grep -vE '^[a-z0-9-]+: ok ' "$log/e2e-$2.txt"
  line=$(grep '^E2E:' "$log/e2e-$2.txt" | tail -1)
  p=$(echo "$line" | sed -n 's/^E2E: \([0-9]*\) passed.*/\1/p')
  f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
  p=${p:-0} f=${f:-1}
  echo "e2e ($2): $p passed, $f failed"
  total_p=$((total_p + p)); total_f=$((total_f + f))
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
run_unit "$build" plain
run_e2e "$build" plain
if [ "${LADING_SKIP_ASAN:-0}" != 1 ]; then
  run_unit "$asan" asan
  run_e2e "$asan" asan
fi
rm -rf "$log"
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
