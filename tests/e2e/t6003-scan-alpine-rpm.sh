#!/bin/sh
# lading scan on an Alpine 3.15 image (hand-written apk database, zlib 1.2.12-r1 ->
# CVE-2022-37434 from the Alpine secdb) and on a RHEL 9 image whose rpmdb.sqlite is written by
# Debian's rpm (openssl 1:3.0.1-43.el9_0 -> RHSA-2023:0946 / CVE-2023-0286).
. "$(dirname "$0")/lib.sh"
. "$FIXTURES/scan/images.sh"
require_root
require_cmd umoci rpm rpmbuild jq

test_expect_success 'setup: advisories, Alpine and RHEL images' '
  import_fixtures &&
  alpine_rootfs alpine-root && new_layout alp 3.15 && add_layer alp 3.15 alpine-root &&
  rpm_rootfs rhel-root && new_layout rhel 9 && add_layer rhel 9 rhel-root
'

test_expect_success 'Alpine: zlib 1.2.12-r1 on 3.15 has CVE-2022-37434, fixed in 1.2.12-r2' '
  expect_exit 3 lading scan --format json --fail-on CRITICAL oci:alp:3.15 >alp.json &&
  jq -e ".os.id == \"alpine\" and .os.version == \"3.15.4\" and .packages == 3" alp.json &&
  jq -e ".findings[] | select(.vulnerability == \"CVE-2022-37434\") | .package == \"zlib\" and
         .installed == \"1.2.12-r1\" and .fixed == \"1.2.12-r2\" and .severity == \"CRITICAL\"
         and .source == \"alpine-secdb:v3.15\" and .cvss == 9.8" alp.json &&
  jq -e "[.findings[] | select(.vulnerability == \"CVE-2018-25032\")] | length == 0" alp.json &&
  jq -e "[.findings[] | select(.package == \"busybox\")] | length == 0" alp.json
'

test_expect_success 'Alpine sbom: pkg:apk purls with the distro' '
  lading sbom --format json oci:alp:3.15 >alp-sbom.json &&
  jq -e ".packages[] | select(.name == \"zlib\") | .purl == \"pkg:apk/alpine/zlib@1.2.12-r1?arch=x86_64&distro=alpine-3.15.4\"" alp-sbom.json
'

test_expect_success 'a scan neither writes the advisory database nor waits for an import holding it' '
  db=$LADING_ROOT/advisories.db && before=$(sha256sum "$db" | cut -c1-64) &&
  mkfifo hold && { timeout 60 sqlite3 "$db" <hold >held 2>&1 & } && exec 3>hold &&
  echo "BEGIN IMMEDIATE; INSERT INTO meta VALUES(\"held\", \"1\"); SELECT \"locked\";" >&3 &&
  i=0 && while ! grep -q locked held && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done &&
  grep -q locked held &&
  lading scan --format json oci:alp:3.15 >held.json && lading db status >/dev/null &&
  exec 3>&- && wait &&
  jq -e "[.findings[] | select(.vulnerability == \"CVE-2022-37434\")] | length == 1" held.json &&
  [ "$(sha256sum "$db" | cut -c1-64)" = "$before" ]
'

test_expect_success 'RHEL 9: packages come from rpmdb.sqlite with epoch, source rpm and arch' '
  lading sbom --format json oci:rhel:9 >rhel-sbom.json &&
  jq -e ".os.id == \"rhel\" and .os.version == \"9.3\"" rhel-sbom.json &&
  jq -e ".packages[] | select(.name == \"openssl\") | .version == \"3.0.1-43.el9_0\" and .epoch == 1 and
         .arch == \"x86_64\" and .src_name == \"openssl\" and .path == \"var/lib/rpm/rpmdb.sqlite\"" rhel-sbom.json &&
  jq -e ".packages[] | select(.name == \"openssl\") | .purl == \"pkg:rpm/redhat/openssl@3.0.1-43.el9_0?arch=x86_64&distro=rhel-9.3&epoch=1\"" rhel-sbom.json
'

test_expect_success 'RHEL 9: openssl and openssl-libs are affected by RHSA-2023:0946' '
  lading scan --format json oci:rhel:9 >rhel.json &&
  jq -e "[.findings[] | select(.vulnerability == \"RHSA-2023:0946\") | .package] | sort == [\"openssl\", \"openssl-libs\"]" rhel.json &&
  jq -e ".findings[0] | .installed == \"1:3.0.1-43.el9_0\" and .fixed == \"1:3.0.1-47.el9_1\" and .severity == \"HIGH\"" rhel.json &&
  jq -e ".findings[0].aliases == [\"CVE-2023-0286\"]" rhel.json
'

test_expect_success 'a corrupt rpmdb.sqlite is reported and the rest of the image still scanned' '
  mkdir -p broken/var/lib/rpm broken/etc && echo "not sqlite" >broken/var/lib/rpm/rpmdb.sqlite &&
  cp rhel-root/etc/os-release broken/etc/ &&
  new_layout br 1 && add_layer br 1 broken &&
  lading scan --format json oci:br:1 >br.json 2>err &&
  grep -q "var/lib/rpm/rpmdb.sqlite" err &&
  jq -e ".os.id == \"rhel\" and .packages == 0" br.json
'

test_done
