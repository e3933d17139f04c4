#!/bin/bash
# FROM docker://: a base image in a real registry (Debian's docker-registry) is pulled into the
# store by digest, the digest it resolved to is printed and recorded in the result's annotations,
# and the result keeps the base's layers.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd docker-registry jq python3 umoci

test_expect_success 'setup: a small base image in docker-registry' '
  PORT=$(free_port) && echo $PORT >port &&
  start_docker_registry $PORT reg &&
  python3 $TEST_DIR/mktar.py base.tar ok && gzip -c base.tar >base.tar.gz &&
  python3 $TEST_DIR/mklayout.py base b1 --layer base.tar.gz &&
  lading copy -q oci:base:b1 docker://127.0.0.1:$PORT/team/base:1 &&
  lading inspect --format json docker://127.0.0.1:$PORT/team/base:1 | jq -r .digest >base.digest
'
PORT=$(cat "$TRASH/port" 2>/dev/null)

test_expect_success 'FROM docker://REF by tag resolves to a digest, prints and records it' '
  mkdir ctx && echo "added by the build" >ctx/note.txt &&
  printf "FROM docker://127.0.0.1:%s/team/base:1\nCOPY note.txt /note.txt\n" $PORT >ctx/Dockerfile &&
  lading build -t fromreg ctx >out 2>progress &&
  grep -q "resolved to $(cat base.digest)" progress &&
  lading inspect --raw fromreg >m.json &&
  jq -e --arg d "$(cat base.digest)" ".annotations[\"org.opencontainers.image.base.digest\"] == \$d" m.json &&
  jq -e ".annotations[\"org.opencontainers.image.base.name\"] | contains(\"team/base:1\")" m.json &&
  jq -e ".layers | length == 2" m.json &&
  test "$(jq -r ".layers[0].digest" m.json)" = "sha256:$(sha256sum <base.tar.gz | cut -d" " -f1)"
'

test_expect_success 'the built image has the base file and the copied one' '
  lading copy -q fromreg oci:outlayout:t &&
  umoci unpack --image outlayout:t unpacked >/dev/null &&
  grep -q hello unpacked/rootfs/etc/hello && grep -q "added by the build" unpacked/rootfs/note.txt
'

test_expect_success 'FROM a missing registry image fails naming it, nothing tagged' '
  printf "FROM docker://127.0.0.1:%s/team/nothere:1\nCOPY note.txt /n\n" $PORT >ctx/Dockerfile &&
  test_must_fail lading build -t missing ctx 2>err &&
  grep -q "nothere" err &&
  ! lading images | grep -q "missing"
'

test_done
