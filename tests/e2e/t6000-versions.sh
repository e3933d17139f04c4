#!/bin/sh
# Version ordering: our dpkg and rpm comparators agree with the real dpkg and rpm on every row
# of the fixture tables (the same rows the unit tests use).
. "$(dirname "$0")/lib.sh"
require_cmd dpkg rpm

# One rpm invocation for the whole table (rpm starts slowly): prints rpm.vercmp per row.
rpm_vercmp_rows() {
  lua=""
  while read a op b; do lua="$lua print(rpm.vercmp(\"$a\", \"$b\") .. \"\\n\")"; done
  rpm --eval "%{lua: $lua}" | grep -v "^$"
}

want_of() { case $1 in lt) echo -1 ;; eq) echo 0 ;; gt) echo 1 ;; esac; }

test_expect_success 'dpkg --compare-versions agrees with the table and with lading' '
  grep -v "^#" "$FIXTURES/scan/versions-dpkg.txt" >rows &&
  awk "{print \$1, \$3}" rows | lading db vercmp dpkg >ours &&
  [ "$(wc -l <ours)" = "$(wc -l <rows)" ] &&
  paste -d" " rows ours | while read a op b got; do
    dpkg --compare-versions "$a" "$op" "$b" || { echo "dpkg disagrees: $a $op $b"; exit 1; }
    [ "$got" = "$(want_of $op)" ] || { echo "lading: $a vs $b = $got, want $op"; exit 1; }
  done &&
  [ "$(lading db vercmp dpkg 1.0~rc1 1.0)" = -1 ]
'

test_expect_success 'rpm.vercmp agrees with the table and with lading (~ and ^, epochs)' '
  grep -v "^#" "$FIXTURES/scan/versions-rpm.txt" >rows &&
  rpm_vercmp_rows <rows >real &&
  awk "{print \$1, \$3}" rows | lading db vercmp rpm >ours &&
  [ "$(wc -l <real)" = "$(wc -l <rows)" ] && [ "$(wc -l <ours)" = "$(wc -l <rows)" ] &&
  paste -d" " rows real ours | while read a op b real got; do
    [ "$real" = "$(want_of $op)" ] || { echo "rpm disagrees: $a $op $b ($real)"; exit 1; }
    [ "$got" = "$real" ] || { echo "lading: $a vs $b = $got, rpm says $real"; exit 1; }
  done
'

test_expect_success 'vercmp rejects an unknown scheme with exit 2' '
  expect_exit 2 lading db vercmp cobol 1 2 2>err &&
  grep -q "unknown version scheme" err
'

test_done
