#!/bin/bash
# Reliability of lading serve under load and crashes (each bounded to a few seconds):
# 200 concurrent clients pushing and pulling with zero failures and every blob verified;
# kill -9 in the middle of concurrent pushes, restart, every tag resolves and every blob verifies.
# lading-test: serial
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd python3
LOAD="python3 $TEST_DIR/serve-load.py"
start_serve load --access-log off

test_expect_success '200 concurrent clients push and pull for 4 s: no failure, every digest matches' '
  $LOAD load $REG 200 4 >load.out && cat load.out && grep -q "failures 0$" load.out
'

test_expect_success 'kill -9 during concurrent pushes, restart: every tag resolves, every blob verifies' '
  R=$TRASH/crash && serve_start $R $R.log --access-log off &&
  { $LOAD push $REG 20 & } && L=$! &&
  for i in $(seq 100); do [ "$(find $R/repos -path "*/_tags/*" -type f | wc -l)" -ge 10 ] && break; sleep 0.1; done &&
  sleep 0.3 && kill -9 $PID && wait $PID 2>/dev/null; kill $L; wait $L 2>/dev/null
  ls $R/uploads | wc -l >stale.count &&
  serve_start $R $R.log --access-log off &&
  [ -z "$(ls $R/uploads)" ] &&
  $LOAD verify $REG $R >verify.out; rc=$?; cat verify.out; kill $PID; wait $PID; [ $rc = 0 ]
'
test_done
