#!/bin/bash
# Transports and the store, proven with the real tools both ways: skopeo and umoci read what we
# write (the store itself as oci:$LADING_ROOT:NAME), and we read what they write.
. "$(dirname "$0")/lib.sh"
require_cmd skopeo umoci jq

DIVE=$FIXTURES/dive/test-docker-image.tar

test_expect_success 'docker save archive imports into the store and lists' '
  lading copy docker-archive:$DIVE dive:test >out &&
  grep -q "15 blobs copied" out &&
  lading images --format json >img.json &&
  jq -e ".[0].name == \"docker.io/library/dive:test\"" img.json &&
  jq -e ".[0].platform == \"linux/amd64\"" img.json
'

test_expect_success 'a second copy of the same image moves nothing' '
  lading copy --format json docker-archive:$DIVE dive:again >out.json &&
  jq -e ".blobs_copied == 0 and .blobs_skipped == 15" out.json
'

test_expect_success 'skopeo and umoci read the store as an OCI layout' '
  skopeo inspect oci:$LADING_ROOT:docker.io/library/dive:test >sk.json &&
  jq -e ".Layers | length == 14" sk.json &&
  umoci unpack --image $LADING_ROOT:docker.io/library/dive:test bundle >/dev/null &&
  test -f bundle/rootfs/somefile.txt
'

test_expect_success 'store -> oci: -> skopeo copy -> oci: -> store keeps the manifest digest' '
  d1=$(lading inspect --format json dive:test | jq -r .digest) &&
  lading copy dive:test oci:layout1:v1 &&
  skopeo copy --preserve-digests oci:layout1:v1 oci:layout2:v2 >/dev/null &&
  lading copy oci:layout2:v2 back:v2 &&
  d2=$(lading inspect --format json back:v2 | jq -r .digest) &&
  test "$d1" = "$d2"
'

test_expect_success 'oci-archive written by us is read by skopeo, and back' '
  lading copy dive:test oci-archive:img.tar:v1 &&
  skopeo inspect oci-archive:img.tar:v1 | jq -e ".Layers | length == 14" &&
  lading copy oci-archive:img.tar:v1 fromarchive &&
  lading inspect fromarchive >/dev/null
'

test_expect_success 'docker-archive written by us is read by skopeo' '
  lading copy dive:test docker-archive:saved.tar:saved:1 &&
  skopeo inspect docker-archive:saved.tar | jq -e ".Layers | length == 14" &&
  tar -tf saved.tar | grep -q manifest.json &&
  lading copy docker-archive:saved.tar:saved:1 resaved &&
  test "$(lading inspect --format json resaved | jq -r .digest)" = \
       "$(lading inspect --format json dive:test | jq -r .digest)"
'

test_expect_success 'we read skopeo-written docker-archive and oci-archive' '
  skopeo copy oci:layout1:v1 docker-archive:sk-docker.tar:sk:1 >/dev/null &&
  skopeo copy oci:layout1:v1 oci-archive:sk-oci.tar:sk1 >/dev/null &&
  lading copy docker-archive:sk-docker.tar sk-docker &&
  lading copy oci-archive:sk-oci.tar:sk1 sk-oci &&
  lading inspect --format json sk-docker | jq -e ".layers | length == 14" &&
  lading inspect --format json sk-oci | jq -e ".layers | length == 14"
'

test_expect_success 'we read an umoci-made layout (uncompressed and gzip layers)' '
  umoci init --layout um && umoci new --image um:t &&
  mkdir -p src/etc && echo hi >src/etc/hello &&
  umoci insert --image um:t src/etc /etc >/dev/null &&
  umoci config --image um:t --config.cmd /bin/true --architecture amd64 --os linux &&
  lading copy oci:um:t umoci-img &&
  lading inspect --format json umoci-img >um.json &&
  jq -e ".layers | length == 1" um.json &&
  jq -e ".architecture == \"amd64\"" um.json
'

test_expect_success 'Docker >= 25 saves (blobs/sha256 layout with manifest.json) are read' '
  mkdir d25 && cd d25 && tar -xf ../saved.tar && test -d blobs/sha256 &&
  tar -cf ../d25.tar . && cd .. &&
  lading copy docker-archive:d25.tar d25 &&
  lading inspect d25 >/dev/null
'

test_expect_success 'the three dive fixtures import (kaniko gzip layers, arm64 OCI archive)' '
  lading copy docker-archive:$FIXTURES/dive/test-kaniko-image.tar kaniko &&
  lading copy oci-archive:$FIXTURES/dive/test-oci-gzip-image.tar buildkit &&
  lading inspect --format json buildkit | jq -e ".architecture == \"arm64\"" &&
  lading inspect --format json kaniko | jq -e ".layers[0].media_type | endswith(\"gzip\")"
'

test_expect_success 'inspect --raw prints the manifest bytes whose digest is the image digest' '
  lading inspect --raw dive:test >raw &&
  test "sha256:$(sha256sum <raw | cut -d" " -f1)" = "$(lading inspect --format json dive:test | jq -r .digest)" &&
  lading inspect --config dive:test | jq -e .rootfs.diff_ids
'

test_expect_success 'inspect reports compressed and uncompressed sizes and the history' '
  lading inspect --format json kaniko >k.json &&
  jq -e "[.layers[] | .uncompressed_size >= .size] | all" k.json &&
  jq -e ".history | length > 0" k.json
'

test_expect_success 'tag, resolve by digest prefix, rmi' '
  d=$(lading inspect --format json dive:test | jq -r .digest) &&
  lading tag ${d#sha256:} dive:other &&
  lading images | grep -q "dive:other" &&
  lading rmi dive:other &&
  ! lading images | grep -q "dive:other" &&
  test_must_fail lading rmi dive:other 2>err &&
  grep -q "no image named" err
'

test_expect_success 'an index copies whole; --platform picks one; a docker-archive takes one' '
  skopeo copy --all oci-archive:$FIXTURES/dive/test-oci-gzip-image.tar oci:multi:m >/dev/null &&
  lading copy --platform linux/arm64 oci:multi:m armonly &&
  lading inspect --format json armonly | jq -e ".architecture == \"arm64\""
'

test_done
