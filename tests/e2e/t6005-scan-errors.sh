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

test_expect_success '-o writes the report whole, and not at all on failure' '
  lading sbom -o sbom.json oci:alp:1 && jq -e ".bomFormat == \"CycloneDX\"" sbom.json &&
  expect_exit 1 lading sbom -o none.json oci:alp:nope 2>/dev/null && test ! -e none.json &&
  ! ls .sbom.json.tmp* 2>/dev/null
'

test_done
