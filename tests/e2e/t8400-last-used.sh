#!/bin/bash
# Last-used times live in meta.db and survive restarts: reading an image from the store (copy out,
# inspect) moves its last_used and leaves first_seen; df and prune's LRU order follow them.
. "$(dirname "$0")/lib.sh"
require_cmd python3 jq sqlite3
GEN="$TEST_DIR/t8000-gen-layout.py"
times() { lading df --format json | jq -r ".images[] | select(.names[0] == \"docker.io/img/$1:1\") | \"\(.first_seen) \(.last_used)\""; }

test_expect_success 'using an image from the store records its last use; first seen stays' '
  L="$LADING_TEST_CACHE/disk-t8400" &&
  if [ ! -f "$L/index.json" ]; then
    rm -rf "$L.tmp" && mkdir -p "$L.tmp" &&
    python3 "$GEN" "$L.tmp" a=base:65536:b,a:65536:a b=base:65536:b,b:65536:b >/dev/null &&
    mv "$L.tmp" "$L"
  fi && ln -s "$L" L &&
  lading copy -q oci:L:a img/a:1 >/dev/null && lading copy -q oci:L:b img/b:1 >/dev/null &&
  sqlite3 "$LADING_ROOT/meta.db" "UPDATE images SET first_seen=1000, last_used=2000" &&
  test "$(times a)" = "1970-01-01T00:16:40Z 1970-01-01T00:33:20Z" &&
  lading copy -q img/a:1 oci:out:a >/dev/null &&
  set -- $(times a) && test "$1" = "1970-01-01T00:16:40Z" && test "$2" != "1970-01-01T00:33:20Z" &&
  test "$(times b)" = "1970-01-01T00:16:40Z 1970-01-01T00:33:20Z"
'

test_expect_success 'prune takes the image not used since, not the one just used' '
  lading prune --all-unused --min-age 0 --dry-run --format json >p.json &&
  jq -e "[.victims[].names[0]] == [\"docker.io/img/b:1\", \"docker.io/img/a:1\"]" p.json &&
  lading df >df.txt && grep -E "^img/b:1 .* -$" df.txt && grep "Total: 2 images" df.txt
'

test_expect_success 'a malformed index.json: df, prune, gc, fsck fail naming it, and gc deletes nothing' '
  cp "$LADING_ROOT/index.json" good.json &&
  n=$(ls "$LADING_ROOT/blobs/sha256" | wc -l) &&
  echo "{\"manifests\": [{\"digest\":" >"$LADING_ROOT/index.json" &&
  for c in df "prune --all-unused --min-age 0" "gc --grace 0" fsck; do
    expect_exit 1 lading $c 2>err && grep "index.json: malformed JSON" err || return 1
  done &&
  test $(ls "$LADING_ROOT/blobs/sha256" | wc -l) = $n &&
  cp good.json "$LADING_ROOT/index.json" && lading fsck
'

test_expect_success 'df and prune of an empty store' '
  rm -rf "$LADING_ROOT" &&
  lading df --format json | jq -e "(.images | length) == 0 and .totals.size == 0" &&
  lading prune --all-unused --format json | jq -e "(.victims | length) == 0" &&
  lading gc && lading fsck
'
test_done
