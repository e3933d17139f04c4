#!/bin/bash
# Bad input: each case gives a one-line error naming the object and the reason, exits 1, and
# leaves nothing half-written in the store: no name, no ingest temp file, and every blob file
# holds exactly its digest's bytes (verified blobs copied before the failure may stay: that is
# what lets a re-run move only what is missing; gc removes them if never referenced).
. "$(dirname "$0")/lib.sh"
require_cmd python3 jq
MKL="python3 $TEST_DIR/mklayout.py"
MKT="python3 $TEST_DIR/mktar.py"

store_snapshot() { lading images --format json >/dev/null; }
# store_unchanged NAME: no image NAME, no files in ingest/, every blob matches its name.
store_unchanged() {
  test -z "$(ls -A "$LADING_ROOT/ingest")" &&
  ! lading images | grep -q "$2" &&
  for f in "$LADING_ROOT"/blobs/sha256/*; do
    test "$(sha256sum <"$f" | cut -d" " -f1)" = "$(basename "$f")" || return 1
  done
}
one_line() { test "$(wc -l <"$1")" = 1 && grep -q "^lading: " "$1"; }

test_expect_success 'setup: good layers and a store' '
  $MKT ok.tar ok && gzip -k -c ok.tar >ok.tar.gz && zstd -q -c ok.tar >ok.tar.zst &&
  $MKL good good --layer ok.tar --layer ok.tar.gz --layer ok.tar.zst &&
  lading copy oci:good:good good && lading inspect good >/dev/null
'

test_expect_success 'truncated gzip: inspect names the layer and says truncated' '
  head -c 60 ok.tar.gz >trunc.tar.gz && $MKL trunc t --layer trunc.tar.gz &&
  expect_exit 1 lading inspect oci:trunc:t 2>err && one_line err &&
  grep -q "truncated gzip" err && grep -q "layer sha256:" err
'

test_expect_success 'a blob whose bytes do not match its digest: copy fails, store untouched' '
  $MKL lie t --layer ok.tar.gz --lie-digest 0 && store_snapshot before.list &&
  expect_exit 1 lading copy oci:lie:t liar 2>err && one_line err &&
  grep -q "digest mismatch" err && store_unchanged before.list liar
'

test_expect_success 'a manifest naming a missing blob: copy fails naming it, store untouched' '
  echo unique >u   $MKL missing t --layer ok.tar --layer ok.tar.gz --drop-blob 1 && store_snapshot before.list &&  $MKL missing t --layer ok.tar --layer ok.tar.gz --drop-blob 1 && store_snapshot before.list && tar -cf u.tar u && gzip -c u.tar >u.tar.gz &&
  $MKL missing t --layer ok.tar --layer u.tar.gz --drop-blob 1 && store_snapshot before.list &&
  expect_exit 1 lading copy oci:missing:t missing 2>err && one_line err &&
  grep -q "not found" err && grep -q "$(sha256sum u.tar.gz | cut -c1-12)" err &&
  store_unchanged before.list missing
'

test_expect_success 'malformed manifest JSON is refused with line and column' '
  printf "{\"schemaVersion\": 2, \"layers\": [" >bad.json &&
  $MKL badjson t --raw-manifest bad.json && store_snapshot before.list &&
  expect_exit 1 lading copy oci:badjson:t badjson 2>err && one_line err &&
  grep -q "malformed JSON at line 1" err && store_unchanged before.list badjson
'

test_expect_success 'a wrong media type is refused' '
  $MKL wrongmt t --layer ok.tar --manifest-media-type text/html &&
  expect_exit 1 lading copy oci:wrongmt:t wrongmt 2>err && one_line err &&
  grep -q "unsupported media type \"text/html\"" err
'

test_expect_success 'a layer whose media type says gzip but holds zstd is refused' '
  $MKL mislabel t --layer ok.tar.zst=application/vnd.oci.image.layer.v1.tar+gzip &&
  expect_exit 1 lading inspect oci:mislabel:t 2>err && one_line err &&
  grep -q "says gzip but the data is zstd" err
'

test_expect_success 'layer entries ../x and /abs are refused, naming the entry' '
  $MKT dotdot.tar dotdot && $MKL dotdot t --layer dotdot.tar &&
  expect_exit 1 lading inspect oci:dotdot:t 2>err && one_line err &&
  grep -q "entry \"../x\" escapes the root" err &&
  $MKT abs.tar absolute && $MKL abs t --layer abs.tar &&
  expect_exit 1 lading inspect oci:abs:t 2>err && one_line err &&
  grep -q "entry \"/abs\" is an absolute path" err
'

test_expect_success 'a symlink pointing outside the root is refused' '
  $MKT sym.tar symlink-out && $MKL sym t --layer sym.tar &&
  expect_exit 1 lading inspect oci:sym:t 2>err && one_line err &&
  grep -q "symlink \"a/link\" -> \"../../etc/passwd\" points outside the root" err
'

test_expect_success 'a tar entry declaring more data than it has is refused' '
  $MKT short.tar short-data && $MKL short t --layer short.tar &&
  expect_exit 1 lading inspect oci:short:t 2>err && one_line err &&
  grep -q "big" err && grep -qi "truncated\|shorter" err
'

test_expect_success 'an archive with no manifest is refused' '
  mkdir empty && echo x >empty/file && tar -C empty -cf nomanifest.tar file &&
  expect_exit 1 lading copy docker-archive:nomanifest.tar x 2>err && one_line err &&
  grep -q "no manifest.json" err &&
  expect_exit 1 lading copy oci-archive:nomanifest.tar x 2>err && one_line err &&
  grep -q "not an OCI image layout" err
'

test_expect_success 'an archive entry escaping the archive root is refused' '
  $MKT evil.tar dotdot &&
  expect_exit 1 lading copy docker-archive:evil.tar x 2>err && one_line err &&
  grep -q "escapes" err
'

test_expect_success 'a corrupt blob in the store is detected when read' '
  d=$(lading inspect --format json good | jq -r ".layers[1].digest") &&
  f=$LADING_ROOT/blobs/sha256/${d#sha256:} && chmod u+w "$f" &&
  printf "\\x00" | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null &&
  sqlite3 $LADING_ROOT/meta.db "DELETE FROM layers" &&
  expect_exit 1 lading inspect good 2>err && one_line err && grep -q "$d" err
'

test_expect_success 'usage errors exit 2' '
  expect_exit 2 lading copy onlyone 2>err && grep -q "expected SRC and DEST" err &&
  expect_exit 2 lading nosuchcommand 2>/dev/null
'

test_done
