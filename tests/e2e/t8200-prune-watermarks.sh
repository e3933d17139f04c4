#!/bin/bash
# lading prune on a REAL small file system: a 28 MiB tmpfs holds the store, filled with real
# images (lading copy of generated OCI layouts: a 4 MiB base shared by six images, 3 MiB of
# random content each). prune must bring it from >= high to <= low, removing exactly the least
# recently used images (ties by first seen), never the pinned or kept ones.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 jq sqlite3
GEN="$TEST_DIR/t8000-gen-layout.py"
FS="$TRASH/fs"
export LADING_ROOT="$FS/store"

# sets first_seen / last_used of images (by tag) in meta.db: the history the LRU order uses.
# Arguments: TAG:FIRST_SEEN:LAST_USED...
set_times() {
  for arg in "$@"; do
    IFS=: read -r tag seen used <<<"$arg"
    d=$(jq -r ".manifests[] | select(.annotations.\"org.opencontainers.image.ref.name\" == \"docker.io/img/$tag:1\") | .digest" "$LADING_ROOT/index.json")
    echo "UPDATE images SET first_seen=$seen, last_used=$used WHERE digest='$d';"
  done | sqlite3 "$LADING_ROOT/meta.db"
}
names() { lading df --format json | jq -r '[.images[].names[0] | sub("docker.io/img/"; "") | sub(":1"; "")] | sort | join(" ")'; }

test_expect_success 'a 28 MiB tmpfs store filled with six images sharing a base' '
  mkdir -p "$FS" && mount -t tmpfs -o size=28m tmpfs "$FS" &&
  L="$LADING_TEST_CACHE/disk-t8200" &&
  if [ ! -f "$L/index.json" ]; then
    rm -rf "$L.tmp" && mkdir -p "$L.tmp" &&
    python3 "$GEN" "$L.tmp" $(for i in 1 2 3 4 5 6; do echo i$i=base:4194304:base,own$i:3145728:seed$i; done) >/dev/null &&
    mv "$L.tmp" "$L"
  fi &&
  ln -s "$L" L &&
  for i in 1 2 3 4 5 6; do lading copy -q oci:L:i$i img/i$i:1 >/dev/null || return 1; done &&
  test "$(names)" = "i1 i2 i3 i4 i5 i6"
'
test_at_end "umount $FS"

test_expect_success 'history: LRU order i1 < i3 = i2 (i3 first seen earlier) < i4 < i5 < i6; i1 pinned' '
  set_times i1:1000:1100 i2:1000:2000 i3:900:2000 i4:1000:3000 i5:1000:4000 i6:1000:5000 &&
  touch -d "-1 hour" "$LADING_ROOT"/blobs/sha256/* &&
  lading prune --pin img/i1:1 &&
  lading df --format json >df.json &&
  jq -e ".filesystem.used_pct >= 75" df.json &&
  jq -e "[.images[] | select(.pinned) | .names[0]] == [\"docker.io/img/i1:1\"]" df.json &&
  jq -e "[.images[] | .shared] | unique | length == 1" df.json
'

test_expect_success 'dry run lists the LRU set and deletes nothing' '
  lading prune --high 75 --low 50 --dry-run --format json >dry.json &&
  jq -e "[.victims[].names[0]] == [\"docker.io/img/i3:1\", \"docker.io/img/i2:1\", \"docker.io/img/i4:1\"]" dry.json &&
  jq -e ".above_high and .reaches_low and .filesystem.used_pct_after <= 50" dry.json &&
  jq -e "[.protected[].why] == [\"pinned\"]" dry.json &&
  test "$(names)" = "i1 i2 i3 i4 i5 i6"
'

test_expect_success 'prune frees from >= high to <= low, removing exactly that set' '
  lading prune --high 75 --low 50 --format json >p.json &&
  jq -e "[.victims[].names[0]] == [\"docker.io/img/i3:1\", \"docker.io/img/i2:1\", \"docker.io/img/i4:1\"]" p.json &&
  jq -e ".filesystem.used_pct_before >= 75 and .filesystem.used_pct_after <= 50" p.json &&
  test "$(names)" = "i1 i5 i6" &&
  lading df --format json >after.json &&
  jq -e ".filesystem.used_pct <= 50" after.json &&
  lading fsck
'

test_expect_success 'below high, prune deletes nothing and says so' '
  lading prune --high 75 --low 50 >out &&
  grep "^Would free 0 in 0 images\|^Freed 0 in 0 images" out &&
  test "$(names)" = "i1 i5 i6"
'

test_expect_success 'the shared base goes only with its last user; pinned and kept images stay' '
  lading prune --all-unused --min-age 0 --keep "img/i6:*" --format json >all.json &&
  jq -e "[.victims[].names[0]] == [\"docker.io/img/i5:1\"]" all.json &&
  test "$(names)" = "i1 i6" &&
  lading prune --unpin img/i1:1 &&
  lading prune --all-unused --min-age 0 --format json >all2.json &&
  jq -e "[.victims[].names[0]] == [\"docker.io/img/i1:1\", \"docker.io/img/i6:1\"]" all2.json &&
  jq -e ".victims[1].frees > 4194304" all2.json &&
  test -z "$(ls "$LADING_ROOT"/blobs/sha256)"
'

test_expect_success 'min-age protects a just-copied image; max-age takes an old unused one' '
  lading copy -q oci:L:i2 img/i2:1 >/dev/null && lading copy -q oci:L:i3 img/i3:1 >/dev/null &&
  lading prune --all-unused --format json >young.json &&
  jq -e "(.victims | length) == 0 and ([.protected[].why] | unique) == [\"younger than min-age\"]" young.json &&
  set_times i2:1000:1000 &&
  touch -d "-1 hour" "$LADING_ROOT"/blobs/sha256/* &&
  lading prune --max-age 1h --min-age 0 --format json >old.json &&
  jq -e "[.victims[] | [.names[0], .reason]] == [[\"docker.io/img/i2:1\", \"max-age\"]]" old.json &&
  test "$(names)" = "i3"
'

test_expect_success 'bad options are usage errors naming the option' '
  expect_exit 2 lading prune --high 50 --low 60 2>err && grep "low 60 is above --high 50" err &&
  expect_exit 2 lading prune --min-age soon 2>err && grep "min-age .soon.: not a duration" err &&
  expect_exit 1 lading prune --pin no/such:image 2>err && grep "pin no/such:image" err &&
  expect_exit 1 lading prune --unpin img/i3:1 2>err && grep "not pinned" err
'
test_done
