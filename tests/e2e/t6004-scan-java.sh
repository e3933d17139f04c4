#!/bin/sh
# Java archives: a log4j-core 2.14.1 jar (pom.properties) is found and matched (Log4Shell,
# CVE-2021-44228), also nested in a war; Debian's own liblog4j2-java 2.19.0 jar is owned by the
# dpkg package, reported once as that package, and clean.
. "$(dirname "$0")/lib.sh"
. "$FIXTURES/scan/images.sh"
require_root
require_cmd umoci igzip jq python3 dpkg-deb

test_expect_success 'setup: Debian base + app layer with log4j 2.14.1 jars' '
  debian_layouts deb && import_fixtures &&
  umoci tag --image deb:bookworm java >/dev/null &&
  mkdir -p app/opt/app/lib app/srv &&
  log4j_jar app/opt/app/lib/log4j-core-2.14.1.jar 2.14.1 &&
  log4j_jar inner.jar 2.14.1 &&
  python3 -c "import zipfile; z=zipfile.ZipFile(\"app/srv/shop.war\",\"w\"); z.write(\"inner.jar\",\"WEB-INF/lib/log4j-core-2.14.1.jar\"); z.writestr(\"../../evil.jar\", open(\"inner.jar\",\"rb\").read())" &&
  mkdir -p app/usr/local/lib/python3.11/site-packages/requests-2.28.1.dist-info app/srv/web/node_modules/lodash \
           app/srv/web/node_modules/@babel/core &&
  printf "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nLicense: Apache 2.0\n\nbody\n" \
    >app/usr/local/lib/python3.11/site-packages/requests-2.28.1.dist-info/METADATA &&
  echo "{\"name\": \"lodash\", \"version\": \"4.17.20\", \"license\": \"MIT\"}" >app/srv/web/node_modules/lodash/package.json &&
  echo "{\"name\": \"@babel/core\", \"version\": \"7.22.5\"}" >app/srv/web/node_modules/@babel/core/package.json &&
  add_layer deb java app
'

test_expect_success 'Python dist-info and npm package.json are cataloged and matched' '
  lading sbom --format json oci:deb:java >app-sbom.json &&
  jq -e ".packages[] | select(.type == \"pypi\") | .name == \"requests\" and .purl == \"pkg:pypi/requests@2.28.1\"" app-sbom.json &&
  jq -e "[.packages[] | select(.type == \"npm\") | .purl] | sort == [\"pkg:npm/%40babel/core@7.22.5\", \"pkg:npm/lodash@4.17.20\"]" app-sbom.json &&
  lading scan --format json --severity MEDIUM,HIGH oci:deb:java >app.json &&
  jq -e ".findings[] | select(.vulnerability == \"CVE-2023-32681\") | .package == \"requests\" and .fixed == \"2.31.0\" and .severity == \"MEDIUM\"" app.json &&
  jq -e ".findings[] | select(.vulnerability == \"CVE-2021-23337\") | .package == \"lodash\" and .fixed == \"4.17.21\" and .severity == \"HIGH\"" app.json
'

test_expect_success 'log4j-core 2.14.1 is reported with CVE-2021-44228 (CRITICAL) and CVE-2021-45046' '
  expect_exit 3 lading scan --format json --fail-on CRITICAL oci:deb:java >java.json &&
  jq -e "[.findings[] | select(.vulnerability == \"GHSA-jfh8-c2jp-5v3q\" and .path == \"opt/app/lib/log4j-core-2.14.1.jar\")] | length == 1" java.json &&
  jq -e ".findings[] | select(.vulnerability == \"GHSA-jfh8-c2jp-5v3q\" and .path == \"opt/app/lib/log4j-core-2.14.1.jar\") |
         .package == \"org.apache.logging.log4j:log4j-core\" and .installed == \"2.14.1\" and .fixed == \"2.15.0\" and
         .severity == \"CRITICAL\" and .cvss == 10 and .aliases == [\"CVE-2021-44228\"] and .layer == 1 and
         .purl == \"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1\"" java.json &&
  jq -e "[.findings[] | select(.vulnerability == \"GHSA-7rjr-3q55-vv33\")] | length == 2" java.json
'

test_expect_success 'the jar nested in a war is found; the ../ entry is not' '
  jq -e "[.findings[] | select(.path == \"srv/shop.war!WEB-INF/lib/log4j-core-2.14.1.jar\")] | length == 2" java.json &&
  ! grep -q "evil" java.json
'

test_expect_success 'with the advisory ignored, the gate passes' '
  printf "CVE-2021-44228\nCVE-2021-45046\n" >ign &&
  lading scan --ignore-file ign --fail-on CRITICAL oci:deb:java >/dev/null
'

test_expect_success 'a whiteout removes the jar; an opaque directory hides the war' '
  umoci tag --image deb:java wh >/dev/null &&
  umoci insert --image deb:wh --whiteout /opt/app/lib/log4j-core-2.14.1.jar >/dev/null &&
  lading scan --format json oci:deb:wh >wh.json &&
  jq -e "[.findings[] | select(.path == \"opt/app/lib/log4j-core-2.14.1.jar\")] | length == 0" wh.json &&
  jq -e "[.findings[] | select(.path | startswith(\"srv/shop.war\"))] | length == 2" wh.json &&
  mkdir -p emptysrv/keep && echo hi >emptysrv/keep/x &&
  umoci insert --image deb:wh --opaque emptysrv /srv >/dev/null &&
  lading scan --format json oci:deb:wh >opq.json &&
  jq -e "[.findings[] | select(.package == \"org.apache.logging.log4j:log4j-core\")] | length == 0" opq.json &&
  jq -e "[.findings[] | select(.package == \"requests\")] | length == 1" opq.json
'

deb=$(log4j_deb)
[ -n "$deb" ] || test_skip_rest "cannot download liblog4j2-java from the Debian mirror"

test_expect_success 'setup: Debian liblog4j2-java installed as dpkg would' '
  install_deb_root "$deb" deb/status.base debjava &&
  umoci tag --image deb:bookworm debjava >/dev/null &&
  add_layer deb debjava debjava
'

test_expect_success 'the Debian jar is reported once, as the deb package, and is clean' '
  lading scan --format json --fail-on HIGH oci:deb:debjava >dj.json &&
  lading sbom --format json oci:deb:debjava >dj-sbom.json &&
  jq -e ".packages[] | select(.name == \"liblog4j2-java\") | .src_name == \"apache-log4j2\" and (.version | startswith(\"2.19.0\")) and .layer == 1" dj-sbom.json &&
  jq -e "[.packages[] | select(.type == \"maven\")] | length == 0" dj-sbom.json &&
  jq -e "[.findings[] | select(.package == \"liblog4j2-java\")] | length == 0" dj.json
'

test_done
