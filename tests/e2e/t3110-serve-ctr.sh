#!/bin/bash
# containerd's ctr against lading serve: images pull (with unpack), images push (which uses
# cross-repository mount) and content fetch; containerd runs with its own root/state/socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_root
require_cmd containerd ctr skopeo umoci
start_serve reg
mk_layout "$TRASH/img" v1 || exit 1
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:$TRASH/img:v1 docker://$REG/ctr/app:v1 || exit 1

C="$TRASH/ctrd"
mkdir -p "$C"
cat >"$C/config.toml" <<TOML
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
TOML
containerd --config "$C/config.toml" >"$C/log" 2>&1 &
CTRD_PID=$!
test_at_end "kill $CTRD_PID; wait $CTRD_PID"
for i in $(seq 100); do [ -S "$C/containerd.sock" ] && break; sleep 0.1; done
CTR="ctr -a $C/containerd.sock -n lading-test"

test_expect_success 'ctr images pull --plain-http pulls and unpacks the image' '
  $CTR images pull --plain-http $REG/ctr/app:v1 &&
  $CTR images ls -q | grep -qx "$REG/ctr/app:v1"
'

test_expect_success 'ctr images push --plain-http to another repository (cross-repo mount)' '
  $CTR images tag $REG/ctr/app:v1 $REG/ctr/copy:v1 &&
  $CTR images push --plain-http $REG/ctr/copy:v1 &&
  grep -q "POST /v2/ctr/copy/blobs/uploads/ 201" $SERVE_LOG &&
  ! grep -q "PUT /v2/ctr/copy/blobs/uploads/" $SERVE_LOG &&
  [ "$(curl -s http://$REG/v2/ctr/copy/manifests/v1 | sha256sum | cut -d" " -f1)" = \
    "$(curl -s http://$REG/v2/ctr/app/manifests/v1 | sha256sum | cut -d" " -f1)" ]
'

test_expect_success 'ctr content fetch downloads every blob' '
  $CTR content fetch --plain-http $REG/ctr/copy:v1 &&
  $CTR content ls -q | wc -l | grep -qv "^0$"
'
test_done
