#!/bin/bash
# lading analyze gives dive's numbers, exactly, on dive's own fixtures, through every transport
# (docker-archive, oci-archive, oci: written by skopeo, the store), plus per-layer changes and
# the numbers dive does not compute. Expected values: tests/fixtures/dive/README.md.
. "$(dirname "$0")/lib.sh"

DOCKER_IMG="docker-archive:$FIXTURES/dive/test-docker-image.tar"
KANIKO_IMG="docker-archive:$FIXTURES/dive/test-kaniko-image.tar"
OCI_IMG="oci-archive:$FIXTURES/dive/test-oci-gzip-image.tar"

# The dive-compatible numbers of test-docker-image.tar, as dive's own test states them.
check_dive_numbers() {
  jq -e '.efficiency == 0.9844212134184309 and .size == 1220598 and .user_size == 66237 and
         .wasted_bytes == 32025 and .user_wasted_percent == 0.4834911001404049' "$1" &&
  jq -e '[.inefficient_files[] | [.count, .wasted_bytes, .path]] ==
         [[2, 12810, "/root/saved.txt"], [2, 12810, "/root/example/somefile1.txt"],
          [2, 6405, "/root/example/somefile3.txt"]]' "$1"
}

test_expect_success 'docker save archive: efficiency, sizes, wasted bytes equal dive' '
  lading analyze --format json "$DOCKER_IMG" >out.json &&
  check_dive_numbers out.json
'

test_expect_success 'layers carry index, digest, dive size and the trimmed command' '
  jq -e ".layers | length == 14" out.json &&
  jq -e ".layers[0].index == 0 and .layers[0].size == 1154361" out.json &&
  jq -e "[.layers[].size] | add == 1220598" out.json &&
  jq -e ".layers[0].command | startswith(\"ADD file:ce026b62\")" out.json &&
  jq -e ".layers[3].command == \"cp /somefile.txt /root/example/somefile1.txt\"" out.json &&
  jq -e ".layers[3].created_by == \"/bin/sh -c cp /somefile.txt /root/example/somefile1.txt\"" out.json &&
  jq -e "[.layers[].digest | test(\"^sha256:[0-9a-f]{64}$\")] | all" out.json
'

test_expect_success 'beyond dive: each hidden copy counted once, duplicates by content' '
  jq -e ".reclaimable_bytes == 32025 and .reclaimable_files == 5" out.json &&
  jq -e ".size == .visible_bytes + .reclaimable_bytes" out.json &&
  jq -e "[.hidden_files[] | select(.path == \"/root/example/somefile2.txt\")] | length == 1" out.json &&
  jq -e ".duplicates[0].count == 5 and .duplicates[0].size == 6405" out.json &&
  jq -e ".duplicates[0].paths | index(\"/somefile.txt\") != null" out.json &&
  jq -e ".duplicate_bytes == 25620" out.json
'

test_expect_success 'kaniko archive (gzip layers, "/" entries) analyzes, same build, its sizes' '
  lading analyze --format json "$KANIKO_IMG" >kaniko.json &&
  jq -e ".efficiency == 0.9793688490216431 and .size == 1326410 and .user_size == 94677" kaniko.json &&
  jq -e ".wasted_bytes == 46245 and .user_wasted_percent == 0.4884502043790995" kaniko.json &&
  jq -e "[.inefficient_files[].path] == [\"/root/saved.txt\", \"/root/example/somefile1.txt\", \"/root/example/somefile3.txt\"]" kaniko.json
'

test_expect_success 'arm64-only OCI archive analyzes on any host; --platform selects' '
  lading analyze --format json "$OCI_IMG" >oci.json &&
  jq -e ".platform == \"linux/arm64\" and (.layers | length) == 1" oci.json &&
  jq -e ".layers[0].command == \"COPY README.md /README.md # buildkit\"" oci.json &&
  jq -e ".user_size == 0 and .user_wasted_percent == null and .efficiency == 1" oci.json &&
  lading analyze --platform linux/arm64 --format json "$OCI_IMG" >/dev/null &&
  test_must_fail lading analyze --platform linux/s390x "$OCI_IMG" 2>err &&
  grep "^lading: " err
'

test_expect_success '--layer N lists that layer: added, removed, modified with sizes' '
  lading analyze --format json --layer 7 "$DOCKER_IMG" >l7.json &&
  jq -e "[.layers[] | has(\"changes\")] == ([range(14)] | map(. == 7))" l7.json &&
  jq -e ".layers[7].changes == [
    {\"kind\":\"removed\",\"path\":\"/root/example/somefile3.txt\",\"type\":\"file\",\"size\":6405,\"files\":1},
    {\"kind\":\"added\",\"path\":\"/root/saved.txt\",\"type\":\"file\",\"size\":6405}]" l7.json &&
  lading analyze --format json --layer 13 "$DOCKER_IMG" >l13.json &&
  jq -e ".layers[13].changes == [{\"kind\":\"modified\",\"path\":\"/root/saved.txt\",\"type\":\"file\",\"size\":6405,\"previous_size\":6405}]" l13.json &&
  lading analyze --format json --layer 9 "$DOCKER_IMG" >l9.json &&
  jq -e ".layers[9].changes == [{\"kind\":\"removed\",\"path\":\"/root/example\",\"type\":\"dir\",\"size\":12810,\"files\":2}]" l9.json &&
  lading analyze --layer 9 "$DOCKER_IMG" >l9.txt &&
  grep -E "^  removed  +d +12\.8 kB  /root/example  \(2 files\)$" l9.txt
'

test_expect_success 'parallel layer reading gives the same report as one thread' '
  lading analyze --format json --layer all -j 1 "$DOCKER_IMG" >j1.json &&
  lading analyze --format json --layer all -j 4 "$DOCKER_IMG" >j4.json &&
  cmp j1.json j4.json
'

test_expect_success '--layer beyond the last layer is a usage error' '
  expect_exit 2 lading analyze --layer 14 "$DOCKER_IMG" 2>err &&
  grep "the image has 14 layers" err
'

test_expect_success 'human report shows the dive numbers and the inefficient files' '
  lading analyze "$DOCKER_IMG" >report.txt &&
  grep -E "^  Efficiency: +98\.4421 % \(0\.9844212134184309\)$" report.txt &&
  grep -E "^  Wasted bytes: +32\.0 kB \(32025 bytes\)$" report.txt &&
  grep -E "^  User wasted percent: +48\.3491 %" report.txt &&
  grep -E "^ +2 +12\.8 kB  /root/saved\.txt$" report.txt &&
  grep -E "^ +13 +[0-9a-f]{12} +6\.4 kB .* chmod \+x /root/saved\.txt$" report.txt
'

test_expect_success 'skopeo-written oci: layout gives the same numbers' '
  skopeo copy -q "$DOCKER_IMG" oci:layout:dive >/dev/null &&
  lading analyze --format json oci:layout:dive >sk.json &&
  check_dive_numbers sk.json
'

test_expect_success 'store image: same numbers, and its last-used time is recorded' '
  lading copy -q "$DOCKER_IMG" dive-test:latest &&
  lading analyze --format json dive-test:latest >store.json &&
  check_dive_numbers store.json &&
  digest=$(jq -r .digest store.json) &&
  sqlite3 "$LADING_ROOT/meta.db" "UPDATE images SET last_used=0 WHERE digest=\"$digest\"" &&
  lading analyze --format json dive-test:latest >/dev/null &&
  used=$(sqlite3 "file:$LADING_ROOT/meta.db?immutable=1" "SELECT last_used FROM images WHERE digest=\"$digest\"") &&
  test -n "$used" && test "$used" -gt 0
'

# The registry runs for the whole file (stopped by test_at_end, which a test body's subshell
# could not register).
REG_PORT=$(free_port)
start_docker_registry "$REG_PORT" "$TRASH/reg" >/dev/null 2>&1 || REG_PORT=

test_expect_success 'registry image (docker://, streamed, layers in parallel): same numbers' '
  test -n "$REG_PORT" && port=$REG_PORT &&
  skopeo copy -q --dest-tls-verify=false "$DOCKER_IMG" "docker://127.0.0.1:$port/dive:t" &&
  lading analyze --format json -j 4 "docker://127.0.0.1:$port/dive:t" >reg.json &&
  check_dive_numbers reg.json
'

test_expect_success 'umoci layers: a deleted file is a whiteout change, an opaque dir hides its files' '
  mkdir -p root1/etc root1/data root2/data &&
  head -c 5000 /dev/urandom >root1/etc/big && echo a >root1/etc/keep &&
  head -c 3000 /dev/urandom >root1/data/old && echo new >root2/data/new &&
  umoci init --layout uo >/dev/null && umoci new --image uo:t >/dev/null &&
  umoci insert --image uo:t root1 / >/dev/null &&
  umoci insert --image uo:t --whiteout /etc/big >/dev/null &&
  umoci insert --image uo:t --opaque root2/data /data >/dev/null &&
  lading analyze --format json --layer all oci:uo:t >uo.json &&
  jq -e ".layers | length == 3" uo.json &&
  jq -e "[.layers[1].changes[] | select(.kind == \"removed\")] == [{\"kind\":\"removed\",\"path\":\"/etc/big\",\"type\":\"file\",\"size\":5000,\"files\":1}]" uo.json &&
  jq -e ".layers[2].removed.bytes == 3000" uo.json &&
  jq -e ".reclaimable_bytes == 8000 and .size == .visible_bytes + .reclaimable_bytes" uo.json
'

test_done
