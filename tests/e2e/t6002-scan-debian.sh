#!/bin/sh
# lading scan / sbom on a real Debian 12 image (debootstrap + umoci) and on a vulnerable variant
# (one more layer whose dpkg status says libc6 2.36-9+deb12u1, before the CVE-2023-4911 fix).
. "$(dirname "$0")/lib.sh"
. "$FIXTURES/scan/images.sh"
require_root
require_cmd umoci debootstrap igzip jq

test_expect_success 'setup: images and advisories' '
  ln -s "$(debian_scan_layout)" deb && import_fixtures
'

test_expect_success 'the clean image has no HIGH/CRITICAL finding and passes --fail-on HIGH' '
  lading scan --format json --fail-on HIGH oci:deb:bookworm >clean.json &&
  jq -e ".os.id == \"debian\" and .os.version == \"12\"" clean.json &&
  jq -e ".packages > 50" clean.json &&
  jq -e "[.findings[] | select(.severity == \"HIGH\" or .severity == \"CRITICAL\")] | length == 0" clean.json &&
  jq -e ".scan.layers_read == 1" clean.json
'

test_expect_success 'the vulnerable image reports CVE-2023-4911 on libc6 (source glibc) and exits 3' '
  expect_exit 3 lading scan --format json --fail-on HIGH oci:deb:vuln >vuln.json 2>err &&
  grep -q "at or above HIGH" err &&
  jq -e "[.findings[] | select(.vulnerability == \"CVE-2023-4911\")] | length == 1" vuln.json &&
  jq -e ".findings[] | select(.vulnerability == \"CVE-2023-4911\") |
         .package == \"libc6\" and .installed == \"2.36-9+deb12u1\" and .fixed == \"2.36-9+deb12u3\"
         and .severity == \"HIGH\" and .status == \"fixed\" and .cvss == 7.8 and .layer == 1" vuln.json
'

test_expect_success 'the second image on the same base reads only its own layer (cache by diff_id)' '
  jq -e ".scan.layers_read == 1 and .scan.layers_cached == 1" vuln.json &&
  lading scan --format json oci:deb:vuln >again.json &&
  jq -e ".scan.layers_read == 0 and .scan.layers_cached == 2" again.json &&
  jq -e "[.findings[].vulnerability] == [$(jq -c "[.findings[].vulnerability]" vuln.json | tr -d "[]")]" again.json
'

test_expect_success 'each package records the layer that introduced it' '
  lading sbom --format json oci:deb:vuln >sbom.json &&
  jq -e ".packages[] | select(.name == \"libc6\") | .layer == 1" sbom.json &&
  jq -e ".packages[] | select(.name == \"bash\") | .layer == 0" sbom.json &&
  base_diff=$(jq -r ".layers[0]" vuln.json) &&
  jq -e --arg d "$base_diff" ".packages[] | select(.name == \"bash\") | .layer_diff_id == \$d" sbom.json
'

test_expect_success 'table output: columns and a count per severity' '
  lading scan oci:deb:vuln >table &&
  grep -q "^PACKAGE .*INSTALLED .*FIXED .*VULNERABILITY .*SEVERITY .*STATUS .*TITLE" table &&
  grep -q "^Total: [0-9]* (UNKNOWN: [0-9]*, LOW: [0-9]*, MEDIUM: [0-9]*, HIGH: 1, CRITICAL: 0)" table &&
  grep -q "^libc6 .*2.36-9+deb12u1 .*2.36-9+deb12u3 .*CVE-2023-4911 .*HIGH .*fixed" table
'

test_expect_success '--severity, --ignore-unfixed and --ignore-file (with exp:) filter findings' '
  lading scan --format json --severity LOW oci:deb:vuln | jq -e "[.findings[].severity] | unique == [\"LOW\"]" &&
  lading scan --format json --ignore-unfixed oci:deb:vuln | jq -e "[.findings[] | select(.fixed == null)] | length == 0" &&
  lading scan --format json oci:deb:vuln | jq -e "[.findings[] | select(.fixed == null)] | length > 0" &&
  printf "# comment\nCVE-2023-4911 exp:2000-01-01\n" >expired &&
  lading scan --format json --ignore-file expired oci:deb:vuln | jq -e "[.findings[].vulnerability] | index(\"CVE-2023-4911\") != null" &&
  printf "CVE-2023-4911 exp:2999-12-31\n" >future &&
  lading scan --format json --ignore-file future --fail-on HIGH oci:deb:vuln | jq -e "[.findings[].vulnerability] | index(\"CVE-2023-4911\") == null" &&
  printf "DSA-5514-1\n" >alias &&
  lading scan --format json --ignore-file alias oci:deb:vuln | jq -e "[.findings[].vulnerability] | index(\"CVE-2023-4911\") == null" &&
  cp future .trivyignore &&
  lading scan --fail-on HIGH oci:deb:vuln >/dev/null &&
  rm .trivyignore
'

test_expect_success 'SARIF 2.1.0 and CycloneDX reports carry the finding' '
  lading scan --format sarif oci:deb:vuln >r.sarif &&
  jq -e ".version == \"2.1.0\" and .runs[0].tool.driver.name == \"lading\"" r.sarif &&
  jq -e ".runs[0].results[] | select(.ruleId == \"CVE-2023-4911\") | .level == \"error\"" r.sarif &&
  jq -e ".runs[0].tool.driver.rules[] | select(.id == \"CVE-2023-4911\") | .properties.\"security-severity\" == \"7.8\"" r.sarif &&
  lading scan --format cyclonedx oci:deb:vuln >r.cdx &&
  jq -e ".bomFormat == \"CycloneDX\" and .specVersion == \"1.5\"" r.cdx &&
  jq -e ".vulnerabilities[] | select(.id == \"CVE-2023-4911\") | .affects[0].ref | startswith(\"pkg:deb/debian/libc6@2.36-9%2Bdeb12u1\")" r.cdx
'

test_expect_success 'sbom: CycloneDX and SPDX with purls' '
  lading sbom oci:deb:bookworm >s.cdx &&
  jq -e "[.components[] | select(.name == \"libc6\")][0].purl | test(\"^pkg:deb/debian/libc6@2.36-9%2Bdeb12u[0-9]+\\\\?arch=amd64&distro=debian-12$\")" s.cdx &&
  jq -e "[.components[] | select(.type == \"operating-system\")][0].name == \"debian\"" s.cdx &&
  lading sbom --format spdx-json -o s.spdx oci:deb:bookworm &&
  jq -e ".spdxVersion == \"SPDX-2.3\" and (.packages | length) > 50" s.spdx &&
  jq -e "[.packages[] | select(.name == \"bash\")][0].externalRefs[0].referenceLocator | startswith(\"pkg:deb/debian/bash@\")" s.spdx &&
  jq -e "(.packages | length) as \$n | [.relationships[] | select(.relationshipType == \"CONTAINS\")] | length == \$n - 1" s.spdx
'

test_expect_success 'the image can come from the store too (lading copy)' '
  lading copy oci:deb:vuln vulnimg:1 >/dev/null &&
  expect_exit 3 lading scan --fail-on HIGH vulnimg:1 >/dev/null 2>&1
'

test_done
