#!/bin/sh
# Bad input to scan and sbom: one-line errors naming the object, the right exit codes, and
# nothing half-written.
. "$(dirname "$0")/lib.sh"
. "$FIXTURES/scan/images.sh"
require_root
require_cmd umoci jq

test_expect_success 'setup: a small Alpine image' '
  alpine_rootfs root && new_layout alp 1 && add_layer alp 1 root
'

test_expect_success 'scan without an advisory database says how to make one' '
  expect_exit 1 lading scan oci:alp:1 2>err &&
  grep -q "advisories.db does not exist (run .lading db import.)" err &&
  [ $(wc -l <err) = 1 ]
'

test_expect_success 'usage errors exit 2' '
  lading db import "$FIXTURES/scan/alpine-v3.15-main.json" >/dev/null &&
  expect_exit 2 lading scan 2>/dev/null &&
  expect_exit 2 lading scan --format xml oci:alp:1 2>err && grep -q "unknown --format" err &&
  expect_exit 2 lading scan --severity BAD oci:alp:1 2>err && grep -q "unknown severity .BAD." err &&
  expect_exit 2 lading scan --fail-on sometimes oci:alp:1 2>/dev/null &&
  expect_exit 2 lading sbom --format xml oci:alp:1 2>/dev/null &&
  lading scan --help | grep -q -- "--ignore-unfixed" &&
  lading sbom --help | grep -q -- "spdx-json"
'

test_expect_success 'a missing image or tag is named' '
  expect_exit 1 lading scan oci:nowhere:1 2>err && grep -q "nowhere" err &&
  expect_exit 1 lading sbom oci:alp:nope 2>err && grep -q "nope" err
'

test_expect_success 'a malformed ignore file is named with its line' '
  printf "CVE-1 exp:tomorrow\n" >bad.ignore &&
  expect_exit 1 lading scan --ignore-file bad.ignore oci:alp:1 2>err &&
  grep -q "bad.ignore: line 1" err &&
  expect_exit 1 lading scan --ignore-file missing.ignore oci:alp:1 2>err &&
  grep -q "missing.ignore" err
'

test_expect_success 'a layer whose bytes do not match its digest fails the scan, naming the layer' '
  cp -r alp alp2 &&
  m=$(jq -r ".manifests[0].digest" alp2/index.json | cut -d: -f2) &&
  l=$(jq -r ".layers[0].digest" alp2/blobs/sha256/$m | cut -d: -f2) &&
  chmod u+w alp2/blobs/sha256/$l &&
  printf "garbage" | dd of=alp2/blobs/sha256/$l bs=1 seek=100 conv=notrunc 2>/dev/null &&
  expect_exit 1 lading scan --no-cache oci:alp2:1 2>err &&
  grep -q "$l" err
'

test_expect_success 'a valid gzip layer with another digest fails the scan (blob digest checked)' '
  cp -r alp alp3 &&
  m=$(jq -r ".manifests[0].digest" alp3/index.json | cut -d: -f2) &&
  l=$(jq -r ".layers[0].digest" alp3/blobs/sha256/$m | cut -d: -f2) &&
  chmod u+w alp3/blobs/sha256/$l &&
  printf "\001" | dd of=alp3/blobs/sha256/$l bs=1 seek=4 conv=notrunc 2>/dev/null &&
  igzip -dc alp3/blobs/sha256/$l >/dev/null &&
  expect_exit 1 lading scan oci:alp3:1 2>err &&
  grep -q "layer 1 sha256:$l: blob: digest mismatch" err && [ $(wc -l <err) = 1 ]
'

test_expect_success 'a layer smaller than the first read is verified too: fine when true, named when not' '
  head -c 1024 /dev/zero | gzip -9 >empty.tar.gz && test $(stat -c %s empty.tar.gz) -lt 64 &&
  python3 "$TEST_DIR/mklayout.py" tiny 1 --layer empty.tar.gz &&
  lading scan --no-cache --format json oci:tiny:1 >tiny.json &&
  jq -e ".scan.layers_read == 1 and .scan.bytes_read == 1024" tiny.json &&
  python3 "$TEST_DIR/mklayout.py" tinylie 1 --layer empty.tar.gz --lie-digest 0 &&
  expect_exit 1 lading scan --no-cache oci:tinylie:1 2>err &&
  grep -q "^lading: layer 1 sha256:[0-9a-f]*: blob: digest mismatch" err && [ $(wc -l <err) = 1 ]
'

# set_diff_id LAYOUT DIFF_ID: rewrites the image config to claim DIFF_ID for layer 1.
set_diff_id() {
  m=$(jq -r ".manifests[0].digest" "$1/index.json" | cut -d: -f2) &&
  c=$(jq -r ".config.digest" "$1/blobs/sha256/$m" | cut -d: -f2) &&
  jq -c --arg d "$2" ".rootfs.diff_ids[0] = \$d" "$1/blobs/sha256/$c" >cfg &&
  nc=$(sha256sum cfg | cut -c1-64) && cp cfg "$1/blobs/sha256/$nc" &&
  jq -c --arg d "sha256:$nc" --argjson s $(stat -c %s cfg) ".config.digest = \$d | .config.size = \$s" \
    "$1/blobs/sha256/$m" >man &&
  nm=$(sha256sum man | cut -c1-64) && cp man "$1/blobs/sha256/$nm" &&
  jq --arg d "sha256:$nm" --argjson s $(stat -c %s man) ".manifests[0].digest = \$d | .manifests[0].size = \$s" \
    "$1/index.json" >idx && mv idx "$1/index.json"
}

test_expect_success 'an image claiming another layer'"'"'s diff_id fails and cannot poison the layer cache' '
  mkdir -p evil-root && cp -r root/. evil-root/ &&
  sed -i "s/^V:1.2.12-r1/V:1.2.13-r0/" evil-root/lib/apk/db/installed &&
  new_layout evil 1 && add_layer evil 1 evil-root &&
  m=$(jq -r ".manifests[0].digest" alp/index.json | cut -d: -f2) &&
  c=$(jq -r ".config.digest" alp/blobs/sha256/$m | cut -d: -f2) &&
  good=$(jq -r ".rootfs.diff_ids[0]" alp/blobs/sha256/$c) &&
  set_diff_id evil "$good" &&
  db=$LADING_ROOT/advisories.db && export LADING_ROOT=$PWD/fresh-store &&
  expect_exit 1 lading scan --db "$db" oci:evil:1 2>err &&
  grep -q "layer 1: content is sha256:.* but the config says $good" err &&
  lading scan --db "$db" --format json oci:alp:1 >alp.json &&
  jq -e ".scan.layers_cached == 0 and .scan.layers_read == 1" alp.json &&
  jq -e "[.findings[] | select(.vulnerability == \"CVE-2022-37434\")] | length == 1" alp.json
'

test_expect_success '-o writes the report whole, and not at all on failure' '
  lading sbom -o sbom.json oci:alp:1 && jq -e ".bomFormat == \"CycloneDX\"" sbom.json &&
  expect_exit 1 lading sbom -o none.json oci:alp:nope 2>/dev/null && test ! -e none.json &&
  ! ls .sbom.json.tmp* 2>/dev/null
'

test_done
