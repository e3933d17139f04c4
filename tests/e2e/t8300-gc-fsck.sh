#!/bin/bash
# lading gc and fsck on a real store: what gc removes and keeps (grace, temp files, uploads,
# referrers), a flipped byte named by digest and by image, --repair into quarantine/ and healing,
# prune + gc racing a `lading copy` of an image that shares the layers being deleted, and kill -9
# of gc mid-way. After each: fsck clean.
# lading-test: serial
. "$(dirname "$0")/lib.sh"
require_cmd python3 jq sqlite3
GEN="$TEST_DIR/t8000-gen-layout.py"
L="$LADING_TEST_CACHE/disk-t8300-v2"
B="$LADING_ROOT/blobs/sha256"
names() { lading df --format json | jq -r '[.images[].names[0] | sub("docker.io/img/"; "") | sub(":1"; "")] | sort | join(" ")'; }
digest_of() { lading df --format json | jq -r ".images[] | select(.names[0] == \"docker.io/img/$1:1\") | .id"; }
# inverts the byte at offset 1000 of a file in place
flip_byte() {
  b=$(od -An -tu1 -j1000 -N1 "$1" | tr -d " ")
  printf "\\$(printf %o $((b ^ 255)))" | dd of="$1" bs=1 seek=1000 conv=notrunc status=none
}
# writes N real (correctly named) blobs of random content into the store, not referenced
young_blobs() {
  for _ in $(seq "$1"); do
    head -c 4096 /dev/urandom >"$LADING_ROOT/ingest/new" &&
    mv "$LADING_ROOT/ingest/new" "$B/$(sha256sum "$LADING_ROOT/ingest/new" | cut -c1-64)" || return 1
  done
}
age_all() { find "$B" -type f -exec touch -d "-1 hour" {} +; }
# the shared base layer: the second largest blob of the layout (after the new image's own 4 MiB)
base_layer() { echo "sha256:$(ls -S "$L/blobs/sha256" | sed -n 2p)"; }

test_expect_success 'a store of four images sharing a base' '
  if [ ! -f "$L/index.json" ]; then
    rm -rf "$L.tmp" && mkdir -p "$L.tmp" &&
    python3 "$GEN" "$L.tmp" a=base:1048576:base,owna:262144:a b=base:1048576:base,ownb:262144:b \
      c=base:1048576:base,ownc:262144:c d=base:1048576:base,ownd:262144:d \
      new=base:1048576:base,ownnew:4194304:new >/dev/null &&
    mv "$L.tmp" "$L"
  fi &&
  for x in a b c d; do lading copy -q oci:$L:$x img/$x:1 >/dev/null || return 1; done &&
  test "$(names)" = "a b c d" && lading fsck
'

test_expect_success 'gc removes old unreferenced blobs, stale temps and uploads; keeps young ones and referrers' '
  a=$(digest_of a) &&
  python3 "$GEN" --blobs "$LADING_ROOT" 20 4096 --referrer "$a" &&
  age_all &&
  young_blobs 3 &&
  mkdir -p "$LADING_ROOT/uploads" &&
  echo old >"$LADING_ROOT/ingest/.ingest-old" && echo young >"$LADING_ROOT/ingest/.ingest-young" &&
  echo up >"$LADING_ROOT/uploads/abandoned" &&
  touch -d "-1 hour" "$LADING_ROOT/ingest/.ingest-old" "$LADING_ROOT/uploads/abandoned" &&
  before=$(ls "$B" | wc -l) &&
  lading gc --format json >gc.json && cat gc.json &&
  jq -e ".blobs_removed == 20 and .temps_removed == 2 and .blobs_kept_young == 3" gc.json &&
  test $(ls "$B" | wc -l) = $((before - 20)) &&
  test -f "$LADING_ROOT/ingest/.ingest-young" && ! test -e "$LADING_ROOT/ingest/.ingest-old" &&
  ! test -e "$LADING_ROOT/uploads/abandoned" &&
  lading gc --grace 0 --format json >gc0.json &&
  jq -e ".blobs_removed == 3" gc0.json &&
  test $(ls "$B" | wc -l) = $((before - 23)) &&
  lading fsck
'

test_expect_success 'a flipped byte: fsck names the blob and every image using it' '
  base=$(base_layer) &&
  lading df --layers --format json | jq -e ".layers[] | select(.id == \"$base\") | .images | length == 4" &&
  own_d=$(lading df --layers --format json | jq -r ".layers[] | select(.kind == \"layer\" and .images == [\"docker.io/img/d:1\"]) | .id") &&
  flip_byte "$B/${base#sha256:}" && flip_byte "$B/${own_d#sha256:}" &&
  expect_exit 3 lading fsck --format json >fsck.json &&
  jq -e "[.problems[] | select(.digest == \"$base\" and .problem == \"digest mismatch\") | .images | sort] == [[\"docker.io/img/a:1\",\"docker.io/img/b:1\",\"docker.io/img/c:1\",\"docker.io/img/d:1\"]]" fsck.json &&
  jq -e "[.problems[] | select(.digest == \"$own_d\") | .images] == [[\"docker.io/img/d:1\"]]" fsck.json &&
  jq -e "(.broken_images | length) == 4" fsck.json &&
  expect_exit 3 lading fsck >fsck.txt && grep "^$base: digest mismatch" fsck.txt && grep "used by docker.io/img/b:1" fsck.txt
'

test_expect_success 'fsck --repair moves bad blobs to quarantine/ and marks images broken; a copy heals' '
  base=$(base_layer) &&
  expect_exit 3 lading fsck --repair --format json >repair.json &&
  jq -e "[.problems[].quarantined] == [true, true]" repair.json &&
  test -f "$LADING_ROOT/quarantine/sha256-${base#sha256:}" && ! test -e "$B/${base#sha256:}" &&
  lading df --format json | jq -e "[.images[].broken] == [true, true, true, true]" &&
  lading copy -q oci:$L:a img/a:1 >/dev/null &&
  lading df --format json | jq -e "[.images[] | select(.broken) | .names[0]] == [\"docker.io/img/d:1\"]" &&
  expect_exit 3 lading fsck >/dev/null &&
  lading copy -q oci:$L:d img/d:1 >/dev/null &&
  lading fsck && test "$(names)" = "a b c d"
'

# The race, made deterministic: the new image's big layer is a FIFO in a copy of the layout, so
# `lading copy` blocks reading it after it has found the shared base already in the store. prune
# and gc run then, deleting the four old images (the base's last users among tagged images);
# then the FIFO is fed and the copy commits. The victims' blobs are an hour old, so a one-minute
# grace lets prune and gc delete them while keeping the copy's temp files.
test_expect_success 'prune and gc while a copy that shares their layers ingests: the new image is complete' '
  age_all &&
  sqlite3 "$LADING_ROOT/meta.db" "UPDATE images SET first_seen=1000, last_used=1000" &&
  base=$(base_layer) && big=$(ls -S "$L/blobs/sha256" | head -1) &&
  mkdir -p L2/blobs/sha256 && cp "$L/oci-layout" "$L/index.json" L2/ &&
  for f in "$L"/blobs/sha256/*; do ln -s "$f" L2/blobs/sha256/; done &&
  rm L2/blobs/sha256/$big && mkfifo L2/blobs/sha256/$big || return 1
  (lading copy -q oci:L2:new img/new:1 >copy.out 2>&1; echo $? >copy.rc) &
  i=0 && until [ -n "$(find "$B/${base#sha256:}" -newermt "-60 seconds")" ]; do
    sleep 0.05; i=$((i + 1)); [ $i -lt 400 ] || return 1
  done &&
  lading prune --all-unused --min-age 0 --grace 1m --keep "img/new:*" --format json >race.json &&
  jq -e "(.victims | length) == 4" race.json &&
  lading gc --grace 1m &&
  test "$(names)" = "" && test -f "$B/${base#sha256:}" &&
  cat "$L/blobs/sha256/$big" >L2/blobs/sha256/$big &&
  wait && cat copy.out && test "$(cat copy.rc)" = 0 &&
  test "$(names)" = "new" &&
  lading fsck &&
  lading copy -q img/new:1 oci:out:x >/dev/null
'

test_expect_success 'kill -9 of gc mid-way leaves a valid store; the next gc finishes the job' '
  python3 "$GEN" --blobs "$LADING_ROOT" 2000 512 && age_all &&
  for delay in 0.05 0.1 0.2 0.4 0.8 1.6 3.2 6.4; do # longer waits for a loaded machine
    lading -q gc --grace 0 & pid=$!
    sleep $delay; kill -9 $pid 2>/dev/null; wait $pid
    n=$(ls "$B" | wc -l)
    [ $n -gt 10 ] && [ $n -lt 2000 ] && break
  done &&
  echo "left after kill: $n" && test $n -lt 2000 &&
  lading fsck && test "$(names)" = "new" &&
  lading gc --grace 0 --format json >gc.json &&
  lading fsck --format json | jq -e ".clean and .blobs_checked == $(ls "$B" | wc -l)" &&
  test -z "$(ls -A "$LADING_ROOT/ingest")" &&
  lading df --format json | jq -e ".totals.unreferenced == 0"
'

test_expect_success 'gc and fsck reject bad options' '
  expect_exit 2 lading gc --grace forever 2>err && grep "grace .forever.: not a duration" err &&
  expect_exit 2 lading fsck extra 2>err && grep "unexpected argument" err
'
test_done
