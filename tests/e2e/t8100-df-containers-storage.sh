#!/bin/bash
# lading df / prune over a REAL containers-storage: podman (vfs driver, its own --root) pulls three
# images sharing a base from a local docker-registry and creates a container from one.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd podman skopeo umoci docker-registry jq

CS="$TRASH/cs"
RUNROOT=$(mktemp -d /tmp/ldcs.XXXXXX) # podman wants a runroot under 50 characters
test_at_end "rm -rf $RUNROOT"
podman_() {
  podman --root "$CS/root" --runroot "$RUNROOT" --storage-driver vfs --cgroup-manager cgroupfs \
    --events-backend file "$@"
}
if [ -z "${_skip_reason:-}" ]; then
  PORT=$(free_port)
  start_docker_registry "$PORT" "$TRASH/reg" >/dev/null
fi

test_expect_success 'podman pulls three images sharing a base and creates a container' '
  port=$PORT &&
  mkdir -p src/base && head -c 300000 /dev/urandom >src/base/blob &&
  umoci init --layout L && umoci new --image L:base &&
  umoci config --image L:base --architecture amd64 --os linux --config.cmd /bin/true &&
  umoci insert --image L:base src/base /base &&
  for x in a b c; do
    mkdir -p src/$x && head -c 100000 /dev/urandom >src/$x/f &&
    umoci tag --image L:base $x && umoci insert --image L:$x src/$x /$x &&
    skopeo copy -q --dest-tls-verify=false oci:L:$x docker://127.0.0.1:$port/img/$x:1 &&
    podman_ pull -q --tls-verify=false 127.0.0.1:$port/img/$x:1 || return 1
  done &&
  podman_ create --name web 127.0.0.1:$port/img/a:1 /bin/true &&
  test $(podman_ images -q | wc -l) = 3
'

test_expect_success 'df marks the image with a container in use and the others not' '
  lading df --containers-storage "$CS/root" --format json >df.json &&
  jq -e ".driver == \"vfs\" and (.images | length) == 3" df.json &&
  jq -e "[.images[] | select(.in_use)] | length == 1" df.json &&
  jq -e ".images[] | select(.in_use) | .names[0] | endswith(\"/img/a:1\")" df.json &&
  jq -e ".images[] | select(.in_use) | .used_by == \"web\"" df.json &&
  jq -e "[.images[].layers] == [2,2,2]" df.json
'

test_expect_success 'df sizes add up with du of the layer directories' '
  R="$CS/root" &&
  ctr_layer=$(jq -r ".[0].layer" "$R/vfs-containers/containers.json") &&
  images_du=$(ls -d "$R"/vfs/dir/* "$R"/vfs-layers/*.tar-split.gz "$R"/vfs-images/*/ |
              grep -v "$ctr_layer" | xargs du -s -B1 -c | tail -1 | cut -f1) &&
  ctr_du=$(du -s -B1 "$R/vfs/dir/$ctr_layer" | cut -f1) &&
  jq -e ".totals.size == $images_du" df.json &&
  jq -e ".totals.containers == $ctr_du" df.json &&
  base=$(jq -r ".[] | select(.parent == null) | .id" "$R/vfs-layers/layers.json") &&
  base_du=$(du -s -B1 -c "$R/vfs/dir/$base" "$R/vfs-layers/$base.tar-split.gz" | tail -1 | cut -f1) &&
  jq -e "[.images[].shared] == [$base_du, $base_du, $base_du]" df.json &&
  jq -e "([.images[].unique] | add) + $base_du == .totals.size" df.json &&
  jq -e ".totals.shared == $base_du" df.json
'

test_expect_success 'df --layers shows the base layer shared by all three images' '
  lading df --containers-storage "$CS/root" --layers --format json >layers.json &&
  jq -e "[.layers[] | select(.kind == \"layer\") | .images | length] | sort == [1,1,1,3]" layers.json &&
  lading df --containers-storage "$CS/root" --layers >layers.txt &&
  head -2 layers.txt | tail -1 | grep -E " 3 .*img/a:1.*img/b:1.*img/c:1"
'

test_expect_success 'prune advice never names the image in use, and podman follows it' '
  used=$(jq -r ".images[] | select(.in_use) | .id" df.json) &&
  lading prune --containers-storage "$CS/root" --all-unused --min-age 0 >advice.txt &&
  cat advice.txt &&
  ! grep -q "$used" advice.txt &&
  test $(grep -c "^  crictl rmi " advice.txt) = 2 &&
  test $(podman_ images -q | wc -l) = 3 &&
  cmd=$(grep "^  podman " advice.txt | sed "s/^  //") &&
  $cmd --cgroup-manager cgroupfs --events-backend file --runroot "$RUNROOT" &&
  test $(podman_ images -q | wc -l) = 1 &&
  lading df --containers-storage "$CS/root" --format json >after.json &&
  jq -e "(.images | length) == 1 and .images[0].in_use" after.json
'

test_expect_success 'advice in JSON lists victims in LRU order with their commands' '
  lading prune --containers-storage "$CS/root" --all-unused --min-age 0 --format json >p.json &&
  jq -e ".advisory == true and (.victims | length) == 0 and .protected[0].why == \"in use\"" p.json
'

test_expect_success 'the overlay driver (as CRI-O uses it): in use, sizes add up with du' '
  podman --root "$TRASH/oroot" --runroot "$RUNROOT/o" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend file pull -q --tls-verify=false 127.0.0.1:$PORT/img/b:1 &&
  podman --root "$TRASH/oroot" --runroot "$RUNROOT/o" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend file pull -q --tls-verify=false 127.0.0.1:$PORT/img/c:1 &&
  podman --root "$TRASH/oroot" --runroot "$RUNROOT/o" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend file create --name job 127.0.0.1:$PORT/img/c:1 /bin/true &&
  R="$TRASH/oroot" &&
  lading df --containers-storage "$R" --format json >o.json &&
  jq -e ".driver == \"overlay\" and (.images | length) == 2" o.json &&
  jq -e "[.images[] | select(.in_use) | .used_by] == [\"job\"]" o.json &&
  ctr_layer=$(jq -r ".[0].layer" "$R/overlay-containers/containers.json") &&
  images_du=$(ls -d "$R"/overlay/* "$R"/overlay-layers/*.tar-split.gz "$R"/overlay-images/*/ |
              grep -v -e "$ctr_layer" -e "/overlay/l$" | xargs du -s -B1 -c | tail -1 | cut -f1) &&
  jq -e ".totals.size == $images_du" o.json &&
  jq -e ".totals.containers == $(du -s -B1 "$R/overlay/$ctr_layer" | cut -f1)" o.json
'

test_expect_success 'df on a directory that is no containers-storage fails naming it' '
  mkdir empty &&
  expect_exit 1 lading df --containers-storage "$TRASH/empty" 2>err &&
  grep "lading: .*empty: not a containers-storage graph root" err &&
  echo "[{\"id\":" >bad.json && mkdir -p bad/vfs-images && cp bad.json bad/vfs-images/images.json &&
  expect_exit 1 lading df --containers-storage "$TRASH/bad" 2>err &&
  grep "images.json: malformed JSON" err &&
  expect_exit 2 lading df --high 200 2>err && grep "not a percentage" err
'
test_done
