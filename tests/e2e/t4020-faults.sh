#!/bin/bash
# Faults: a registry killed mid-copy (the re-run moves only what is missing), a registry down
# for a moment (connection retries carry the copy through), a blob served with wrong bytes (the
# copy fails naming the digest and leaves no bad blob), 429 with Retry-After (honoured).
# The faults come from t4999-helpers/fault_proxy.py in front of docker-registry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/t4999-helpers/client-lib.sh"
require_cmd docker-registry umoci jq python3
RP=$(free_port) XP=$(free_port)
R=127.0.0.1:$RP X=127.0.0.1:$XP

restart_registry() {
  env -u AWS_CA_BUNDLE docker-registry serve "$TRASH/reg/config.yml" >>"$TRASH/reg/log" 2>&1 &
  echo $! >"$TRASH/registry-$RP.pid"
  wait_http "http://$R/v2/"
}
kill_registry() { kill -9 "$(cat "$TRASH/registry-$RP.pid")"; }

# One proxy for every fault, each under its own repository prefix: /v2/slow/ (1 MB/s blob
# bodies), /v2/bad/ (one layer corrupted), /v2/rate/ (429s with Retry-After).
top_manifest() { echo img/blobs/sha256/$(jq -r ".manifests[0].digest" img/index.json | cut -d: -f2); }
test_expect_success 'setup: registry with a five-blob image, a fault proxy in front' '
  start_registry_at $RP "$TRASH/reg" &&
  make_image img v1 4 256 &&
  for repo in slow/img bad/img rate/img f/img; do lading copy -q oci:img:v1 docker://$R/$repo:v1 || return 1; done &&
  bad=$(jq -r ".layers[1].digest" $(top_manifest)) && layer=$(jq -r ".layers[0].digest" $(top_manifest)) &&
  start_fault_proxy $XP $RP "$TRASH/proxy.log" slow=1000000 corrupt=${bad#sha256:} \
    "429=/rate/img/manifests/:1:2" "429=/rate/img/blobs/$layer:1:1"
'

test_expect_success 'registry killed mid-copy: the copy fails, nothing half-written' '
  run_bg pull lading pull -q --jobs 1 --retry-times 0 $X/slow/img:v1 2>"$TRASH/pull.err" &&
  i=0; while [ "$(ls "$LADING_ROOT/blobs/sha256" 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done &&
  kill_registry &&
  test "$(wait_bg pull)" = 1 && cat "$TRASH/pull.err" &&
  n=$(ls "$LADING_ROOT/blobs/sha256" | wc -l) && test $n -ge 2 && test $n -lt 5 && echo $n >had &&
  ! lading images | grep -q slow/img &&
  test -z "$(ls -A "$LADING_ROOT/ingest" 2>/dev/null)"
'

test_expect_success 'restarted: the re-run moves only what is missing' '
  restart_registry &&
  lading pull --format json $X/slow/img:v1 >out &&
  jq -e ".blobs_skipped == $(cat had) and .blobs_copied == $((5 - $(cat had)))" out &&
  lading images | grep -q "$X/slow/img:v1"
'

test_expect_success 'registry down for a moment: connection retries carry the copy through' '
  kill_registry && sleep 0.2 &&
  run_bg later lading copy -q docker://$R/f/img:v1 oci:later:v1 &&
  sleep 1 && restart_registry &&
  test "$(wait_bg later)" = 0 && test -f later/index.json
'

test_expect_success 'a blob with wrong bytes: copy fails naming it, no bad blob is left' '
  bad=$(jq -r ".layers[1].digest" $(top_manifest)) &&
  test_must_fail lading copy docker://$X/bad/img:v1 oci:bad:v1 2>err &&
  grep -q "$bad" err && grep -q "digest mismatch" err &&
  ! test -e bad/blobs/sha256/${bad#sha256:} &&
  test -z "$(find bad -name ".*" -type f)" &&
  test "$(grep -c "GET /v2/bad/.*${bad#sha256:}" "$TRASH/proxy.log")" = 1 &&
  rm -rf "$LADING_ROOT" &&
  test_must_fail lading pull $X/bad/img:v1 2>err && grep -q "$bad" err &&
  ! test -e "$LADING_ROOT/blobs/sha256/${bad#sha256:}" &&
  test -z "$(ls -A "$LADING_ROOT/ingest" 2>/dev/null)"
'

test_expect_success '429 with Retry-After is honoured (manifest and blob requests)' '
  layer=$(jq -r ".layers[0].digest" $(top_manifest)) &&
  lading copy -q docker://$X/rate/img:v1 oci:rate:v1 &&
  grep "/rate/" "$TRASH/proxy.log" >429.log && cat 429.log &&
  t0=$(awk "/manifests/ && \$4 == 429 {print \$1; exit}" 429.log) &&
  t1=$(awk "/manifests/ && \$4 == 200 {print \$1; exit}" 429.log) &&
  awk -v a=$t0 -v b=$t1 "BEGIN { exit !(b - a >= 1.9) }" &&
  b0=$(awk "/$layer/ && \$4 == 429 {print \$1; exit}" 429.log) &&
  b1=$(awk "/$layer/ && \$2 == \"GET\" && \$4 == 200 {print \$1; exit}" 429.log) &&
  awk -v a=$b0 -v b=$b1 "BEGIN { exit !(b - a >= 0.9) }"
'
test_done
