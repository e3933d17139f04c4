#!/bin/bash
# A manifest GET through lading serve counts as use of the same image in the lading store
# (meta.db last_used), so that prune's LRU sees registry pulls; HEADs and unknown images do not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd skopeo umoci sqlite3
cd "$TRASH"
mk_layout img v1 || exit 1
lading copy -q oci:img:v1 app:v1 || exit 1
start_serve reg --store "$LADING_ROOT"
skopeo --insecure-policy copy -q --dest-tls-verify=false --preserve-digests oci:img:v1 docker://$REG/app:v1 || exit 1
D=$(skopeo inspect --tls-verify=false --raw docker://$REG/app:v1 | sha256sum | sed 's/^/sha256:/; s/ .*//')
last_used() { sqlite3 "file:$LADING_ROOT/meta.db?mode=ro" "select last_used from images where digest='$D'"; }

test_expect_success 'a manifest GET updates last_used of the store image within a few seconds' '
  sqlite3 $LADING_ROOT/meta.db "update images set last_used = 1000 where digest = \"$D\"" &&
  [ "$(last_used)" = 1000 ] &&
  [ "$(http GET /v2/app/manifests/v1)" = 200 ] &&
  for i in $(seq 100); do [ "$(last_used)" != 1000 ] && break; sleep 0.1; done &&
  [ "$(last_used)" -gt 1000 ]
'

test_expect_success 'digests the store does not hold get no row' '
  echo "{}" >c.json && push_blob other c.json &&
  printf "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":3},\"layers\":[]}" "$(digest_of c.json)" >m.json &&
  [ "$(put_manifest other t m.json)" = 201 ] && [ "$(http GET /v2/other/manifests/t)" = 200 ] &&
  sleep 1.5 &&
  [ "$(sqlite3 "file:$LADING_ROOT/meta.db?mode=ro" "select count(*) from images where digest = \"$(digest_of m.json)\"")" = 0 ]
'
test_done
