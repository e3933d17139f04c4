#!/bin/bash
# podman (vfs storage, private --root/--runroot) pulls from and pushes to lading serve.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_root
require_cmd podman skopeo umoci
start_serve reg
mk_layout "$TRASH/img" v1 || exit 1
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:$TRASH/img:v1 docker://$REG/pm/app:v1 || exit 1
PM="podman --root $TRASH/pm/root --runroot $TRASH/pm/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
test_at_end "rm -rf $TRASH/pm"

test_expect_success 'podman pull from lading serve' '
  $PM pull --tls-verify=false $REG/pm/app:v1 &&
  $PM images --format "{{.Repository}}:{{.Tag}}" | grep -qx "$REG/pm/app:v1"
'

test_expect_success 'podman push to lading serve, and the pushed image pulls back' '
  $PM tag $REG/pm/app:v1 $REG/pm/pushed:v2 &&
  $PM push --tls-verify=false $REG/pm/pushed:v2 &&
  skopeo --insecure-policy copy --src-tls-verify=false docker://$REG/pm/pushed:v2 oci:back:v2 &&
  [ "$(jq -r ".manifests[0].digest" back/index.json)" = "$(skopeo inspect --tls-verify=false --raw docker://$REG/pm/pushed:v2 | sha256sum | sed "s/^/sha256:/;s/ .*//")" ]
'
test_done
