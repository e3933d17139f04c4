#!/bin/bash
# lading mirror: tags resolved once and copied by digest, the lock file, a moved tag reported
# (exit 3) and kept, --update following it, failures (exit 1), shared base blobs mounted across
# destination repositories, bad list and lock files named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/t4999-helpers/client-lib.sh"
require_cmd docker-registry umoci jq skopeo
SP=$(free_port) DP=$(free_port)
S=127.0.0.1:$SP D=127.0.0.1:$DP

test_expect_success 'setup: source registry with three images sharing a base' '
  start_registry_at $SP "$TRASH/src" && start_registry_at $DP "$TRASH/dst" &&
  make_image img base 1 256 &&
  for i in 1 2 3; do
    umoci tag --image img:base app$i >/dev/null &&
    mkdir -p own$i && echo "app $i" >own$i/id &&
    umoci insert --image img:app$i own$i /app >/dev/null &&
    lading copy -q oci:img:app$i docker://$S/team/app$i:v1 || return 1
  done &&
  lading copy -q oci:img:app1 docker://$S/team/pinned:v1 &&
  pinned=$(manifest_digest $S team/pinned v1) && echo $pinned >pinned &&
  cat >list <<LIST
# images to mirror
$S/team/app1:v1
docker://$S/team/app2:v1   # with the transport prefix
$S/team/app3:v1
$S/team/pinned@$pinned
LIST
'

test_expect_success 'first run: everything arrives, by digest, and the lock says so' '
  lading mirror --from list --to $D/mirror --format json >out &&
  jq -e ".failed == 0 and .moved == 0 and (.images | length) == 4" out &&
  jq -e "[.images[].status] | all(. == \"copied\")" out &&
  test "$(grep -vc "^#" list.lock)" = 4 &&
  grep -q "^$S/team/app2:v1 -> $D/mirror/team/app2:v1@sha256:" list.lock &&
  grep -q "^$S/team/pinned@$(cat pinned) -> $D/mirror/team/pinned@$(cat pinned)$" list.lock &&
  for i in 1 2 3; do
    test "$(manifest_digest $D mirror/team/app$i v1)" = "$(manifest_digest $S team/app$i v1)" || return 1
  done
'

test_expect_success 'the shared base was sent once and mounted into the other repositories' '
  jq -e "[.images[].blobs_mounted] | add >= 4" out &&
  jq -e "[.images[] | select(.source | test(\"app[23]\")) | .blobs_copied] | all(. <= 2)" out
'

test_expect_success 'second run: unchanged, nothing moved, exit 0' '
  cp list.lock lock.before &&
  lading mirror --from list --to $D/mirror --format json >out &&
  jq -e "[.images[].status] | all(. == \"unchanged\")" out &&
  jq -e "[.images[].blobs_copied] | add == 0" out &&
  cmp list.lock lock.before
'

test_expect_success 'a tag moved upstream: reported, exit 3, locked digest kept' '
  old=$(manifest_digest $S team/app1 v1) &&
  lading copy -q docker://$S/team/app2:v1 docker://$S/team/app1:v1 &&
  expect_exit 3 lading mirror --from list --to $D/mirror 2>err >out &&
  grep -q "team/app1:v1: tag moved upstream" err &&
  grep -q "^moved" out &&
  cmp list.lock lock.before &&
  test "$(manifest_digest $D mirror/team/app1 v1)" = "$old"
'

test_expect_success '--update follows the tag and rewrites the lock' '
  lading mirror --update --from list --to $D/mirror --format json >out &&
  jq -e "[.images[] | select(.status == \"updated\")] | length == 1" out &&
  new=$(manifest_digest $S team/app1 v1) &&
  grep -q "^$S/team/app1:v1 -> $D/mirror/team/app1:v1@$new$" list.lock &&
  test "$(manifest_digest $D mirror/team/app1 v1)" = "$new"
'

test_expect_success 'a missing image: exit 1, the others still arrive, its lock line kept' '
  cp list list2 && echo "$S/team/ghost:v1" >>list2 && cp list.lock list2.lock &&
  expect_exit 1 lading mirror --from list2 --to $D/m2 2>err >/dev/null &&
  grep -q "team/ghost:v1" err &&
  test "$(grep -vc "^#" list2.lock)" = 4 &&
  test "$(manifest_digest $D m2/team/app3 v1)" = "$(manifest_digest $S team/app3 v1)"
'

test_expect_success 'bad list and lock files are named with the line' '
  printf "$S/ok:v1\nNot A Ref!\n" >bad &&
  test_must_fail lading mirror --from bad --to $D/x 2>err && grep -q "bad: line 2" err &&
  echo "garbage" >broken.lock &&
  test_must_fail lading mirror --from list --lock broken.lock --to $D/x 2>err &&
  grep -q "broken.lock: line 1" err &&
  expect_exit 2 lading mirror --from list
'
test_done
