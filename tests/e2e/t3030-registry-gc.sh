#!/bin/bash
# lading registry gc: marks from every manifest (tagged, untagged, referrers), sweeps the rest;
# --dry-run removes nothing; the grace period keeps young blobs; refuses --grace 0 while a
# server holds the root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd curl jq skopeo umoci
start_serve gc
cd "$TRASH"
mk_layout img v1 && mk_layout img v2 || exit 1
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:img:v1 docker://$REG/gc/keep:v1 &&
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:img:v2 docker://$REG/gc/gone:v2 || exit 1
head -c 5000 /dev/urandom >orphan.bin && push_blob gc/keep orphan.bin
gone=$(curl -s -I http://$REG/v2/gc/gone/manifests/v2 | tr -d '\r' | sed -n 's/^Docker-Content-Digest: //Ip')
curl -s -X DELETE http://$REG/v2/gc/gone/manifests/$gone >/dev/null
nblobs() { ls "$SERVE_ROOT/blobs/sha256" | wc -l; }

test_expect_success 'gc refuses --grace 0 while a server holds the root' '
  ! "$LADING" registry gc --root $SERVE_ROOT --grace 0 2>err && grep -q "a server is running" err
'

kill "$SERVE_PID"; wait "$SERVE_PID"
test_expect_success 'gc --dry-run reports what it would sweep and removes nothing' '
  before=$(nblobs) &&
  lading registry gc --root $SERVE_ROOT --grace 0 --dry-run --format json >dry.json &&
  jq -e ".dry_run == true and .blobs_swept == 4 and .manifests_marked == 1" dry.json &&
  [ "$(nblobs)" = "$before" ]
'

test_expect_success 'gc keeps unreferenced blobs younger than the grace period' '
  lading registry gc --root $SERVE_ROOT --format json >young.json &&
  jq -e ".blobs_swept == 0 and .blobs_kept_young == 4" young.json
'

test_expect_success 'gc --grace 0 sweeps the deleted image and the orphan, keeps the tagged one' '
  lading registry gc --root $SERVE_ROOT --grace 0 --format json >gc.json &&
  jq -e ".blobs_swept == 4 and .blobs_marked == 3" gc.json &&
  [ "$(nblobs)" = 3 ] && [ ! -e $SERVE_ROOT/blobs/sha256/$(sha256sum orphan.bin | cut -d" " -f1) ] &&
  lading registry gc --root $SERVE_ROOT --grace 0 | grep -q "blobs swept *0"
'

start_serve gc
test_expect_success 'after gc the kept image pulls and verifies; swept blobs are gone' '
  skopeo --insecure-policy copy --src-tls-verify=false docker://$REG/gc/keep:v1 oci:out:v1 &&
  for b in out/blobs/sha256/*; do [ "sha256:$(basename $b)" = "$(digest_of $b)" ] || exit 1; done &&
  [ "$(http HEAD /v2/gc/keep/blobs/$(digest_of orphan.bin))" = 404 ]
'

test_expect_success 'gc on a directory that is not a registry root fails with a one-line error' '
  ! "$LADING" registry gc --root $TRASH/nothing 2>err && grep -q "not a registry root" err
'
test_done
