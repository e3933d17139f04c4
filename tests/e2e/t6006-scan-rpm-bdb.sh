#!/bin/sh
# The Berkeley DB rpm database (RHEL/UBI 8 var/lib/rpm/Packages) read from real BDB files: the
# header blobs rpm itself wrote into an rpmdb.sqlite (two small packages and one of 400 files
# whose ~60 KB header spans many overflow pages) are loaded by Berkeley DB's own db5.3_load into
# hash databases with rpm's keys. Debian's rpm reads those files back (its read-only bdb_ro
# backend), and lading must list exactly what rpm lists, and exactly what it lists for the same
# image with rpmdb.sqlite.
. "$(dirname "$0")/lib.sh"
. "$FIXTURES/scan/images.sh"
require_root
require_cmd umoci rpm rpmbuild jq sqlite3 python3 db5.3_load db5.3_stat

# what rpm lists from a database directory (bdb_ro) or a root (sqlite), one line per header
rpm_list_bdb() {
  rpm --dbpath "$PWD/$1" --define "_db_backend bdb_ro" -qa \
    --qf "%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\n" 2>/dev/null | sort
}
rpm_list_root() {
  rpm --root "$PWD/$1" --dbpath /var/lib/rpm -qa \
    --qf "%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\n" 2>/dev/null | sort
}
# the same from lading's SBOM of an image
lading_list() {
  lading sbom --format json "$1" >"$2.json" &&
  jq -r ".packages[] | select(.type == \"rpm\") |
         \"\(.name) \(.epoch // \"(none)\") \(.version) \(.arch) \(.src_name)-\(.src_version).src.rpm\"" \
    "$2.json" | sort
}
# bdb_image NAME [bdb_dump.py options]: NAME-db/Packages from rhel-root's headers, and an image
# oci:NAME:8 whose only rpm database is that file
bdb_image() {
  name=$1
  shift
  mkdir -p "$name-db" "$name-root/var/lib/rpm" "$name-root/etc" &&
  rpm_bdb rhel-root/var/lib/rpm/rpmdb.sqlite "$name-db/Packages" "$@" &&
  cp "$name-db/Packages" "$name-root/var/lib/rpm/Packages" &&
  cp rhel-root/etc/os-release rhel-root/etc/redhat-release "$name-root/etc/" &&
  new_layout "$name" 8 && add_layer "$name" 8 "$name-root"
}

test_expect_success 'setup: rpm writes three packages into rpmdb.sqlite, one with a 60 KB header' '
  import_fixtures &&
  rpm_rootfs rhel-root && rpm_add_big_package rhel-root &&
  test $(sqlite3 "file:rhel-root/var/lib/rpm/rpmdb.sqlite?immutable=1" "SELECT max(length(blob)) FROM Packages") -gt 40000 &&
  new_layout rhel 9 && add_layer rhel 9 rhel-root
'

test_expect_success 'db5.3_load writes a hash database whose headers live in overflow chains' '
  bdb_image plain &&
  file plain-db/Packages | grep -q "Berkeley DB (Hash" &&
  db5.3_stat -d plain-db/Packages >stat &&
  ovfl=$(awk "/Number of overflow pages/ {print \$1}" stat) && test "$ovfl" -gt 15 &&
  grep -q "^4096	Underlying database page size" stat
'

test_expect_success 'Debian rpm reads that file (bdb_ro) as the same three packages as rpmdb.sqlite' '
  rpm --showrc | grep -q "^available backends.*bdb_ro" &&
  rpm_list_bdb plain-db >rpm-bdb && rpm_list_root rhel-root >rpm-sqlite &&
  test $(wc -l <rpm-bdb) = 3 && diff -u rpm-sqlite rpm-bdb
'

test_expect_success 'lading lists from the real Packages exactly what rpm lists' '
  lading_list oci:plain:8 plain >ours &&
  diff -u rpm-bdb ours
'

test_expect_success 'the image with Packages gives the packages and findings of the image with rpmdb.sqlite' '
  lading sbom --format json oci:rhel:9 >r9.json &&
  jq -S "[.packages[] | del(.path, .layer, .layer_diff_id)]" r9.json >pk9 &&
  jq -S "[.packages[] | del(.path, .layer, .layer_diff_id)]" plain.json >pk8 &&
  diff -u pk9 pk8 &&
  jq -e "[.packages[] | .path] | unique == [\"var/lib/rpm/Packages\"]" plain.json &&
  lading scan --format json oci:rhel:9 >s9.json && lading scan --format json oci:plain:8 >s8.json &&
  jq -S "[.findings[] | {vulnerability, package, installed, fixed, severity}]" s9.json >f9 &&
  jq -S "[.findings[] | {vulnerability, package, installed, fixed, severity}]" s8.json >f8 &&
  diff -u f9 f8 && jq -e "length == 2" f8
'

test_expect_success 'many keys in 16 buckets: every header found once, as rpm finds them' '
  bdb_image buckets --copies 20 --ffactor 4 &&
  db5.3_stat -d buckets-db/Packages >stat &&
  test $(awk "/Number of hash buckets/ {print \$1}" stat) -ge 16 &&
  rpm_list_bdb buckets-db >rpm-list && test $(wc -l <rpm-list) = 60 &&
  lading_list oci:buckets:8 buckets >ours && diff -u rpm-list ours
'

test_expect_success '512-byte pages with bucket overflow pages: the same list as rpm' '
  bdb_image small --copies 40 --pagesize 512 --ffactor 200 &&
  db5.3_stat -d small-db/Packages >stat &&
  test $(awk "/Number of bucket overflow pages/ {print \$1}" stat) -gt 0 &&
  rpm_list_bdb small-db >rpm-list && test $(wc -l <rpm-list) = 120 &&
  lading_list oci:small:8 small >ours && diff -u rpm-list ours
'

test_expect_success 'a big-endian database (written as on s390x): the same list as rpm' '
  bdb_image be --copies 2 --big-endian &&
  file be-db/Packages | grep -q "big-endian" &&
  rpm_list_bdb be-db >rpm-list && test $(wc -l <rpm-list) = 6 &&
  lading_list oci:be:8 be >ours && diff -u rpm-list ours
'

test_expect_success 'a truncated Packages: a warning names it, the headers before the cut are kept' '
  mkdir -p cut-root/var/lib/rpm cut-root/etc &&
  head -c $(( $(stat -c %s plain-db/Packages) / 2 )) plain-db/Packages >cut-root/var/lib/rpm/Packages &&
  cp rhel-root/etc/os-release cut-root/etc/ &&
  new_layout cut 1 && add_layer cut 1 cut-root &&
  lading sbom --format json oci:cut:1 >cut.json 2>err &&
  grep -q "skipping var/lib/rpm/Packages: var/lib/rpm/Packages: overflow chain breaks" err &&
  test $(wc -l <err) = 1 &&
  jq -e ".os.id == \"rhel\" and (.packages | length) < 3" cut.json &&
  jq -r ".packages[].name" cut.json >cut-names && ! grep -v -x -e openssl -e openssl-libs -e bigpkg cut-names
'

test_done
