#!/bin/bash
# skopeo against lading serve: push from an umoci layout, pull back byte-identical, list-tags,
# inspect, delete, and a Docker v2s2 push.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
require_cmd skopeo umoci jq
start_serve reg
SK="skopeo --insecure-policy"
mk_layout "$TRASH/img" v1 || exit 1

test_expect_success 'skopeo copy pushes an OCI layout into the registry' '
  $SK copy --dest-tls-verify=false --preserve-digests oci:$TRASH/img:v1 docker://$REG/lib/app:v1
'

test_expect_success 'skopeo copy pulls it back byte-identical' '
  $SK copy --src-tls-verify=false docker://$REG/lib/app:v1 oci:out:v1 &&
  want=$(jq -r ".manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"]==\"v1\") | .digest" $TRASH/img/index.json) &&
  got=$(jq -r ".manifests[0].digest" out/index.json) && [ "$want" = "$got" ] &&
  for b in out/blobs/sha256/*; do cmp $b $TRASH/img/blobs/sha256/$(basename $b) || exit 1; done &&
  for b in out/blobs/sha256/*; do [ "sha256:$(basename $b)" = "$(digest_of $b)" ] || exit 1; done
'

test_expect_success 'skopeo list-tags and inspect see the image' '
  $SK copy --dest-tls-verify=false oci:$TRASH/img:v1 docker://$REG/lib/app:v2 &&
  $SK list-tags --tls-verify=false docker://$REG/lib/app >tags.json &&
  jq -e ".Tags == [\"v1\",\"v2\"]" tags.json &&
  $SK inspect --tls-verify=false docker://$REG/lib/app:v1 >inspect.json &&
  jq -e ".Architecture == \"amd64\" and (.Layers | length) == 1" inspect.json &&
  $SK inspect --tls-verify=false --raw docker://$REG/lib/app:v1 | jq -e ".config.mediaType == \"application/vnd.oci.image.config.v1+json\""
'

test_expect_success 'skopeo --format v2s2 pushes a Docker schema 2 manifest' '
  $SK copy --dest-tls-verify=false --format v2s2 oci:$TRASH/img:v1 docker://$REG/lib/docker:v1 &&
  $SK inspect --tls-verify=false --raw docker://$REG/lib/docker:v1 >raw.json &&
  jq -e ".mediaType == \"application/vnd.docker.distribution.manifest.v2+json\"" raw.json &&
  $SK copy --src-tls-verify=false docker://$REG/lib/docker:v1 oci:out2:v1
'

test_expect_success 'skopeo delete removes the manifest' '
  $SK delete --tls-verify=false docker://$REG/lib/app:v2 &&
  test_must_fail $SK inspect --tls-verify=false docker://$REG/lib/app:v1 2>err &&
  test_must_fail $SK inspect --tls-verify=false docker://$REG/lib/app:v2
'
test_done
