#!/bin/sh
# lading db import / status: OSV (file, directory, all.zip), Alpine secdb, Debian tracker;
# incremental re-import; a failed import leaves the previous database untouched.
. "$(dirname "$0")/lib.sh"
S=$FIXTURES/scan

test_expect_success 'import of an OSV file, a directory, secdb and tracker JSON' '
  lading db import "$S/osv/CVE-2023-4911.json" >out &&
  grep -q "1 records (1 added" out &&
  lading db import "$S/osv" "$S/alpine-v3.15-main.json" "$S/debian-tracker.json" >out &&
  grep -q "(10 added, 0 updated, 1 unchanged)" out &&
  lading db status --format json >st &&
  jq -e ".vulnerabilities == 11" st &&
  jq -e "[.sources[].name] == [\"alpine-secdb:v3.15\", \"debian-tracker\", \"osv:Debian\", \"osv:Maven\", \"osv:Red Hat\"]" st &&
  jq -e ".sources[] | select(.name == \"osv:Maven\") | .records == 2" st &&
  jq -e ".sources[0].age_seconds >= 0" st &&
  test -f "$LADING_ROOT/advisories.db"
'

test_expect_success 're-import is incremental: unchanged records are skipped, changed ones replaced' '
  lading db import "$S/osv" >out &&
  grep -q "(0 added, 0 updated, 5 unchanged)" out &&
  lading db import --format json "$S/osv" | jq -e ".records == 5 and .unchanged == 5 and .added == 0" &&
  mkdir -p changed &&
  jq ".modified = \"2025-01-01T00:00:00Z\" | .summary = \"changed\"" "$S/osv/CVE-2023-4911.json" >changed/c.json &&
  lading db import changed >out &&
  grep -q "(0 added, 1 updated, 0 unchanged)" out &&
  lading db status --format json | jq -e ".vulnerabilities == 11"
'

test_expect_success 'an OSV all.zip imports like the directory' '
  python3 -c "import sys,zipfile,glob,os; z=zipfile.ZipFile(\"all.zip\",\"w\"); [z.write(f, os.path.basename(f)) for f in glob.glob(sys.argv[1]+\"/*.json\")]" "$S/osv" &&
  lading db --db zip.db import all.zip >out &&
  grep -q "5 records (5 added" out &&
  lading db --db zip.db status | grep -q "osv:Maven"
'

test_expect_success 'a failed import (one bad file among good ones) changes nothing' '
  before=$(lading db status --format json | jq -c "[.vulnerabilities, .affected]") &&
  mkdir -p mixed && cp "$S/osv/GHSA-jfh8-c2jp-5v3q.json" mixed/a.json &&
  jq ".id = \"GHSA-new\"" "$S/osv/GHSA-jfh8-c2jp-5v3q.json" >mixed/b.json &&
  cp "$S/bad/truncated.json" mixed/c.json &&
  expect_exit 1 lading db import mixed 2>err &&
  grep -q "c.json" err && grep -q "rolled back" err &&
  [ $(wc -l <err) = 1 ] &&
  after=$(lading db status --format json | jq -c "[.vulnerabilities, .affected]") &&
  [ "$before" = "$after" ] &&
  lading db status >/dev/null
'

test_expect_success 'unknown JSON, a missing path and a non-zip are named in one-line errors' '
  expect_exit 1 lading db import "$S/bad/unknown.json" 2>err &&
  grep -q "unknown.json: not OSV, Alpine secdb or Debian security tracker JSON" err &&
  expect_exit 1 lading db import nope.json 2>err &&
  grep -q "nope.json" err &&
  echo "not a zip" >fake.zip &&
  expect_exit 1 lading db import fake.zip 2>err &&
  grep -q "fake.zip" err
'

test_expect_success 'a tracker JSON is imported one package at a time, whatever its layout' '
  python3 "$S/gen_debian_tracker.py" 20 >tracker.json 2>gen.log &&
  n=$(cut -d" " -f1 gen.log) &&
  lading db --db t1.db import tracker.json >out && grep -q "^imported $n records ($n added" out &&
  jq . tracker.json >pretty.json &&
  lading db --db t2.db import pretty.json >out && grep -q "^imported $n records ($n added" out &&
  for d in t1.db t2.db; do
    sqlite3 $d "SELECT v.vuln_id, v.modified, a.release, a.data FROM vulns v JOIN affected a ON a.vuln = v.id ORDER BY 1, 3" | sha256sum
  done | uniq | wc -l | grep -qx 1
'

test_expect_success 'a malformed, truncated or duplicated package in a tracker JSON: named, nothing imported' '
  before=$(lading db status --format json | jq -c "[.vulnerabilities, .affected]") &&
  jq . tracker.json >t.json &&
  line=$(grep -n "^  \"pkg00002" t.json | cut -d: -f1) &&
  sed "${line}s/: {/: {,/" t.json >syntax.json &&
  expect_exit 1 lading db import syntax.json 2>err &&
  grep -q "syntax.json: malformed JSON at line $line column " err && grep -q "rolled back" err &&
  [ $(wc -l <err) = 1 ] &&
  head -c $(( $(stat -c %s t.json) * 2 / 3 )) t.json >cut.json &&
  expect_exit 1 lading db import cut.json 2>err &&
  grep -q "cut.json: malformed JSON: the document ends inside its top-level object (truncated)" err &&
  [ $(wc -l <err) = 1 ] &&
  jq -r "to_entries | (.[0:2] + .[0:1]) | map(\"\(.key | tojson): \(.value | tojson)\") | \"{\" + join(\",\") + \"}\"" \
    tracker.json >dup.json &&
  expect_exit 1 lading db import dup.json 2>err &&
  grep -q "dup.json: malformed JSON at line 1 column .*: duplicate object key \"pkg00000-" err &&
  [ $(wc -l <err) = 1 ] &&
  after=$(lading db status --format json | jq -c "[.vulnerabilities, .affected]") &&
  [ "$before" = "$after" ]
'

test_expect_success 'readers name a database that is not ours or from an older schema; import upgrades it' '
  sqlite3 other.db "CREATE TABLE t(x)" &&
  expect_exit 1 lading db --db other.db status 2>err &&
  grep -q "advisory database other.db: not an advisory database" err && [ $(wc -l <err) = 1 ] &&
  lading db --db old.db import "$S/alpine-v3.15-main.json" >/dev/null &&
  sqlite3 old.db "UPDATE meta SET value = \"1\" WHERE key = \"schema\"" &&
  expect_exit 1 lading db --db old.db status 2>err &&
  grep -q "advisory database old.db: schema 1, this lading reads 2 (run .lading db import. again)" err &&
  lading db --db old.db import "$S/alpine-v3.15-main.json" >out && grep -q "(3 added" out &&
  lading db --db old.db status >/dev/null
'

test_expect_success 'status without a database says how to make one; usage errors exit 2' '
  expect_exit 1 lading db --db none.db status 2>err &&
  grep -q "none.db does not exist" err && test ! -e none.db &&
  expect_exit 2 lading db frobnicate 2>/dev/null &&
  expect_exit 2 lading db import 2>/dev/null &&
  lading db --help | grep -q "vercmp"
'

test_done
